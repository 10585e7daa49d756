"""Fractional-order RDP of the subsampled Gaussian against numerical integration of its definition."""
import dp_accounting
import mpmath
import pytest

from tfdpfair.privacy import accounting  # noqa: F401  (installs the signed series where needed)
from dp_accounting.rdp import rdp_privacy_accountant
from tfdpfair.privacy.sampled_gaussian import (DP_ACCOUNTING_LOG_A_FRAC, dp_accounting_series_is_signed, log_a_frac,
                                               use_signed_fractional_series)

CASES = [(32 / 24_000, 0.5, 1.5), (32 / 24_000, 0.5, 2.5), (0.01, 1.1, 3.5), (0.004, 1.3, 7.25), (0.1, 2.0, 1.75),
         # large q and σ (De et al.'s and Hassanpour et al.'s CIFAR batches; a smoke run's q = 0.5)
         (0.08, 3.0, 2.5), (0.33, 10.0, 5.5), (0.33, 21.1, 10.9), (0.5, 1.0, 2.5),
         # series of more than 1,000 terms (dp-accounting 0.6.0 skips these orders)
         (0.25, 0.867, 1.1), (0.5, 0.774, 1.3)]


def _log_a_by_quadrature(q, sigma, alpha):
    """log E_{z∼N(0,σ²)}[((1 − q) + q·exp((2z − 1)/(2σ²)))^α], integrated numerically (40 digits)."""
    with mpmath.workdps(40):
        f = lambda z: mpmath.npdf(z, 0, sigma) * ((1 - q) + q * mpmath.exp((2 * z - 1) / (2 * sigma ** 2))) ** alpha
        return float(mpmath.log(mpmath.quad(f, [-mpmath.inf, -10 * sigma, 0, 1, 10 * sigma + 10, mpmath.inf])))


@pytest.mark.parametrize("q,sigma,alpha", CASES)
def test_log_a_frac_equals_the_integral(q, sigma, alpha):
    assert log_a_frac(q, sigma, alpha) == pytest.approx(_log_a_by_quadrature(q, sigma, alpha), rel=1e-7)


@pytest.mark.parametrize("q,sigma,alpha", CASES + [(0.01, 1.1, 3.0)])
def test_the_accountant_we_use_gives_the_true_rdp_at_any_order(q, sigma, alpha):
    accountant = dp_accounting.rdp.RdpAccountant(orders=[alpha])
    accountant.compose(dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), 7)
    expected = 7 * _log_a_by_quadrature(q, sigma, alpha) / (alpha - 1)
    assert accountant.rdp[0] == pytest.approx(expected, rel=1e-7)


def test_installing_is_idempotent_and_leaves_our_series_in_place():
    assert rdp_privacy_accountant._compute_log_a_frac is log_a_frac
    assert use_signed_fractional_series() is False


@pytest.mark.skipif(not dp_accounting_series_is_signed(), reason="this dp-accounting drops the signs (>= 0.4.4)")
@pytest.mark.parametrize("q", [0.001, 0.02, 0.25, 0.5, 0.9])
@pytest.mark.parametrize("sigma", [0.5, 0.9, 3.0, 20.0])
def test_log_a_frac_equals_dp_accounting_0_4_3s_loop(q, sigma):
    """The pinned stack's dp-accounting keeps the signs: ours must be the same numbers, only faster."""
    for alpha in (1.1, 1.5, 2.25, 4.5, 10.9):
        # log A is as small as 1e-8 here; both sums round alike but not identically: 7e-14 apart at most on this grid
        assert log_a_frac(q, sigma, alpha) == pytest.approx(DP_ACCOUNTING_LOG_A_FRAC(q, sigma, alpha), rel=1e-10,
                                                            abs=1e-12)



def test_a_noise_too_small_to_compute_gives_infinite_rdp_never_zero_epsilon():
    """σ = 1e-160: 2σ² underflows; the order must be skipped (inf), not become a NaN the accountant turns into ε = 0."""
    assert log_a_frac(0.01, 1e-160, 1.5) == float("inf")
    accountant = dp_accounting.rdp.RdpAccountant(orders=[1.5, 2.5])
    accountant.compose(dp_accounting.PoissonSampledDpEvent(0.01, dp_accounting.GaussianDpEvent(1e-160)), 1)
    assert accountant.get_epsilon(1e-5) > 1
