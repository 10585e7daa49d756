"""Figure helpers return figures with the data they were given."""
from tfdpfair.reporting.figures import plot_lines, plot_step_curves


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


def test_plot_step_curves_has_a_panel_per_run():
    records = [{"step": 0, "accuracy": 0.5, "accuracy[f]": 0.5}, {"step": 10, "accuracy": 0.8, "accuracy[f]": 0.9}]
    fig = plot_step_curves({"run 1": records, "run 2": records}, keys=("accuracy", "accuracy[f]"),
                           key_labels={"accuracy[f]": "female"})
    assert [ax.get_title() for ax in fig.axes] == ["run 1", "run 2"]
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["accuracy", "female"]
    assert list(fig.axes[1].get_lines()[1].get_ydata()) == [0.5, 0.9]
