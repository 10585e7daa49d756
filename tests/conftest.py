"""Shared fixtures: the offline datasets in ../shared/data (tests skip, with a reason, without them)."""
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("TFDPFAIR_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real .npz datasets beside the repo (or $TFDPFAIR_SHARED_DATA)."""
    if not (SHARED_DATA / "mnist.npz").is_file():
        pytest.skip(f"real datasets not found in {SHARED_DATA} (set TFDPFAIR_SHARED_DATA to their folder)")
    return SHARED_DATA
