"""Shared fixtures: the offline datasets in ../shared/data (tests skip, with a reason, without them)."""
import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Decoded JPEG datasets (tfdpfair.data.jpeg) are cached for all test processes and the scripts they start, in a
# folder of the system's temporary space rather than the user's cache (the tests' own small files would pile up).
os.environ.setdefault("TFDPFAIR_CACHE_DIR", str(Path(tempfile.gettempdir()) / f"tfdpfair-tests-{os.getuid()}"))
# Under pytest-xdist each test process (and the scripts it starts) gets its share of the cores as TensorFlow's
# thread pools: by default each would use all of them, and their spinning threads slow one another (two DCGAN
# smoke runs side by side on 2 cores: 104 and 127 s with the default pools, 92 and 117 s with one thread each).
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", _threads)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", _threads)

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("TFDPFAIR_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real .npz datasets beside the repo (or $TFDPFAIR_SHARED_DATA)."""
    if not (SHARED_DATA / "mnist.npz").is_file():
        pytest.skip(f"real datasets not found in {SHARED_DATA} (set TFDPFAIR_SHARED_DATA to their folder)")
    return SHARED_DATA


# The slowest tests run first. `make test` hands tests to its two processes one at a time (--maxschedchunk=1; the
# default sends each process a quarter of the suite in one consecutive block): the first process gets the first
# two, the second the next two, then each the next test as it finishes one. So the four scripts' shared smoke runs
# (tests/test_reproductions.py::uninterrupted) start at once, the largest paired with the smallest; the notebook
# runs, which read none of them, come next; by the time a test that reads a smoke run starts, that run has
# finished, so no process waits on the other's lock; the quick tests even out the end. Any other order (or -n 0)
# gives the same results, only later.
_SCRIPTS = ("neither_private_nor_fair", "dp_cgan", "generalization_tradeoffs", "dp_dcgan")
SLOWEST_FIRST = tuple(
    f"{test}[{script}]" for test in (
        "test_reproductions.py::test_smoke_run_writes_valid_results",
        "test_notebooks.py::test_notebook_runs_on_smoke_in_a_kernel",
        "test_reproductions.py::test_a_run_killed_at_a_random_moment_resumes_to_the_uninterrupted_numbers",
        "test_reproductions.py::test_a_finished_run_resumes_to_the_same_numbers",
    ) for script in _SCRIPTS) + (
    "test_membership.py::test_each_attack_equals_a_direct_tf_privacy_call[rf]",
    "test_cli_property.py::test_random_overrides_exit_0_or_2_with_one_line[dp_dcgan]",
    "test_cli_attack.py::test_attack_prints_the_table_and_matches_the_library",
    "test_multi_device.py::test_two_replicas_compute_the_same_clipped_sum_as_one_device",
)


def pytest_collection_modifyitems(config, items):
    place = {suffix: i for i, suffix in enumerate(SLOWEST_FIRST)}

    def rank(item):
        return next((i for suffix, i in place.items() if item.nodeid.endswith(suffix)), len(place))

    items.sort(key=rank)  # stable: the rest keep their collection order
