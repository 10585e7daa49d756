import math

import numpy as np
import pytest

from tfdpfair.reporting.verdicts import (NOT_REPRODUCED, REPRODUCED, WITHIN_NOISE, accuracy_standard_error, all_verdict,
                                         auc_standard_error, difference_noise, verdict)


def test_verdicts_compare_the_effect_with_the_noise():
    assert verdict(0.05, noise=0.02) == REPRODUCED
    assert verdict(0.01, noise=0.02) == WITHIN_NOISE
    assert verdict(-0.01, noise=0.02) == NOT_REPRODUCED
    assert verdict(0.0, noise=0.0) == NOT_REPRODUCED
    assert all_verdict([0.05, 0.03], noise=0.02) == REPRODUCED
    assert all_verdict([0.05, 0.01], noise=0.02) == WITHIN_NOISE
    assert all_verdict([0.05, -0.01, 0.01], noise=0.02) == NOT_REPRODUCED
    with pytest.raises(ValueError):
        verdict(0.1, noise=-1.0)


def test_auc_standard_error_at_chance_is_the_mann_whitney_null_variance():
    # at AUC = 1/2, Hanley & McNeil's formula reduces to Var(U / n1 n2) = (n1 + n2 + 1) / (12 n1 n2)
    for n1, n2 in ((100, 100), (30, 70)):
        assert auc_standard_error(auc=0.5, members=n1, non_members=n2) == pytest.approx(
            math.sqrt((n1 + n2 + 1) / (12 * n1 * n2)), rel=1e-12)


def test_auc_standard_error_matches_simulation():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    n, shift = 200, 1.0  # binormal: AUC = Φ(shift / √2) ≈ 0.760
    aucs = [roc_auc_score(np.r_[np.ones(n), np.zeros(n)], np.r_[rng.normal(shift, 1, n), rng.normal(0, 1, n)])
            for _ in range(2000)]
    se = auc_standard_error(auc=float(np.mean(aucs)), members=n, non_members=n)
    assert np.std(aucs) == pytest.approx(se, rel=0.1)


def test_accuracy_standard_error_and_difference_noise():
    assert accuracy_standard_error(accuracy=0.5, examples=100) == pytest.approx(0.05)
    assert accuracy_standard_error(accuracy=1.0, examples=10) == 0.0
    assert difference_noise(0.03, 0.04) == pytest.approx(1.96 * 0.05)
    assert difference_noise(0.03, 0.04, z=1.0) == pytest.approx(0.05)
    with pytest.raises(ValueError):
        accuracy_standard_error(accuracy=0.5, examples=0)
