"""Every reproduction script on ``--preset smoke``: results in the schema, never overwritten, resumable after a kill.

The kill test sends SIGKILL at a random moment of a unit (a model of a sweep, a stage; the
moment is printed on failure) and checks that ``--resume`` ends with exactly the numbers of
the uninterrupted run: same ε, same accuracies, same FIDs.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tfdpfair.experiment import unit_path
from tfdpfair.reporting import validate_results
from tfdpfair.reporting.rundir import in_use

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((REPO / "reproductions").glob("*.py"))
SCRIPT_IDS = [s.stem for s in SCRIPTS]
SHARED_DATA = Path(os.environ.get("TFDPFAIR_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()  # conftest


def _data_args():
    return ["--data-dir", str(SHARED_DATA)] if SHARED_DATA.is_dir() else []


def _command(script, *args, data=True):
    return [sys.executable, str(script), *args, *(_data_args() if data else [])]


def _run(script, *args, data=True):
    return subprocess.run(_command(script, *args, data=data), capture_output=True, text=True, cwd=REPO, timeout=900)


def _numbers(out: Path) -> dict:
    results = json.loads((out / "results.json").read_text())
    return {"privacy": results["privacy"], "rows": results["rows"]}


def test_there_are_scripts():
    assert SCRIPTS, "no reproduction scripts found"


@pytest.mark.parametrize("script", SCRIPTS, ids=SCRIPT_IDS)
def test_smoke_run_writes_valid_results(script, uninterrupted):
    """The shared smoke run (made by executing the script's notebook: see ``uninterrupted`` in conftest.py)."""
    out, _, _ = uninterrupted(script)
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
    assert "| ours | paper |" in (out / "report.md").read_text()
    assert (out / "complete.json").is_file() and not in_use(out)
    assert not (out / "checkpoints").exists() and list((out / "units").rglob("*.json"))
    assert "Infinity" not in (out / "results.json").read_text()
    from tfdpfair.reporting.findings import Finding, effects

    for finding in results.get("findings", []):  # every stored claim compares rows the run has
        assert len(effects(Finding.from_dict(finding), results["rows"])) >= 1
    if script.stem in ("dp_dcgan", "dp_cgan", "neither_private_nor_fair"):
        assert results["findings"] and "## Findings (this seed)" in (out / "report.md").read_text()


def test_a_finished_run_resumes_to_the_same_numbers(uninterrupted, tmp_path):
    """Resuming a complete run recomputes nothing and rewrites the same numbers; on one script (the kill test below
    resumes every script's run past units stored earlier)."""
    reference, _, _ = uninterrupted(DEMEM)
    out = tmp_path / "out"
    shutil.copytree(reference, out)  # a run folder moves with its contents; the shared one stays as it was
    before = _numbers(out)
    resumed = _run(DEMEM, "--out", str(out), "--resume")  # the flags come from the run's config.json
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "done earlier" in resumed.stdout and ": started ==" not in resumed.stdout
    assert _numbers(out) == before


# What a unit stores outside OUT/units/ as it goes: demem's LiRA pools store each model as it finishes (a pool
# resumes model by model), in OUT/pools/<setting>.
UNIT_WORK = {"demem": lambda name: [f"pools/{name[len('pool/'):]}"] if name.startswith("pool/") else []}


def _units_in_finishing_order(run: Path) -> list:
    """``(name, seconds)`` of a finished run's stored units in the order they finished; a unit's seconds run from
    the previous unit's end (the first's from ``config.json``, so they include loading the data)."""
    previous = (run / "config.json").stat().st_mtime
    units = []
    for stamp, path in sorted((p.stat().st_mtime, p) for p in (run / "units").rglob("*.json")):
        units.append((str(path.relative_to(run / "units"))[:-len(".json")], stamp - previous))
        previous = stamp
    return units


def _kill_at_a_random_moment_of(unit: str, seconds: float, command: list, out: Path):
    """Run ``command``, SIGKILL it a random time into ``unit`` (its stored name; uniform over the first half of
    ``seconds``, from its ``== <name>: started ==`` line). Returns ``(where the kill landed, None)``, or, when the
    run ended before the kill (``seconds`` came from a run slowed by others beside it), ``(None, the unit's
    seconds in this run)``."""
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    started, began = threading.Event(), []

    def watch():  # also drains the pipe, so that the run never blocks on a full one
        for line in proc.stdout:
            line = line.strip()
            if line.startswith("== ") and line.endswith(": started ==") and \
                    str(unit_path(line[3:-len(": started ==")])) == unit:
                began.append(time.time())
                started.set()

    threading.Thread(target=watch, daemon=True).start()
    delay = random.Random(os.urandom(8)).uniform(0.0, 0.5 * seconds)
    where = f"SIGKILL {delay:.1f} s into unit {unit} (a {seconds:.0f} s unit in the run it was timed on)"
    try:
        while not started.wait(timeout=1.0):
            assert proc.poll() is None, f"the run ended (status {proc.returncode}) before unit {unit} started"
        time.sleep(delay)
        if proc.poll() is not None:
            assert proc.returncode == 0 and (out / "units" / (unit + ".json")).is_file(), \
                f"the resumed run failed (status {proc.returncode}) before the {where}"
            return None, (out / "units" / (unit + ".json")).stat().st_mtime - began[0]
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    if (out / "units" / (unit + ".json")).exists():
        where += " — after the unit had finished"
    elif not (out / "checkpoints" / unit).exists():
        where += " — before its first checkpoint"
    return where, None


def _copy_without(reference: Path, missing: list, out: Path, script: Path) -> None:
    """``out``: a copy of the finished ``reference`` run without the ``missing`` units and without its results."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(reference, out)
    for name, _ in missing:
        for suffix in (".json", ".npz"):
            (out / "units" / (name + suffix)).unlink(missing_ok=True)
        for folder in UNIT_WORK.get(script.stem, lambda _: [])(name):
            shutil.rmtree(out / folder)
    for name in ("complete.json", "results.json", "results.csv", "report.md"):
        (out / name).unlink()
    shutil.rmtree(out / "figures")


@pytest.mark.parametrize("script", SCRIPTS, ids=SCRIPT_IDS)
def test_a_run_killed_at_a_random_moment_resumes_to_the_uninterrupted_numbers(script, uninterrupted, tmp_path):
    """The shared smoke run, copied without its last units (a random number of them, up to half its time) and
    without its results, is resumed and killed at a random moment of the first missing unit, then resumed to the
    end: the numbers equal the uninterrupted run's. Killing a whole fresh run at a random moment costs several
    times as much; it is tested on one script below. The noise and sampling streams' own resume tests are in
    tests/privacy and tests/training."""
    reference, _, _ = uninterrupted(script)
    units = _units_in_finishing_order(reference)
    span = sum(seconds for _, seconds in units)
    suffixes = [k for k in range(1, len(units))
                if sum(s for _, s in units[-k:]) <= 0.5 * span and units[-k][1] >= 1.0] or [1]
    missing = units[-random.Random(os.urandom(8)).choice(suffixes):]
    out = tmp_path / "killed"
    unit, seconds = missing[0]
    _copy_without(reference, missing, out, script)
    where, measured = _kill_at_a_random_moment_of(unit, seconds, _command(script, "--out", str(out), "--resume"), out)
    if where is None:  # the shared run was timed beside other work and the unit is shorter here: once more, on its
        assert _numbers(out) == _numbers(reference), "a resume that was not killed"  # time in this run
        _copy_without(reference, missing, out, script)
        where, _ = _kill_at_a_random_moment_of(unit, measured, _command(script, "--out", str(out), "--resume"), out)
        assert where is not None, f"the run ended twice before the kill in {unit} ({seconds:.0f}, {measured:.0f} s)"
    resumed = _run(script, "--out", str(out), "--resume")
    assert resumed.returncode == 0, where + "\n" + resumed.stderr[-3000:]
    assert _numbers(out) == _numbers(reference), where
    assert (out / "complete.json").is_file() and list((out / "figures").glob("*.png")), where
    print(where, "; then:", [line for line in resumed.stdout.splitlines()
                             if line.startswith("== ") and "done earlier" not in line][:3])


def _kill_a_fresh_run(script: Path, out: Path, seconds: float):
    """Start ``script``'s smoke run into ``out`` and SIGKILL it at a random moment of its first 70 % (``seconds``:
    how long a run takes); returns where, or ``(None, the run's seconds)`` if it ended first."""
    kill_after = random.Random(os.urandom(8)).uniform(3.0, max(4.0, 0.7 * seconds))
    start = time.monotonic()
    proc = subprocess.Popen(_command(script, "--preset", "smoke", "--out", str(out)), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=kill_after)
        assert proc.returncode == 0, f"the run failed (status {proc.returncode}) before the kill"
        return None, time.monotonic() - start
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return f"SIGKILL after {kill_after:.1f} s of a {seconds:.0f} s run", None


def test_a_fresh_run_killed_at_a_random_moment_resumes_to_the_uninterrupted_numbers(uninterrupted, tmp_path):
    """A whole run killed anywhere (loading the data, between units, writing the report), on the cheapest script."""
    script = DP_CGAN
    reference, seconds, _ = uninterrupted(script)
    out = tmp_path / "killed"
    where, measured = _kill_a_fresh_run(script, out, seconds)
    if where is None:  # the shared run (in a kernel, beside other work) was slower than this one: once more, on this
        assert _numbers(out) == _numbers(reference), "a run that was not killed"  # run's time
        shutil.rmtree(out)
        where, _ = _kill_a_fresh_run(script, out, measured)
        assert where is not None, f"the run ended twice before the kill ({seconds:.0f}, {measured:.0f} s runs)"
    resumed = _run(script, "--out", str(out), "--resume")
    if not (out / "config.json").is_file():  # killed before the run wrote anything: nothing to resume, said so
        assert resumed.returncode == 2 and "holds no run to resume" in resumed.stderr, where
        return
    assert resumed.returncode == 0, where + "\n" + resumed.stderr[-3000:]
    assert _numbers(out) == _numbers(reference), where


DP_DCGAN = REPO / "reproductions" / "dp_dcgan.py"
DP_CGAN = REPO / "reproductions" / "dp_cgan.py"
NPNF = REPO / "reproductions" / "neither_private_nor_fair.py"
DEMEM = REPO / "reproductions" / "demem.py"


def test_dp_dcgan_measures_every_model_after_each_epoch_and_its_last_epoch_is_the_final_evaluation(uninterrupted):
    out, _, _ = uninterrupted(DP_DCGAN)
    results = json.loads((out / "results.json").read_text())
    table = next(r["table"] for r in results["rows"] if r["table"].startswith("Quality during training"))
    trace = {(json.dumps(r["setting"], sort_keys=True), r["metric"]): r["ours"] for r in results["rows"]
             if r["table"] == table}
    finals = [r for r in results["rows"] if r["metric"] in ("judge_fid", "confident", "class_kl")
              and r["table"] != table]
    assert len(finals) == 3 * 3  # ε = 2, 8 and the non-private model (smoke)
    for row in finals:
        epochs = {e: trace.get((json.dumps(row["setting"] | {"epoch": e}, sort_keys=True), row["metric"]))
                  for e in (1, 2)}  # smoke: 2 epochs, both reported
        assert None not in epochs.values(), row
        assert epochs[2] == pytest.approx(row["ours"], rel=1e-6), row  # the same digits, the same generator
    assert all((out / "figures" / f"{name}.png").is_file()
               for name in ("judge_fid_per_epoch", "judge_confident_share_per_epoch", "judge_class_kl_per_epoch",
                            "judge_class_shares"))
    assert all(r["ours"] >= 0 for r in finals if r["metric"] == "class_kl")
    assert not any("class KL" in f["claim"] for f in results["findings"])  # a diagnostic, not the paper's claim


def test_ctrl_c_prints_one_line_saying_how_to_resume(tmp_path):
    out = tmp_path / "o"
    proc = subprocess.Popen(_command(DP_DCGAN, "--preset", "smoke", "--out", str(out)), cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in proc.stdout:  # wait until the run is training
        if line.startswith("== classifier"):
            break
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted: "), err
    assert f"--out {out} --resume" in lines[0]


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_dry_run_writes_the_privacy_plan_only(script, tmp_path):
    out = tmp_path / "out"
    proc = _run(script, "--preset", "smoke", "--dry-run", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    validate_results(results)
    assert results["rows"] == [] and results["privacy"]
    assert not (out / "checkpoints").exists() and not (out / "complete.json").exists()
    assert "Privacy plan" in proc.stdout


def test_a_second_run_never_overwrites_the_first(tmp_path):
    """Every script claims its folder through experiment.run_script (tests/test_experiment.py tests the claim);
    one script end to end here, the one whose dry run is fastest."""
    out = tmp_path / "out"
    assert _run(DEMEM, "--preset", "smoke", "--dry-run", "--out", str(out)).returncode == 0
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    again = _run(DEMEM, "--preset", "smoke", "--dry-run", "--out", str(out))
    assert again.returncode == 0, again.stderr[-3000:]
    assert (tmp_path / "out-run2" / "results.json").exists(), "a second run must not overwrite the first"
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == first


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
@pytest.mark.parametrize("args,message", [
    (["--set", "no_such_key=1"], "unknown key"),
    (["--preset", "huge"], "invalid choice"),
    (["--set", "dataset=imagenet"], "unknown dataset 'imagenet'"),
    (["--set", "data_source=web"], "unknown data_source 'web'"),
])
def test_bad_flags_exit_2_with_one_line_and_nothing_else(script, args, message, tmp_path):
    proc = _run(script, *args, "--out", str(tmp_path / "o"), data=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr  # no TensorFlow chatter before the error
    assert not (tmp_path / "o").exists()


def test_neither_private_nor_fair_paper_plan_prints_the_papers_epsilons(tmp_path):
    proc = _run(NPNF, "--preset", "paper", "--dry-run", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    privacy = json.loads((tmp_path / "results.json").read_text())["privacy"]
    got = {p["noise_multiplier"]: p["epsilon_classic"] for p in privacy}
    paper = {1.5: 1.15, 0.7: 4.98, 0.5: 16.2}  # Farrand et al. (2020), §4
    assert set(got) == set(paper)
    assert {z: float(f"{e:.3g}") for z, e in got.items()} == paper  # both stacks (tfdpfair.privacy.sampled_gaussian)
    assert all(p["steps"] == 45_000 and p["delta"] == 1e-6 for p in privacy)
    assert "paper ε 4.98" in proc.stdout


def test_neither_private_nor_fair_says_when_the_data_cannot_supply_the_subsets(tmp_path):
    if not (SHARED_DATA / "celeba.npz").is_file():
        pytest.skip(f"needs celeba.npz in {SHARED_DATA}")
    proc = _run(NPNF, "--preset", "smoke", "--set", "train_size=7000", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot supply the request" in proc.stderr and "needs" in proc.stderr


def test_neither_private_nor_fair_checks_its_sweep_is_consistent(tmp_path):
    proc = _run(NPNF, "--preset", "smoke", "--dry-run", "--set", "majority_shares=[0.8]", "--out", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "table1_share=0.9 must be one of majority_shares [0.8]" in proc.stderr


GT = REPO / "reproductions" / "generalization_tradeoffs.py"


def test_generalization_tradeoffs_checks_its_stages_have_their_datasets(tmp_path):
    proc = _run(GT, "--preset", "smoke", "--dry-run", "--set", 'stages=["individual"]', "--set",
                'variants=["unbiased"]', "--set", 'individual_variants=["skewed"]', "--out", str(tmp_path / "a"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "individual_variants that are also in variants" in proc.stderr
    proc = _run(GT, "--preset", "smoke", "--dry-run", "--set", 'stages=["skew"]', "--set", 'variants=["skewed"]',
                "--out", str(tmp_path / "b"))
    assert proc.returncode == 2 and "compare with the unbiased dataset" in proc.stderr
    proc = _run(GT, "--preset", "smoke", "--dry-run", "--set", f"pretrained_weights={tmp_path / 'no.npz'}",
                "--out", str(tmp_path / "c"))
    assert proc.returncode == 2 and "is not a file" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()
