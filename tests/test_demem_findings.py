"""The findings of ``reproductions/demem.py`` on hand-computed cases (the script's own runs are in test_reproductions)."""
import pytest


@pytest.fixture(scope="module")
def demem(load_script):
    return load_script("demem")


def _bins(accuracy: dict, examples: dict) -> dict:
    """Figure 1's 21 bins from {bin: value}; bins not given are empty (None, 0 examples)."""
    return {"accuracy": [accuracy.get(i) for i in range(21)], "examples": [examples.get(i, 0) for i in range(21)]}


def test_memorization_finding_weights_each_bins_loss_by_its_examples(demem):
    examples = {0: 100, 1: 50, 10: 20}
    base = _bins({0: 0.9, 1: 0.8, 10: 0.5}, examples)
    private = _bins({0: 0.7, 1: 0.7, 10: 0.1}, examples)
    # loss: low (bins 0-5) 100·0.2 + 50·0.1 = 25, high 20·0.4 = 8 → 25/33 = 76 %; examples 150/170 = 88 %
    text = demem._memorization_finding(base, private)
    assert "76 % of DP-SGD's accuracy loss" in text and "88 % of the non-member predictions" in text
    assert "holds here" in text and "per example 16.7 points lost (low) vs 40.0 points (high)" in text


def test_memorization_finding_does_not_hold_when_the_loss_is_in_the_high_bins(demem):
    examples = {0: 100, 6: 100}  # bin 6 = (0.25, 0.30]: the first high bin
    text = demem._memorization_finding(_bins({0: 0.9, 6: 0.6}, examples), _bins({0: 0.85, 6: 0.2}, examples))
    # low 100·0.05 = 5, high 100·0.4 = 40 → 11 %
    assert "11 % of DP-SGD's accuracy loss" in text and "does not hold here" in text


def test_memorization_finding_without_a_loss_says_it_cannot_judge(demem):
    examples = {0: 10}
    text = demem._memorization_finding(_bins({0: 0.5}, examples), _bins({0: 0.6}, examples))
    assert "cannot be judged" in text


def test_dp_accuracy_findings_compare_the_drop_with_the_spread_over_targets(demem):
    base = {"natural": (0.50, 0.01), "robust": (0.20, 0.05)}
    private = {"natural": (0.30, 0.02), "robust": (0.15, 0.01)}
    natural, robust = demem._dp_accuracy_findings(base, private)
    assert "+20.00 points lost" in natural and "a loss beyond" in natural and "paper +30.52" in natural
    assert "+5.00 points lost" in robust and "no loss beyond" in robust  # 5 < 5 + 1


def test_memorization_finding_when_the_high_bins_gain_gives_no_share_above_100_percent(demem):
    examples = {0: 100, 10: 10}
    # low loses 100·0.1 = 10, high gains 10·0.2 = 2: the share would read 125 %
    text = demem._memorization_finding(_bins({0: 0.5, 10: 0.3}, examples), _bins({0: 0.4, 10: 0.5}, examples))
    assert "all of DP-SGD's net accuracy loss comes from the low-memorization examples" in text
    assert "10.0 points lost (low) vs -20.0 points (high)" in text and "holds here" in text and "%" in text
    assert "125" not in text


def _summary(per_target, pooled) -> dict:
    """One setting's LiRA summary: TPR at 0.1 % FPR as (mean, std) over targets (None = below resolution), pooled."""
    return {"tpr@0.001": (per_target, None if per_target is None else 0.01), "pooled@0.001": pooled,
            "tpr@0.01": (0.05, 0.01)}


@pytest.mark.parametrize("settings, key", [
    ([(0.02, 0.03), (0.01, 0.02)], "tpr@0.001"),     # every setting resolves 0.1 % per target: the paper's mean
    ([(None, 0.03), (0.01, 0.02)], "pooled@0.001"),  # one does not: all plotted pooled, never mixed
    ([(None, 0.03), (None, None)], "tpr@0.01"),      # not even pooled (the smoke preset): 1 %
])
def test_figures_plot_the_tpr_every_setting_resolves(demem, settings, key):
    summary = {f"s{i}": _summary(*pair) for i, pair in enumerate(settings)}
    chosen, label = demem._figure_tpr(summary)
    assert chosen == key
    assert label.startswith("TPR at 1% FPR") == (key == "tpr@0.01") and ("pooled" in label) == (key == "pooled@0.001")


def _pool(pooled=None, interval=None) -> dict:
    """A stored pool unit of two targets; ``pooled`` / ``interval`` None = a unit stored before they were kept."""
    unit = {"natural": [0.3, 0.5], "robust": [0.2, 0.2], "auc": [0.6, 0.8],
            "tpr": {"0.01": [0.04, 0.08], "0.001": [None, None], "1e-05": [None, None]}}
    if pooled is not None:
        unit["pooled_tpr"] = {"0.01": 0.06, "0.001": pooled, "1e-05": None}
    if interval is not None:
        unit["pooled_interval"] = {"0.01": [0.05, 0.07], "0.001": interval, "1e-05": None}
    return unit


def test_summary_keeps_pooled_tprs_and_marks_old_units_missing_not_below_resolution(demem):
    summary = demem._summary({"new": _pool(pooled=0.02), "old": _pool()})
    assert summary["new"]["natural"] == pytest.approx((0.4, 0.1)) and summary["new"]["tpr@0.001"] == (None, None)
    assert summary["new"]["tpr@0.01"] == pytest.approx((0.06, 0.02)) and summary["new"]["pooled@0.001"] == 0.02
    assert summary["old"]["pooled@0.001"] is demem.MISSING
    assert "not stored" in demem._pooled_text(summary["old"]["pooled@0.001"])
    assert demem._pooled_text(None) == "below resolution" and demem._pooled_text(0.02) == "2.00 %"
    # a run folder with one old unit plots no pooled TPR (mixing would compare unlike numbers): 1 %
    assert demem._figure_tpr(summary)[0] == "tpr@0.01"


@pytest.mark.parametrize("non_members, fpr", [(999, 0.01), (1000, 0.001), (5000, 0.001), (500, 0.01)])
def test_figure1_uses_the_papers_fpr_only_where_each_target_resolves_it(demem, non_members, fpr):
    assert demem._figure1_fpr(non_members) == fpr


def test_summary_keeps_the_pooled_intervals_and_the_text_shows_them(demem):
    summary = demem._summary({"new": _pool(pooled=0.02, interval=[0.011, 0.034]), "older": _pool(pooled=0.02),
                              "old": _pool()})
    assert summary["new"]["pooled_ci@0.001"] == (0.011, 0.034) and summary["new"]["pooled_ci@1e-05"] is None
    assert summary["older"]["pooled_ci@0.001"] is demem.MISSING and summary["old"]["pooled_ci@0.01"] is demem.MISSING
    text = {name: demem._pooled_text(s["pooled@0.001"], s["pooled_ci@0.001"]) for name, s in summary.items()}
    assert text["new"] == "2.00 % [1.10, 3.40]" and text["older"] == "2.00 %" and "not stored" in text["old"]


def test_figures_get_error_bars_only_for_pooled_tprs_every_point_of_which_has_an_interval(demem):
    summary = demem._summary({"a": _pool(pooled=0.02, interval=[0.01, 0.03]), "b": _pool(pooled=0.03, interval=[0.02, 0.05]),
                              "old": _pool(pooled=0.02)})
    assert demem._pooled_intervals(summary, "pooled@0.001", {"line": ["a", "b"]}) == {"line": [(0.01, 0.03), (0.02, 0.05)]}
    assert demem._pooled_intervals(summary, "pooled@0.001", {"line": ["a", "old"]}) is None  # one point lacks it
    assert demem._pooled_intervals(summary, "tpr@0.01", {"line": ["a", "b"]}) is None  # a mean over targets: no bars


def test_change_text_is_in_percentage_points(demem):
    assert demem._change_text((0.0158, -0.002, 0.031)) == "+1.58 points [-0.20, +3.10]"
    assert demem._change_text(None) == "below resolution"
