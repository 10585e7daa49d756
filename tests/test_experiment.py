import dataclasses
import time
from typing import Optional

import numpy as np
import pytest

from tfdpfair import experiment
from tfdpfair.experiment import ConfigError, apply_overrides
from tfdpfair.privacy import DPConfig
from tfdpfair.reporting.rundir import in_use


@dataclasses.dataclass(frozen=True)
class Inner:
    rate: float = 0.1
    name: str = "a"


@dataclasses.dataclass(frozen=True)
class Outer:
    epochs: int = 3
    limit: Optional[int] = None
    flag: bool = False
    sizes: tuple = (1, 2)
    inner: Inner = Inner()
    dp: DPConfig = DPConfig()


def test_overrides_parse_by_field_type():
    cfg = apply_overrides(Outer(), ["epochs=5", "limit=10", "flag=true", "sizes=[3,4]", "inner.rate=0.5",
                                    "dp.noise_multiplier=2", "dp.target_epsilon=none"])
    assert cfg == Outer(epochs=5, limit=10, flag=True, sizes=(3, 4), inner=Inner(rate=0.5),
                        dp=DPConfig(noise_multiplier=2.0))
    assert apply_overrides(cfg, ["limit=None"]).limit is None


@pytest.mark.parametrize("assignment,message", [
    ("epoch=5", "unknown key 'epoch'; known: dp, epochs"),
    ("epochs=five", "expected int"),
    ("flag=maybe", "expected true or false"),
    ("inner=3", "set one of its fields instead"),
    ("epochs.x=1", "has no sub-keys"),
    ("dp.delta=2", "delta must be in (0, 1)"),
    ("epochs", "key=value"),
])
def test_bad_overrides_raise_config_errors(assignment, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        apply_overrides(Outer(), [assignment])


def _toy_plan(config, ctx):
    from tfdpfair.reporting import Results

    return Results(paper=ctx.slug, preset=ctx.preset, seed=ctx.seed, data_source="none")


def test_run_script_returns_the_output_folder_and_raises_exit_2_on_bad_flags(tmp_path, capsys):
    from tfdpfair.experiment import run_script

    kw = dict(slug="toy", description="toy", presets={p: Outer() for p in ("smoke", "quick", "paper")},
              plan=_toy_plan, run=None)
    out = run_script(**kw, argv=["--preset", "smoke", "--dry-run", "--out", str(tmp_path / "o")])
    assert out == tmp_path / "o" and (out / "results.json").exists()
    with pytest.raises(SystemExit) as exc:
        run_script(**kw, argv=["--preset", "smoke", "--set", "epoch=3", "--out", str(tmp_path / "p")])
    assert exc.value.code == 2
    assert "unknown key 'epoch'" in capsys.readouterr().err


# -- the run around a script: units, resume, interruption ---------------------------------------------------------
CALLS = []


def _toy_run(config, ctx):
    from tfdpfair.reporting import ResultRow, Results

    from tfdpfair.errors import InputError

    if config.epochs < 1:
        raise InputError("epochs must be >= 1")  # a failure after the folder was claimed
    results = Results(paper=ctx.slug, preset=ctx.preset, seed=ctx.seed, data_source="none")
    for i in range(config.epochs):
        def work(unit, i=i):
            CALLS.append(i)
            if config.flag and i == 1:
                raise KeyboardInterrupt  # as Ctrl-C in the middle of the second unit
            import numpy as np
            return {"value": float(ctx.streams(f"u{i}").key("noise")[0] % 1000), "array": np.arange(3) * i}
        out = ctx.unit(f"part/{i}", work)
        results.rows.append(ResultRow("T", {"i": i}, "value", out["value"], None))
    return __import__("tfdpfair.experiment", fromlist=["RunOutput"]).RunOutput(results=results, title="toy")


TOY = dict(slug="toy", description="toy", presets={p: Outer() for p in ("smoke", "quick", "paper")}, plan=_toy_plan,
           run=_toy_run)


def _main(argv, capsys):
    from tfdpfair.experiment import run_script

    try:
        out = run_script(**TOY, argv=argv)
        code = 0
    except SystemExit as exit_:
        out, code = None, exit_.code
    return code, out, capsys.readouterr()


def test_units_are_stored_and_a_resume_skips_them(tmp_path, capsys):
    CALLS.clear()
    out = tmp_path / "o"
    code, _, io = _main(["--preset", "smoke", "--out", str(out), "--set", "flag=true"], capsys)
    assert code == 130 and CALLS == [0, 1]
    assert io.err.count("\n") == 1 and io.err.startswith("interrupted: 1 finished unit(s)")
    assert f"--out {out} --resume" in io.err and "Traceback" not in io.err
    assert (out / "units" / "part" / "0.json").is_file() and not (out / "complete.json").exists()
    CALLS.clear()
    code, final, io = _main(["--out", str(out), "--resume", "--set", "flag=true", "--set", "flag=false"], capsys)
    assert code == 2 and "the config differs" in io.err  # a resume keeps the run's own config
    code, final, io = _main(["--out", str(out), "--resume"], capsys)  # flags come from config.json
    assert code == 130 and CALLS == [1]  # still the run's own --set flag=true: unit 0 is not redone
    (out / "config.json").write_text((out / "config.json").read_text().replace('"flag=true"', '"flag=false"')
                                     .replace('"flag": true', '"flag": false'))
    CALLS.clear()
    code, final, io = _main(["--out", str(out), "--resume"], capsys)
    assert code == 0 and CALLS == [1, 2] and (final / "complete.json").is_file()
    fresh = tmp_path / "fresh"
    assert _main(["--preset", "smoke", "--out", str(fresh)], capsys)[0] == 0
    import json
    assert json.loads((final / "results.json").read_text())["rows"] == json.loads(
        (fresh / "results.json").read_text())["rows"]


@pytest.mark.parametrize("flags,message", [(["--seed", "1"], "--seed 1 differs"),
                                           (["--preset", "quick"], "--preset quick differs"),
                                           (["--data-dir", "."], "--data-dir . differs")])
def test_resume_refuses_other_flags(flags, message, tmp_path, capsys):
    out = tmp_path / "o"
    assert _main(["--preset", "smoke", "--out", str(out)], capsys)[0] == 0
    code, _, io = _main(["--out", str(out), "--resume", *flags], capsys)
    assert code == 2 and message in io.err and io.err.count("\n") == 1


def test_dry_run_leaves_no_completion_marker_and_a_run_does(tmp_path, capsys):
    code, out, _ = _main(["--preset", "smoke", "--dry-run", "--out", str(tmp_path / "d")], capsys)
    assert code == 0 and (out / "results.json").is_file() and not (out / "complete.json").exists()
    code, out, _ = _main(["--preset", "smoke", "--out", str(tmp_path / "r")], capsys)
    assert code == 0 and (out / "complete.json").is_file() and not in_use(out)


def test_a_bad_data_dir_fails_before_anything_is_written(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for data_dir, message in ((tmp_path / "missing", "does not exist"), (tmp_path / "empty", "is empty")):
        code, _, io = _main(["--preset", "smoke", "--data-dir", str(data_dir), "--out", str(tmp_path / "o")], capsys)
        assert code == 2 and message in io.err and io.err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_overwrite_keeps_the_old_run_until_the_new_one_succeeds(tmp_path, capsys):
    out = tmp_path / "o"
    assert _main(["--preset", "smoke", "--out", str(out)], capsys)[0] == 0
    (out / "model_stale.keras").write_text("from the old run")
    old = (out / "results.json").read_text()
    code, _, io = _main(["--preset", "smoke", "--out", str(out), "--overwrite", "--set", "epochs=0"], capsys)
    assert code == 2 and (out / "results.json").read_text() == old  # the failed new run changed nothing
    CALLS.clear()
    code, final, _ = _main(["--preset", "smoke", "--out", str(out), "--overwrite", "--set", "epochs=2"], capsys)
    assert code == 0 and final == out and CALLS == [0, 1]
    assert not (out / "model_stale.keras").exists() and (out / "complete.json").is_file()
    assert not (tmp_path / "o.overwrite").exists()
    assert _main(["--preset", "smoke", "--out", str(out), "--overwrite", "--dry-run"], capsys)[0] == 2


def test_two_dry_runs_started_together_write_two_folders(tmp_path):
    import subprocess
    import sys

    code = ("from tests.test_experiment import TOY; from tfdpfair.experiment import run_script; "
            f"print(run_script(**TOY, argv=['--preset', 'smoke', '--dry-run', '--out', r'{tmp_path / 'o'}']))")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120)[0].strip().splitlines()[-1] for p in procs]
    assert all(p.returncode == 0 for p in procs) and len(set(outs)) == 3, outs


def _interrupt_swallowed_by_a_weakref_callback():
    """SIGINT delivered while a weakref callback runs: CPython prints "Exception ignored" and carries on."""
    import gc
    import signal as signal_module
    import weakref

    class Thing:
        pass

    thing = Thing()
    weakref.finalize(thing, signal_module.raise_signal, signal_module.SIGINT)  # the handler runs inside it
    del thing
    gc.collect()


def test_an_interrupt_lost_in_a_weakref_callback_is_raised_again():
    import signal as signal_module

    interrupts = experiment._Interrupts(repeat=0.2)
    previous = interrupts.install()
    try:
        with pytest.raises(KeyboardInterrupt):
            _interrupt_swallowed_by_a_weakref_callback()
            deadline = time.time() + 5
            while time.time() < deadline:  # without the repeat, nothing would interrupt this loop
                time.sleep(0.01)
        interrupts.acknowledge()
        time.sleep(0.5)  # no further repeats once handled
    finally:
        interrupts.restore(previous)
    assert interrupts.handled and interrupts.pending is None
    assert signal_module.getsignal(signal_module.SIGINT) is not interrupts.handler


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the lost interrupt
def test_python_alone_loses_that_interrupt():
    """The premise of the test above: with the default handler the interrupt does not reach the caller."""
    import signal as signal_module

    if signal_module.getsignal(signal_module.SIGINT) is not signal_module.default_int_handler:
        pytest.skip("this process does not use Python's default SIGINT handler")
    _interrupt_swallowed_by_a_weakref_callback()  # no KeyboardInterrupt escapes


def test_unit_names_with_dots_are_distinct_units(tmp_path):
    # "z=0.5" and "z=0.7" (and "eps0.9_sam0" vs "eps0.9_sam0.05") must not share a stored file: a Path
    # "suffix" (".5", ".05_onion20") is part of the name, not an extension to replace
    from tfdpfair.experiment import RunContext

    ctx = RunContext(slug="toy", preset="smoke", out=tmp_path, data_dir=None, seed=0, resume=False)
    names = ["runs/z=0.5", "runs/z=0.7", "runs/z=0", "m/ema0.9_sam0", "m/ema0.9_sam0.05", "m/ema0.9_sam0.05_onion20"]
    for i, name in enumerate(names):
        assert ctx.unit(name, lambda unit, i=i: {"i": i, "a": np.arange(i + 1)})["i"] == i
    for i, name in enumerate(names):  # stored: loaded back without calling fn
        stored = ctx.unit(name, lambda unit: pytest.fail(f"{name} was not stored"))
        assert stored["i"] == i and len(stored["a"]) == i + 1
    assert ctx.completed_units() == sorted(names)


def test_a_run_folder_with_units_of_the_old_format_is_refused(tmp_path):
    from tfdpfair.errors import InputError
    from tfdpfair.experiment import RunContext

    ctx = RunContext(slug="toy", preset="smoke", out=tmp_path, data_dir=None, seed=0, resume=True)
    (tmp_path / "units" / "runs").mkdir(parents=True)
    (tmp_path / "units" / "runs" / "z=0.json").write_text("{}")  # format 1: "z=0.5" and "z=0.7" both went here
    with pytest.raises(InputError, match="older tfdpfair"):
        ctx.unit("runs/z=0.5", lambda unit: pytest.fail("must not run"))
    (tmp_path / "units" / "FORMAT").write_text("1\n")
    with pytest.raises(InputError, match="unit format '1'"):
        ctx.unit("runs/z=0.5", lambda unit: pytest.fail("must not run"))
    fresh = RunContext(slug="toy", preset="smoke", out=tmp_path / "new", data_dir=None, seed=0, resume=False)
    assert fresh.unit("runs/z=0.5", lambda unit: {"ok": 1}) == {"ok": 1}
    assert (tmp_path / "new" / "units" / "FORMAT").read_text().strip() == "2"


def test_a_run_stored_before_a_config_field_existed_resumes_and_one_with_another_value_does_not(tmp_path, capsys):
    """A field added to the code since the run started (here ``inner.name``, ``flag``) counts as equal at its default."""
    import json

    out = tmp_path / "o"
    assert _main(["--preset", "smoke", "--out", str(out), "--set", "flag=true"], capsys)[0] == 130
    stored = json.loads((out / "config.json").read_text())
    del stored["config"]["inner"]["name"]  # as an older version of the code wrote it
    (out / "config.json").write_text(json.dumps(stored))
    CALLS.clear()
    code, _, io = _main(["--out", str(out), "--resume"], capsys)
    assert code == 130 and CALLS == [1], io.err  # accepted (and still the run's own flag=true)
    stored["config"]["inner"]["rate"] = 0.7  # a field that did exist, with another value
    (out / "config.json").write_text(json.dumps(stored))
    code, _, io = _main(["--out", str(out), "--resume"], capsys)
    assert code == 2 and "the config differs" in io.err


# -- --seeds: one run per seed, then the report over the seeds ------------------------------------------------
INTERRUPT_AT = [None]


def _toy_findings_run(config, ctx):
    from tfdpfair.reporting import ResultRow, Results
    from tfdpfair.reporting.findings import beats_all

    results = Results(paper=ctx.slug, preset=ctx.preset, seed=ctx.seed, data_source="none")
    for i in range(config.epochs):
        out = ctx.unit(f"part/{i}", lambda unit, i=i: CALLS.append((ctx.seed, i)) or {"value": 10.0 * i + ctx.seed})
        results.rows.append(ResultRow("T", {"i": i}, "value", out["value"], None))
        if (ctx.seed, i) == INTERRUPT_AT[0]:
            raise KeyboardInterrupt  # Ctrl-C inside the second seed's run
    results.findings.append(beats_all("the last part is largest", table="T", metric="value",
                                      winner={"i": config.epochs - 1}, others=[{"i": 0}],
                                      higher_is_better=True).as_dict())
    return experiment.RunOutput(results=results, title="toy")


def test_seeds_run_one_folder_per_seed_resume_after_an_interrupt_and_judge_findings_over_seeds(tmp_path, capsys):
    import json

    from tfdpfair.experiment import run_script

    kw = dict(TOY, run=_toy_findings_run)

    def main(argv):
        try:
            return 0, run_script(**kw, argv=argv), capsys.readouterr()
        except SystemExit as exit_:
            return exit_.code, None, capsys.readouterr()

    CALLS.clear()
    out = tmp_path / "s"
    INTERRUPT_AT[0] = (1, 1)
    code, _, io = main(["--preset", "smoke", "--seeds", "0,1,2", "--out", str(out)])
    assert code == 130 and CALLS == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    assert f"--seeds 0,1,2 --out {out} --resume" in io.err
    assert (out / "seed0" / "complete.json").is_file() and not (out / "seed1" / "complete.json").exists()
    code, _, io = main(["--seeds", "0,1", "--out", str(out), "--resume"])
    assert code == 2 and "--seeds [0, 1] differs" in io.err
    INTERRUPT_AT[0] = None
    CALLS.clear()
    code, final, io = main(["--seeds", "0,1,2", "--out", str(out), "--resume"])
    assert code == 0 and final == out and CALLS == [(1, 2), (2, 0), (2, 1), (2, 2)]  # seed 0 reused, seed 1 resumed
    report = (out / "report.md").read_text()
    assert "3 seeds (0, 1, 2)" in report and "| i=0 | value | 1 ± 1 | 1 | 0 | 2 | 3 |" in report
    summary = json.loads((out / "seeds.json").read_text())
    finding, = summary["findings"]
    assert finding["verdict"] == "reproduced" and finding["seeds_holding"] == 3 and finding["mean_effects"] == [20.0]
    assert (out / "complete.json").is_file() and "## Findings over seeds" in io.out


@pytest.mark.parametrize("flags,message", [(["--seeds", "0"], "at least two distinct seeds"),
                                           (["--seeds", "0,0"], "at least two distinct seeds"),
                                           (["--seeds", "a,b"], "comma-separated seeds"),
                                           (["--seeds", "0,1", "--seed", "3"], "--seeds and --seed exclude"),
                                           (["--seeds", "0,1", "--dry-run"], "--seeds and --dry-run exclude"),
                                           (["--seeds", "0,1", "--resume"], "holds no run over seeds")])
def test_bad_seeds_flags_exit_2_with_one_line(flags, message, tmp_path, capsys):
    code, _, io = _main(["--preset", "smoke", "--out", str(tmp_path / "o"), *flags], capsys)
    assert code == 2 and message in io.err and io.err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def _toy_failing_run(config, ctx):
    if ctx.seed == 1:
        raise RuntimeError("a bug in seed 1")  # not an InputError: a traceback, as any bug
    return _toy_findings_run(config, ctx)


def test_a_failure_in_one_seed_keeps_the_finished_seeds_and_a_half_claimed_seed_is_claimed_again(tmp_path, capsys):
    from tfdpfair.experiment import run_script

    INTERRUPT_AT[0] = None
    out = tmp_path / "s"
    with pytest.raises(RuntimeError, match="a bug in seed 1"):
        run_script(**dict(TOY, run=_toy_failing_run), argv=["--preset", "smoke", "--seeds", "0,1", "--out", str(out)])
    assert (out / "seed0" / "complete.json").is_file() and (out / "config.json").is_file()
    assert not in_use(out)
    (out / "seed1").mkdir(exist_ok=True)
    for child in (out / "seed1").iterdir():  # as a run killed right after claiming its folder: only the lock
        if child.name != ".lock":
            __import__("shutil").rmtree(child) if child.is_dir() else child.unlink()
    (out / "seed1" / ".lock").touch()
    CALLS.clear()
    final = run_script(**dict(TOY, run=_toy_findings_run), argv=["--seeds", "0,1", "--out", str(out), "--resume"])
    assert final == out and CALLS == [(1, 0), (1, 1), (1, 2)] and not (tmp_path / "s" / "seed1-run2").exists()
    assert (out / "seed1" / "complete.json").is_file() and "Findings over seeds" in (out / "report.md").read_text()
    capsys.readouterr()
