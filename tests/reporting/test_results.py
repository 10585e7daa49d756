import json

import pytest

from tfdpfair.reporting import ResultRow, Results, report_markdown, validate_results


def _results():
    return Results(
        paper="dp_dcgan", preset="quick", seed=0, data_source="embedded:mnist5k",
        privacy=[{"setting": "sigma=1.3", "epsilon": 0.94, "epsilon_classic": 1.18, "delta": 1e-5,
                  "noise_multiplier": 1.3, "sampling_rate": 0.004167, "steps": 3600, "accounting": "rdp"}],
        rows=[ResultRow("Classifier", {"epsilon": 1.18}, "test_accuracy", 0.951, 0.95),
              ResultRow("Classifier", {"model": "non-private"}, "test_accuracy", 0.99, None)],
        wall_seconds=812.4,
    )


def test_valid_results_pass_the_schema():
    validate_results(json.loads(json.dumps(_results().to_dict())))


@pytest.mark.parametrize("mutate,problem", [
    (lambda d: d.pop("data_source"), "lacks 'data_source'"),
    (lambda d: d["privacy"][0].pop("epsilon_classic"), "privacy[0] lacks 'epsilon_classic'"),
    (lambda d: d["privacy"][0].update(delta=2.0), "delta is not in (0, 1)"),
    (lambda d: d["rows"][0].update(ours="0.9"), "rows[0].ours must be a number or null"),
    (lambda d: d["rows"][1].pop("paper"), "rows[1].paper must be a number or null"),
    (lambda d: d.update(seed="0"), "results.seed has type str"),
])
def test_schema_violations_are_named(mutate, problem):
    d = _results().to_dict()
    mutate(d)
    with pytest.raises(ValueError) as err:
        validate_results(d)
    assert problem in str(err.value)


def test_report_puts_ours_beside_the_paper():
    text = report_markdown(_results(), title="T", figures=["figures/a.png"])
    assert "| setting | metric | ours | paper |" in text
    assert "| epsilon=1.18 | test_accuracy | 0.951 | 0.95 |" in text
    assert "| model=non-private | test_accuracy | 0.99 | — |" in text
    assert "![figures/a.png](figures/a.png)" in text
    assert "| sigma=1.3 | 0.94 | 1.18 |" in text
