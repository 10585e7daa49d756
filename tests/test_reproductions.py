"""Every reproduction script runs end to end on ``--preset smoke`` and writes results.json in the schema."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tfdpfair.reporting import validate_results

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((REPO / "reproductions").glob("*.py"))


def _run(script, *args):
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=REPO,
                          timeout=600)


def test_there_are_scripts():
    assert SCRIPTS, "no reproduction scripts found"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_smoke_run_writes_valid_results(script, tmp_path):
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
