"""The Poisson-subsampled Gaussian's RDP at fractional orders, with the binomial signs kept.

RDP of the subsampled Gaussian at order α is log(A_α)/(α − 1). For fractional α,
Mironov, Talwar & Zhang (2019, §3.3) write A_α as two series over i = 0, 1, …
with coefficients C(α, i), which are *negative* for some i once i > α.
dp-accounting 0.4.3 keeps those signs; 0.4.4 through 0.6.0 (at least) add the
absolute values of every term. The result is an upper bound, so ε stays a valid
guarantee, but a loose one: for q = 32/24,000 and σ = 0.5 the RDP at α = 1.5 comes
out 10 % too large and at α = 2.5 0.5 % too large (against numerical integration),
which moves ε in the third digit (Farrand et al.'s z = 0.5: 16.26 instead of 16.22).

``log_a_frac`` is 0.4.3's series with the signs and its stopping rule, vectorised with NumPy and
tested against quadrature and against 0.4.3's own loop; ``use_signed_fractional_series()`` puts it
in place of dp-accounting's series on both stacks, so both print the same ε: on ≥ 0.4.4 it
restores the signs (and the orders whose series needs more than 0.6.0's 1,000 terms), on 0.4.3
it is the same numbers about 12× faster (0.5 s → 0.04 s for the 90 fractional default orders at
q = 0.25, σ = 0.87; the generalization_tradeoffs smoke preset spent 220 of its 216 + 140 s
calibrating σ in 0.4.3's loop). Imports no TensorFlow.
"""
from __future__ import annotations

import math

import numpy as np
from dp_accounting.rdp import rdp_privacy_accountant
from scipy import special

# 0.4.3 sums until the terms are small, with no cap; at large q the small orders need thousands of terms
# (11,708 at q = 0.5, σ = 20, α = 1.1, the most over q ∈ [0.01, 0.99], σ ∈ [0.3, 20], α ∈ (1, 11)), where
# 0.6.0 gives up at 1,000 and skips the order. Past this cap an order is skipped (inf).
_MAX_TERMS = 100_000


def _log_erfc(x: np.ndarray) -> np.ndarray:
    return math.log(2.0) + special.log_ndtr(-x * math.sqrt(2.0))


def _signed_log_sum(log_terms: np.ndarray, signs: np.ndarray) -> float:
    """log Σ signs·exp(log_terms); a running sum that goes negative is an error (0.4.3 raised there too)."""
    top = float(np.max(log_terms))
    if top == -np.inf:
        return -np.inf
    partial = np.cumsum(signs * np.exp(log_terms - top))
    if np.any(partial < 0):
        raise ValueError("the series went negative: log_a_frac cannot take this (q, σ, α)")
    return -np.inf if partial[-1] == 0 else top + math.log(partial[-1])


def _terms(q: float, sigma: float, alpha: float, n: int):
    """The first ``n`` terms of both series: (log|term₀|, log|term₁|, sign), as arrays."""
    i = np.arange(n, dtype=np.float64)
    coef = special.binom(alpha, i)
    log_coef = np.log(np.abs(coef))
    j = alpha - i
    z0 = sigma ** 2 * math.log(1.0 / q - 1.0) + 0.5
    log_q, log1mq, two_s2 = math.log(q), math.log1p(-q), 2 * sigma ** 2
    log_s0 = (log_coef + i * log_q + j * log1mq + (i * i - i) / two_s2 + math.log(0.5)
              + _log_erfc((i - z0) / (math.sqrt(2) * sigma)))
    log_s1 = (log_coef + j * log_q + i * log1mq + (j * j - j) / two_s2 + math.log(0.5)
              + _log_erfc((z0 - j) / (math.sqrt(2) * sigma)))
    return log_s0, log_s1, np.sign(coef)


def log_a_frac(q: float, sigma: float, alpha: float) -> float:
    """log A_α of the Poisson-subsampled Gaussian for fractional α > 1, 0 < q < 1, σ > 0 (natural log).

    A_α = E_{z∼N(0,σ²)}[((1 − q) + q·exp((2z − 1)/(2σ²)))^α]; RDP(α) = log A_α / (α − 1).
    The terms up to and including the first whose two parts are both below e⁻³⁰ are summed
    (0.4.3's stopping rule), vectorised; inf when that takes more than 100,000 terms or the result is not finite.
    """
    n = 64
    while True:
        log_s0, log_s1, sign = _terms(q, sigma, alpha, n)
        small = np.maximum(log_s0, log_s1) < -30
        if small.any():
            k = int(np.argmax(small)) + 1
            break
        if n >= _MAX_TERMS:
            return float("inf")
        n = min(4 * n, _MAX_TERMS)
    value = float(np.logaddexp(_signed_log_sum(log_s0[:k], sign[:k]), _signed_log_sum(log_s1[:k], sign[:k])))
    # a NaN (e.g. σ so small that 2σ² underflows) must never reach the accountant: its argmin would pick it
    # and report ε = 0. inf skips the order, which is conservative.
    return value if math.isfinite(value) else float("inf")


#: (q, σ, α) where dp-accounting 0.4.4–0.6.0's unsigned series is visibly off (10 %).
_PROBE = (32 / 24_000, 0.5, 1.5)
#: dp-accounting's own series, as imported (before ``use_signed_fractional_series`` replaces it).
DP_ACCOUNTING_LOG_A_FRAC = rdp_privacy_accountant._compute_log_a_frac


def dp_accounting_series_is_signed() -> bool:
    """Whether the installed dp-accounting's own fractional-order series keeps the signs (0.4.3 does)."""
    return math.isclose(DP_ACCOUNTING_LOG_A_FRAC(*_PROBE), log_a_frac(*_PROBE), rel_tol=1e-9)


def use_signed_fractional_series() -> bool:
    """Make dp-accounting's RDP accountant use ``log_a_frac`` for fractional orders.

    Returns whether it replaced anything. Idempotent; affects every ``RdpAccountant`` in the process
    (only fractional orders of the Poisson-subsampled Gaussian).
    """
    if rdp_privacy_accountant._compute_log_a_frac is log_a_frac:
        return False
    rdp_privacy_accountant._compute_log_a_frac = log_a_frac
    return True
