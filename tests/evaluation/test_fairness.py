"""Fairness metrics: equal to fairlearn's on random inputs; bootstrap intervals behave like intervals."""
import numpy as np
import pytest
from fairlearn.metrics import MetricFrame, demographic_parity_difference, true_positive_rate_difference
from sklearn.metrics import accuracy_score

from tfdpfair.evaluation import fairness


def _random(seed, n=500, groups=("F", "M"), skew=0.3):
    rng = np.random.default_rng(seed)
    s = rng.choice(groups, size=n, p=[0.8, 0.2] if len(groups) == 2 else None)
    y_true = rng.integers(0, 2, n)
    flip = rng.random(n) < np.where(s == groups[0], 0.1, skew)
    y_pred = np.where(flip, 1 - y_true, y_true)
    return y_true, y_pred, s


@pytest.mark.parametrize("seed", range(10))
def test_point_metrics_equal_fairlearns(seed):
    groups = ("F", "M") if seed < 7 else ("a", "b", "c")
    y_true, y_pred, s = _random(seed, n=50 + 97 * seed, groups=groups)
    kw = dict(y_true=y_true, y_pred=y_pred, sensitive_features=s)
    assert fairness.demographic_parity_difference(**kw) == pytest.approx(demographic_parity_difference(**kw))
    assert fairness.equal_opportunity_difference(**kw) == pytest.approx(true_positive_rate_difference(**kw))
    by_group = MetricFrame(metrics=accuracy_score, **kw).by_group
    ours = fairness.group_accuracy(**kw)
    assert set(ours) == set(by_group.index)
    for g in ours:
        assert ours[g] == pytest.approx(by_group[g])
    if len(groups) == 2:
        assert fairness.accuracy_gap(**kw, majority="F") == pytest.approx(by_group["F"] - by_group["M"])
        report = fairness.fairness_report(**kw, majority="F", n_resamples=0)
        assert report.values["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
        assert report.values["accuracy[M]"] == pytest.approx(by_group["M"])


def test_hand_computed_example():
    y_true = [1, 1, 0, 0, 1, 1, 0, 0]
    y_pred = [1, 1, 0, 1, 1, 0, 0, 0]
    s = [0, 0, 0, 0, 1, 1, 1, 1]
    kw = dict(y_true=y_true, y_pred=y_pred, sensitive_features=s)
    assert fairness.group_accuracy(**kw) == {0: 0.75, 1: 0.75}
    assert fairness.demographic_parity_difference(**kw) == pytest.approx(3 / 4 - 1 / 4)
    assert fairness.equal_opportunity_difference(**kw) == pytest.approx(1.0 - 0.5)
    assert fairness.accuracy_gap(**kw, majority=1) == 0.0


def test_bootstrap_interval_has_the_binomial_width_and_contains_the_value():
    rng = np.random.default_rng(0)
    n, p = 2000, 0.8
    s = np.repeat([0, 1], n // 2)
    y_true = rng.integers(0, 2, n)
    y_pred = np.where(rng.random(n) < p, y_true, 1 - y_true)
    report = fairness.fairness_report(y_true=y_true, y_pred=y_pred, sensitive_features=s, majority=0,
                                      n_resamples=2000, seed=1)
    low, high = report.intervals["accuracy"]
    acc = report.values["accuracy"]
    assert low < acc < high
    expected = 2 * 1.96 * np.sqrt(acc * (1 - acc) / n)  # normal approximation of a binomial proportion
    assert high - low == pytest.approx(expected, rel=0.15)
    gap_low, gap_high = report.intervals["accuracy_gap"]
    assert gap_low < report.values["accuracy_gap"] < gap_high
    assert (gap_high - gap_low) > (high - low)  # a difference of two half-size groups is noisier
    again = fairness.fairness_report(y_true=y_true, y_pred=y_pred, sensitive_features=s, majority=0,
                                     n_resamples=2000, seed=1)
    assert again == report


def test_bootstrap_detects_a_real_gap_and_not_a_null_one():
    rng = np.random.default_rng(3)
    n = 4000
    s = np.repeat(["F", "M"], n // 2)
    y_true = rng.integers(0, 2, n)
    y_pred = np.where(rng.random(n) < np.where(s == "F", 0.9, 0.8), y_true, 1 - y_true)
    gap = fairness.fairness_report(y_true=y_true, y_pred=y_pred, sensitive_features=s, majority="F", seed=0)
    assert gap.intervals["accuracy_gap"][0] > 0.05
    y_pred_fair = np.where(rng.random(n) < 0.85, y_true, 1 - y_true)
    null = fairness.fairness_report(y_true=y_true, y_pred=y_pred_fair, sensitive_features=s, majority="F", seed=0)
    low, high = null.intervals["accuracy_gap"]
    assert low < 0 < high
    assert set(gap.as_dict()) >= {"accuracy_gap", "accuracy_gap_ci_low", "accuracy_gap_ci_high", "accuracy[M]"}


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="differ in length"):
        fairness.group_accuracy(y_true=[0, 1], y_pred=[0], sensitive_features=[0, 1])
    with pytest.raises(ValueError, match="binary labels"):
        fairness.demographic_parity_difference(y_true=[0, 2], y_pred=[0, 1], sensitive_features=[0, 1])
    with pytest.raises(ValueError, match="exactly two groups"):
        fairness.accuracy_gap(y_true=[0, 1, 1], y_pred=[0, 1, 1], sensitive_features=[0, 1, 2], majority=0)
    with pytest.raises(ValueError, match="exactly two groups"):
        fairness.accuracy_gap(y_true=[0, 1], y_pred=[0, 1], sensitive_features=[0, 1], majority=5)
    with pytest.raises(TypeError):
        fairness.group_accuracy([0, 1], [0, 1], [0, 1])  # keyword-only: y_true and y_pred cannot be swapped
