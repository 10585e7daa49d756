import csv
import json

import pytest

from tfdpfair.reporting import ResultRow, Results, write_results
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


def test_plot_returns_a_figure_with_one_panel_per_metric():
    fig = plot_training_curves({"dp": {"accuracy": [0.5, 0.6]}, "public": {"accuracy": [0.7]}},
                               metrics=("accuracy", "epsilon"))
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 0


def test_a_failed_write_leaves_the_old_file_whole(tmp_path):
    from tfdpfair.reporting.files import atomic_path, write_json

    write_json(tmp_path / "results.json", {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "results.json") as tmp:
            tmp.write_text('{"a": 2, "trunc')
            raise RuntimeError("killed half-way")
    assert json.loads((tmp_path / "results.json").read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary file left behind


def test_json_is_strict_infinity_becomes_null(tmp_path):
    from tfdpfair.reporting.files import write_json

    write_json(tmp_path / "x.json", {"epsilon": float("inf"), "v": [float("nan"), 1.0]})
    text = (tmp_path / "x.json").read_text()
    assert "Infinity" not in text and "NaN" not in text
    assert json.loads(text) == {"epsilon": None, "v": [None, 1.0]}


def test_metric_vs_epsilon_and_image_grid_return_figures():
    import numpy as np

    from tfdpfair.reporting.figures import image_grid, plot_metric_vs_epsilon

    fig = plot_metric_vs_epsilon([(8.0, 0.6), (1.0, 0.9)], ylabel="accuracy", reference=0.55)
    line = fig.axes[0].lines[0]
    assert list(line.get_xdata()) == [1.0, 8.0] and len(fig.axes[0].lines) == 2
    grid = image_grid(np.zeros((6, 4, 4, 1)) - 1, rows=2, cols=3, row_labels=["a", "b"])
    assert len(grid.axes) == 6
