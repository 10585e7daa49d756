import csv
import json

import pytest

from tfdpfair.reporting import OutputDirError, ResultRow, Results, prepare_output_dir, write_results
from tfdpfair.reporting.figures import plot_training_curves


def _write_run(out):
    results = Results(paper="dp_dcgan", preset="smoke", seed=1, data_source="embedded:mnist5k",
                      rows=[ResultRow("T", {"sigma": 1.3}, "test_accuracy", 0.5, 0.95)])
    fig = plot_training_curves({"a": {"accuracy": [0.1, 0.2], "epsilon_classic": [1, 2]}})
    return write_results(out, results, title="Title", figures={"curves": fig})


def test_write_results_writes_every_file(tmp_path):
    written = _write_run(tmp_path)
    assert {p.name for p in written} == {"results.json", "results.csv", "report.md", "curves.png"}
    assert json.loads((tmp_path / "results.json").read_text())["rows"][0]["paper"] == 0.95
    row = next(csv.DictReader(open(tmp_path / "results.csv")))
    assert row["setting.sigma"] == "1.3" and row["ours"] == "0.5"
    assert (tmp_path / "figures" / "curves.png").stat().st_size > 1000


def test_an_earlier_run_is_never_overwritten(tmp_path):
    out = tmp_path / "quick"
    first = prepare_output_dir(out)
    _write_run(first)
    second = prepare_output_dir(out)
    assert second == tmp_path / "quick-run2" and second.is_dir()
    _write_run(second)
    assert prepare_output_dir(out) == tmp_path / "quick-run3"
    assert (first / "results.json").exists()


def test_overwrite_empties_the_earlier_run(tmp_path):
    _write_run(prepare_output_dir(tmp_path))
    assert prepare_output_dir(tmp_path, overwrite=True) == tmp_path
    assert not (tmp_path / "results.json").exists() and not (tmp_path / "figures").exists()


def test_resume_needs_checkpoints(tmp_path):
    with pytest.raises(OutputDirError, match="checkpoints"):
        prepare_output_dir(tmp_path, resume=True)
    (tmp_path / "checkpoints").mkdir()
    assert prepare_output_dir(tmp_path, resume=True) == tmp_path


def test_plot_returns_a_figure_with_one_panel_per_metric():
    fig = plot_training_curves({"dp": {"accuracy": [0.5, 0.6]}, "public": {"accuracy": [0.7]}},
                               metrics=("accuracy", "epsilon"))
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 0


def test_a_folder_with_only_a_config_from_a_failed_start_is_reused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert prepare_output_dir(tmp_path) == tmp_path


def test_metric_vs_epsilon_and_image_grid_return_figures():
    import numpy as np

    from tfdpfair.reporting.figures import image_grid, plot_metric_vs_epsilon

    fig = plot_metric_vs_epsilon([(8.0, 0.6), (1.0, 0.9)], ylabel="accuracy", reference=0.55)
    line = fig.axes[0].lines[0]
    assert list(line.get_xdata()) == [1.0, 8.0] and len(fig.axes[0].lines) == 2
    grid = image_grid(np.zeros((6, 4, 4, 1)) - 1, rows=2, cols=3, row_labels=["a", "b"])
    assert len(grid.axes) == 6
