import dataclasses
from typing import Optional

import pytest

from tfdpfair.experiment import ConfigError, apply_overrides
from tfdpfair.privacy import DPConfig


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
