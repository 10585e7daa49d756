"""Every reproduction script runs end to end on ``--preset smoke`` and writes results.json in the schema."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfdpfair.reporting import validate_results

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((REPO / "reproductions").glob("*.py"))
SHARED_DATA = Path(os.environ.get("TFDPFAIR_SHARED_DATA", REPO.parent / "shared" / "data"))  # as in conftest.py


# Scripts whose smoke preset needs a real dataset file (there is no embedded CelebA).
NEEDS_DATA = {"neither_private_nor_fair": "celeba.npz"}


def _data_args():
    return ["--data-dir", str(SHARED_DATA)] if SHARED_DATA.is_dir() else []


def _skip_without_data(script):
    needed = NEEDS_DATA.get(script.stem)
    if needed and not (SHARED_DATA / needed).is_file():
        pytest.skip(f"{script.stem} smoke needs {needed} in {SHARED_DATA} (set TFDPFAIR_SHARED_DATA)")


def _run(script, *args):
    return subprocess.run([sys.executable, str(script), *args, *_data_args()], capture_output=True, text=True,
                          cwd=REPO, timeout=900)


def test_there_are_scripts():
    assert SCRIPTS, "no reproduction scripts found"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_smoke_run_writes_valid_results(script, tmp_path):
    _skip_without_data(script)
    proc = _run(script, "--preset", "smoke", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "out"
    results = json.loads((out / "results.json").read_text())
    validate_results(results)
    assert results["paper"] == script.stem and results["preset"] == "smoke"
    assert results["rows"] and all(r["ours"] is not None for r in results["rows"])
    assert any(r["paper"] is not None for r in results["rows"])
    assert results["privacy"] and results["privacy"][0]["steps"] > 0
    assert json.loads((out / "config.json").read_text())["preset"] == "smoke"
    for name in ("results.csv", "report.md"):
        assert (out / name).stat().st_size > 0
    assert list((out / "figures").glob("*.png"))
    report = (out / "report.md").read_text()
    assert "| ours | paper |" in report

    again = _run(script, "--preset", "smoke", "--out", str(out))
    assert again.returncode == 0, again.stderr[-3000:]
    assert (tmp_path / "out-run2" / "results.json").exists(), "a second run must not overwrite the first"

    resumed = _run(script, "--preset", "smoke", "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((out / "results.json").read_text())["privacy"] == results["privacy"]


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_dry_run_writes_the_privacy_plan_only(script, tmp_path):
    proc = _run(script, "--preset", "smoke", "--dry-run", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    validate_results(results)
    assert results["rows"] == [] and results["privacy"]
    assert not (tmp_path / "checkpoints").exists()
    assert "Privacy plan" in proc.stdout


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
@pytest.mark.parametrize("args,message", [
    (["--set", "no_such_key=1"], "unknown key"),
    (["--preset", "huge"], "invalid choice"),
])
def test_bad_flags_exit_2_with_one_line(script, args, message, tmp_path):
    proc = _run(script, *args, "--out", str(tmp_path))
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if line.startswith("error:")]) == 1


NPNF = REPO / "reproductions" / "neither_private_nor_fair.py"


def test_neither_private_nor_fair_paper_plan_prints_the_papers_epsilons(tmp_path):
    proc = _run(NPNF, "--preset", "paper", "--dry-run", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    privacy = json.loads((tmp_path / "results.json").read_text())["privacy"]
    got = {p["noise_multiplier"]: float(f"{p['epsilon_classic']:.3g}") for p in privacy}
    assert got == {1.5: 1.15, 0.7: 4.98, 0.5: 16.2}  # Farrand et al. (2020), §4
    assert all(p["steps"] == 45_000 and p["delta"] == 1e-6 for p in privacy)
    assert "paper ε 4.98" in proc.stdout


def test_neither_private_nor_fair_says_when_the_data_cannot_supply_the_subsets(tmp_path):
    _skip_without_data(NPNF)
    proc = _run(NPNF, "--preset", "smoke", "--set", "train_size=7000", "--out", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot supply the request" in proc.stderr and "needs" in proc.stderr


def test_neither_private_nor_fair_checks_its_sweep_is_consistent(tmp_path):
    proc = _run(NPNF, "--preset", "smoke", "--dry-run", "--set", "majority_shares=[0.8]", "--out", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "table1_share=0.9 must be one of majority_shares [0.8]" in proc.stderr
