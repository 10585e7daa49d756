"""Hassanpour et al.'s bias, harmonic score, GGap and gender-weighted AP against hand-computed cases."""
import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from tfdpfair.evaluation import tradeoffs as t


def test_domain_bias_by_hand():
    # Gr = (3, 1, 2), Col = (1, 3, 2): (3/4 + 3/4 + 2/4)/3 − 0.5 = 1/6
    gray, color = np.array([0, 0, 0, 1, 2, 2]), np.array([0, 1, 1, 1, 2, 2])
    assert t.domain_bias(predictions_gray=gray, predictions_color=color, num_classes=3) == pytest.approx(1 / 6)
    # the same predictions in both domains: no bias
    assert t.domain_bias(predictions_gray=gray, predictions_color=gray, num_classes=3) == 0.0
    # every grey image → class 0, every colour image → class 1: the maximum, 0.5 (class 2 is never predicted)
    assert t.domain_bias(predictions_gray=np.zeros(4, int), predictions_color=np.ones(4, int), num_classes=3) == 0.5


def test_domain_bias_refuses_bad_input():
    with pytest.raises(ValueError, match="differ in size"):
        t.domain_bias(predictions_gray=[0, 1], predictions_color=[0], num_classes=2)
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\)"):
        t.domain_bias(predictions_gray=[0, 2], predictions_color=[0, 1], num_classes=2)


def test_gender_bias_and_skew_by_hand():
    is_woman = np.array([1, 1, 1, 0, 0, 0])
    y_true = np.array([[1, 0], [1, 0], [0, 0], [1, 1], [0, 0], [0, 0]])
    y_pred = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 0], [0, 0]])
    # attribute 0: P_w/(P_w+P_m) = 3/3, N_w/(N_w+N_m) = 2/3 → 1/3; attribute 1: 0/1 − 0/1 = 0
    np.testing.assert_allclose(t.gender_bias(y_true=y_true, y_pred=y_pred, is_woman=is_woman), [1 / 3, 0.0])
    np.testing.assert_allclose(t.gender_skew(y_true=y_true, is_woman=is_woman), [2 / 3, 1.0])
    # no true positives at all: undefined
    assert np.isnan(t.gender_bias(y_true=np.zeros((6, 1)), y_pred=np.ones((6, 1)), is_woman=is_woman)[0])


def test_harmonic_score_worked_examples():
    # §3.2 Case 1: accuracy 0.5, 1 − bias_scaled 0.5 (bias 0.25), 1 − AUC_scaled 0.5 (AUC 0.75) → 0.5
    assert t.harmonic_score(accuracy=0.5, auc=0.75, bias=0.25) == pytest.approx(0.5)
    # Case 2: accuracy 0.1, 1 − bias_scaled 0.5, 1 − AUC_scaled 0.9 (AUC 0.55): 3/(10 + 1/0.9 + 2) = 0.2288.
    # The paper prints ≈ 0.136, which is 3/(10 + 10 + 2): an arithmetic slip (its own formula gives 0.2288).
    assert t.harmonic_score(accuracy=0.1, auc=0.55, bias=0.25) == pytest.approx(3 / (10 + 1 / 0.9 + 2))
    assert t.harmonic_score(accuracy=0.1, auc=0.55, bias=0.25) == pytest.approx(0.22881, abs=1e-5)


def test_harmonic_score_edges():
    assert t.harmonic_score(accuracy=0.9, auc=0.3, bias=0.0) == t.harmonic_score(accuracy=0.9, auc=0.5, bias=0.0)
    assert t.harmonic_score(accuracy=0.9, auc=1.0, bias=0.1) == 0.0
    assert t.harmonic_score(accuracy=1.0, auc=0.5, bias=0.0) == 1.0
    with pytest.raises(ValueError, match="bias must be in"):
        t.harmonic_score(accuracy=0.9, auc=0.6, bias=0.7)


def test_generalization_gap_is_validation_minus_training():
    assert t.generalization_gap(train_accuracy=0.95, validation_accuracy=0.8) == pytest.approx(-0.15)


def test_gender_weighted_ap_by_hand():
    # ranked by score: man +, −, woman +, woman +, −. N_m = 1, N_w = 2: weights 3/2 and 3/4 on positives.
    # weighted: (R, P) steps (0.5, 1), (0.75, 2.25/3.25), (1, 3/4) → AP = 0.5 + 0.25·2.25/3.25 + 0.25·0.75
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    y_true = np.array([1, 0, 1, 1, 0])
    is_woman = np.array([0, 1, 1, 1, 0])
    expected = 0.5 + 0.25 * 2.25 / 3.25 + 0.25 * 0.75
    got = t.gender_weighted_average_precision(y_true=y_true, scores=scores, is_woman=is_woman)
    assert got[0] == pytest.approx(expected)
    assert got[0] != pytest.approx(average_precision_score(y_true, scores))  # unweighted: 0.806


def test_gender_weighted_map_equals_plain_ap_when_genders_are_balanced():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, size=(200, 3))
    is_woman = np.zeros(200, int)
    is_woman[::2] = 1
    y_true[1::2] = y_true[::2]  # each woman's labels repeated for the next man: N_w = N_m for every attribute
    scores = rng.normal(size=(200, 3)) + y_true
    expected = np.mean([average_precision_score(y_true[:, a], scores[:, a]) for a in range(3)])
    assert t.gender_weighted_map(y_true=y_true, scores=scores, is_woman=is_woman) == pytest.approx(expected)
    with pytest.raises(ValueError, match="both genders"):
        t.gender_weighted_map(y_true=y_true, scores=scores, is_woman=np.ones(200, int))
