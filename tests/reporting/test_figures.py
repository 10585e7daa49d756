"""Figure helpers return figures with the data they were given."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from tfdpfair.reporting.figures import (
    ROC_LOG_FLOOR, plot_lines, plot_memorization_bins, plot_roc_curves, plot_roc_pair, plot_step_curves,
    plot_tpr_at_fpr,
)


def test_plot_lines_categorical_with_intervals_and_styles():
    series = {"a": [(0.7, 1.0), (0.9, 2.0), (0.999, 3.0)], "b": [(0.7, 0.5), (0.9, 0.1), (0.999, 0.2)]}
    intervals = {"a": [(0.5, 1.5), (1.5, 2.5), (2.0, 4.0)]}
    fig = plot_lines(series, intervals=intervals, categorical_x=True, xticks=["70 %", "90 %", "99.9 %"],
                     xlabel="share", ylabel="gap", styles={"b": {"color": "C3", "linestyle": "--"}})
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["a"].get_xdata()) == [0, 1, 2]  # evenly placed categories
    assert [t.get_text() for t in ax.get_xticklabels()] == ["70 %", "90 %", "99.9 %"]
    assert lines["b"].get_linestyle() == "--"
    ranges = ax.collections[0].get_segments()
    assert [tuple(seg[:, 1]) for seg in ranges] == [(0.5, 1.5), (1.5, 2.5), (2.0, 4.0)]


def test_plot_lines_integer_x_ticks_whole_numbers_only():
    fig = plot_lines({"eps=1": [(1, 9.0), (2, 7.5), (3, 8.0)]}, xlabel="epoch", ylabel="FID", integer_x=True)
    fig.canvas.draw()
    ticks = [t for t in fig.axes[0].get_xticks() if 1 <= t <= 3]
    assert len(ticks) == 3 and all(float(t).is_integer() for t in ticks)
    plt.close("all")


def test_plot_lines_log_y_keeps_the_values_and_refuses_non_positive_ones():
    fig = plot_lines({"eps=1": [(1, 130.0), (2, 10.7)], "eps=10": [(1, 2.7), (2, 9.2)]}, xlabel="epoch",
                     ylabel="judge FID", log_y=True)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert list(ax.get_lines()[0].get_ydata()) == [130.0, 10.7]
    assert plot_lines({"a": [(1, 1.0)]}, xlabel="x", ylabel="y").axes[0].get_yscale() == "linear"
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="y > 0"):
            plot_lines({"a": [(1, 1.0), (2, bad)]}, xlabel="x", ylabel="y", log_y=True)
    plt.close("all")


def test_plot_step_curves_has_a_panel_per_run():
    records = [{"step": 0, "accuracy": 0.5, "accuracy[f]": 0.5}, {"step": 10, "accuracy": 0.8, "accuracy[f]": 0.9}]
    fig = plot_step_curves({"run 1": records, "run 2": records}, keys=("accuracy", "accuracy[f]"),
                           key_labels={"accuracy[f]": "female"})
    assert [ax.get_title() for ax in fig.axes] == ["run 1", "run 2"]
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["accuracy", "female"]
    assert list(fig.axes[1].get_lines()[1].get_ydata()) == [0.5, 0.9]


KNOWN_ROC = (np.array([0.0, 0.5, 1.0]), np.array([0.0, 1.0, 1.0]))  # AUC 0.75


def _na_count(ax):
    return sum(t.get_text() == "n/a" for t in ax.texts)


def test_plot_roc_curves_one_line_per_label_with_auc_and_a_chance_line():
    curves = {"threshold": KNOWN_ROC, "lira": (np.linspace(0, 1, 5), np.linspace(0, 1, 5) ** 0.5)}
    fig = plot_roc_curves(curves, title="attacks")
    ax = fig.axes[0]
    assert isinstance(fig, plt.Figure)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[0] == "threshold (AUC 0.750)" and labels[1].startswith("lira (AUC ")
    assert len(ax.get_lines()) == len(curves) + 1
    chance = ax.get_lines()[-1]
    assert chance.get_linestyle() == "--" and list(chance.get_xdata()) == list(chance.get_ydata())
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "threshold (AUC 0.750)"
    assert ax.get_xscale() == "linear" and ax.get_title() == "attacks"
    assert ax.get_xlabel() == "false positive rate" and ax.get_ylabel() == "true positive rate"
    plt.close(fig)


def test_plot_roc_curves_log_scale_clips_zero_rates_to_the_floor():
    fig = plot_roc_curves({"threshold": KNOWN_ROC}, log_scale=True)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlim() == pytest.approx((ROC_LOG_FLOOR, 1.0)) and ax.get_ylim() == pytest.approx((ROC_LOG_FLOOR, 1.0))
    line = ax.get_lines()[0]
    assert line.get_xdata()[0] == ROC_LOG_FLOOR and line.get_ydata()[0] == ROC_LOG_FLOOR
    assert line.get_label() == "threshold (AUC 0.750)"  # AUC of the unclipped curve
    fig.canvas.draw()  # rendering a curve through fpr = 0 on log axes must not raise
    plt.close(fig)


def test_plot_roc_curves_rejects_pairs_of_different_lengths():
    with pytest.raises(ValueError):
        plot_roc_curves({"bad": (np.array([0.0, 1.0]), np.array([0.0, 0.5, 1.0]))})
    plt.close("all")


def test_plot_roc_pair_draws_linear_and_log_panels_of_the_same_curves():
    fig = plot_roc_pair({"threshold": KNOWN_ROC, "lira": KNOWN_ROC}, title="pair")
    assert isinstance(fig, plt.Figure) and len(fig.axes) == 2
    linear, log = fig.axes
    assert linear.get_xscale() == "linear" and log.get_xscale() == "log" and log.get_yscale() == "log"
    assert [line.get_label() for line in linear.get_lines()] == [line.get_label() for line in log.get_lines()]
    assert len(log.get_lines()) == 3
    assert fig._suptitle.get_text() == "pair"
    plt.close(fig)


def test_plot_tpr_at_fpr_groups_bars_and_marks_missing_values():
    values = {"threshold": {0.01: 0.05, 0.001: 0.01, 0.00001: None},
              "lira": {0.01: 0.2, 0.001: 0.08, 0.00001: 0.02}}
    fig = plot_tpr_at_fpr(values, title="low FPR")
    ax = fig.axes[0]
    assert isinstance(fig, plt.Figure)
    assert len(ax.patches) == 5  # six values, one None
    assert _na_count(ax) == 1
    assert [t.get_text() for t in ax.get_xticklabels()] == ["TPR @ 1% FPR", "TPR @ 0.1% FPR", "TPR @ 0.001% FPR"]
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == pytest.approx(sorted([0.05, 0.01, 0.2, 0.08, 0.02]))
    assert ax.get_ylim() == pytest.approx((0.0, 0.2 * 1.15))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["threshold", "lira"]
    plt.close(fig)


def test_plot_tpr_at_fpr_all_missing_keeps_a_minimum_y_range():
    fig = plot_tpr_at_fpr({"threshold": {0.001: None, 0.00001: None}})
    ax = fig.axes[0]
    assert len(ax.patches) == 0 and _na_count(ax) == 2
    assert ax.get_ylim() == pytest.approx((0.0, 0.05))
    plt.close(fig)


def test_plot_memorization_bins_tpr_and_count_panels():
    bins = [("0-0.1", 20000, 0.01), ("0.1-0.5", 800, 0.05), ("0.5-0.9", 120, None), ("0.9-1", 40, 0.3)]
    fig = plot_memorization_bins(bins, title="DeMem")
    assert isinstance(fig, plt.Figure) and len(fig.axes) == 2
    top, bottom = fig.axes
    assert len(top.patches) == 3 and _na_count(top) == 1
    assert len(bottom.patches) == 4 and [p.get_height() for p in bottom.patches] == [20000, 800, 120, 40]
    assert bottom.get_yscale() == "log"  # 20000 / 40 > 100
    assert [t.get_text() for t in bottom.get_xticklabels()] == [b[0] for b in bins]
    assert bottom.get_xticklabels()[0].get_rotation() == 45
    assert top.get_ylabel() == "TPR at fixed FPR" and bottom.get_ylabel() == "examples"
    assert top.get_title() == "DeMem"
    plt.close(fig)


def test_plot_memorization_bins_linear_counts_when_the_range_is_small():
    fig = plot_memorization_bins([("low", 300, 0.02), ("high", 0, None), ("mid", 10, 0.1)])
    top, bottom = fig.axes
    assert bottom.get_yscale() == "linear"  # 300 / 10 ≤ 100; the zero count is ignored
    assert len(top.patches) == 2 and _na_count(top) == 1
    plt.close(fig)


def test_nan_rates_are_drawn_as_missing_and_do_not_collapse_the_axis():
    from tfdpfair.reporting.figures import plot_memorization_bins

    fig = plot_memorization_bins([("≤ 0", 100, float("nan")), ("(0, .05]", 10, 0.3)])
    ax = fig.axes[0]
    assert len(ax.patches) == 1 and [t.get_text() for t in ax.texts] == ["n/a"]
    assert ax.get_ylim()[1] == pytest.approx(0.3 * 1.15)
    plt.close(fig)
