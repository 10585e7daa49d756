import json

import pytest

from tfdpfair import cli
from tfdpfair.errors import InputError
from tfdpfair.reporting.seeds import combine_seeds, load_run, seeds_markdown

PRIVACY = [{"setting": "eps=8", "epsilon": 8.0, "epsilon_classic": 8.9, "delta": 1e-5, "noise_multiplier": 1.2,
            "sampling_rate": 0.1, "steps": 100, "accounting": "rdp"}]


def _run(tmp_path, seed, accuracy, *, bias=0.1, epochs=3, data_dir="/data", privacy=PRIVACY, finished=True):
    folder = tmp_path / f"seed{seed}"
    folder.mkdir(parents=True)
    rows = [{"table": "Table 2", "setting": {"privacy": "DP", "techniques": "BL"}, "metric": "accuracy",
             "ours": accuracy, "paper": 49.47},
            {"table": "Table 5", "setting": {"privacy": "DP"}, "metric": "bias", "ours": bias, "paper": None}]
    results = {"paper": "generalization_tradeoffs", "preset": "quick", "seed": seed, "data_source": "npz:c.npz",
               "privacy": privacy, "rows": rows, "wall_seconds": 10.0 + seed}
    config = {"paper": "generalization_tradeoffs", "preset": "quick", "seed": seed, "data_dir": data_dir,
              "data_dir_resolved": data_dir, "secure_noise": False, "overrides": [],
              "config": {"train": {"epochs": epochs, "batch_size": 128}}}
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "config.json").write_text(json.dumps(config))
    if finished:
        (folder / "complete.json").write_text("{}")
    return folder


def test_median_low_high_and_whether_the_paper_is_in_range(tmp_path):
    runs = [load_run(_run(tmp_path, s, a)) for s, a in [(0, 40.0), (1, 52.0), (2, 45.0)]]
    accuracy, bias = combine_seeds(runs)
    assert (accuracy.median, accuracy.low, accuracy.high, accuracy.seeds) == (45.0, 40.0, 52.0, 3)
    assert accuracy.paper == 49.47 and accuracy.paper_in_range is True
    assert bias.paper_in_range is None  # no paper number
    runs = [load_run(_run(tmp_path / "b", s, a)) for s, a in [(0, 40.0), (1, 42.0)]]
    assert combine_seeds(runs)[0].paper_in_range is False and combine_seeds(runs)[0].median == 41.0


def test_a_number_missing_in_one_seed_counts_the_others_only(tmp_path):
    runs = [load_run(_run(tmp_path, 0, 40.0, bias=None)), load_run(_run(tmp_path, 1, 50.0, bias=0.3)),
            load_run(_run(tmp_path, 2, 60.0, bias=0.1))]
    _, bias = combine_seeds(runs)
    assert (bias.seeds, bias.median, bias.low, bias.high) == (2, pytest.approx(0.2), 0.1, 0.3)


def test_the_data_folder_may_differ_between_seeds(tmp_path):
    runs = [load_run(_run(tmp_path, 0, 40.0, data_dir="/a")), load_run(_run(tmp_path, 1, 50.0, data_dir="/b"))]
    assert combine_seeds(runs)[0].median == 45.0


@pytest.mark.parametrize("second, message", [
    (dict(seed=0), "seed 0 appears more than once"),
    (dict(seed=1, epochs=4), "config config.train.epochs (3 vs 4)"),
    (dict(seed=1, privacy=[PRIVACY[0] | {"steps": 200}]), "spent other privacy"),
])
def test_runs_that_are_not_seeds_of_one_experiment_are_refused(tmp_path, second, message):
    first = load_run(_run(tmp_path / "a", 0, 40.0))
    other = _run(tmp_path / "b", accuracy=50.0, **second)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        combine_seeds([first, load_run(other)])


def test_an_unfinished_run_and_a_single_run_are_refused(tmp_path):
    with pytest.raises(InputError, match="not a finished run"):
        load_run(_run(tmp_path, 0, 40.0, finished=False))
    with pytest.raises(InputError, match="at least two"):
        combine_seeds([load_run(_run(tmp_path, 1, 40.0))])


def test_the_report_has_every_table_and_the_privacy_spend(tmp_path):
    runs = [load_run(_run(tmp_path, s, a)) for s, a in [(0, 40.0), (1, 52.0)]]
    text = seeds_markdown(runs, combine_seeds(runs))
    assert "2 seeds (0, 1)" in text and "### Table 2" in text and "### Table 5" in text
    assert "| privacy=DP, techniques=BL | accuracy | 46 ± 8.5 | 46 | 40 | 52 | 2 | 49.47 | yes |" in text
    assert "## Privacy (every seed)" in text and "| eps=8 | 8 |" in text


def test_cli_prints_the_report_or_strict_json_and_exits_2_with_one_line_on_bad_runs(tmp_path, capsys):
    a, b = _run(tmp_path, 0, 40.0), _run(tmp_path, 1, 52.0)
    assert cli.main(["seeds", str(a), str(b)]) == 0
    assert "| median | low | high |" in capsys.readouterr().out
    assert cli.main(["seeds", str(a), str(b), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"][0]["median"] == 46.0 and out["rows"][0]["paper_in_range"] is True
    assert cli.main(["seeds", str(a), str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a finished run" in err and err.count("\n") == 1
