"""ε accounting for DP-SGD: T Poisson-sampled Gaussian steps, through ``dp_accounting``.

Every ε is available two ways (DESIGN.md):

* ``tight``: the accountant's own (ε, δ) conversion — for RDP, ``dp_accounting``'s
  ``RdpAccountant.get_epsilon`` (the improved conversion of Canonne et al. / Asoodeh
  et al.); for PLD, ``PLDAccountant.get_epsilon``.
* ``classic``: ε = min_α RDP(α) + log(1/δ)/(α − 1) over TF Privacy's classic orders
  1.1, 1.2, …, 10.9, 12, 13, …, 63. This is the conversion most 2016–2021 papers
  (and TF Privacy's old ``compute_dp_sgd_privacy``) used; papers' ε values are
  compared against it.

All functions are pure, keyword-only and import no TensorFlow.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Optional, Sequence

import dp_accounting
import numpy as np
from dp_accounting import pld, rdp

from tfdpfair.errors import InputError
from tfdpfair.privacy.sampled_gaussian import use_signed_fractional_series
from tfdpfair.quiet import silence_skipped_rdp_orders

silence_skipped_rdp_orders()  # dp-accounting >= 0.5 logs each skipped fractional order on every call
use_signed_fractional_series()  # dp-accounting 0.4.4-0.6.0 overstate fractional-order RDP (see that module)

ACCOUNTINGS = ("rdp", "pld")
CONVERSIONS = ("tight", "classic")
CLASSIC_RDP_ORDERS: tuple[float, ...] = tuple(
    [1 + x / 10.0 for x in range(1, 100)] + [float(a) for a in range(12, 64)]
)
# The orders of TF Privacy's compute_dp_sgd_privacy.py in 2019–2020, which Bagdasaryan et al. (2019)
# and Farrand et al. (2020) used: coarser than CLASSIC_RDP_ORDERS, so their classic ε is slightly larger.
TFP_2019_RDP_ORDERS: tuple[float, ...] = tuple(
    [1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0, 4.5] + [float(a) for a in range(5, 64)] + [128.0, 256.0, 512.0]
)
# σ above this is treated as "no finite noise reaches the target" by the calibration.
MAX_NOISE_MULTIPLIER = 1e4
# what calibrate_dp_mechanism raises when it finds no root: dp_accounting 0.4 has this class, 0.6 does not export it
_NO_OPTIMUM = getattr(dp_accounting.mechanism_calibration, "NoOptimumFoundError", ValueError)
# PLD below this σ needs a discretised privacy-loss range of gigabytes: use RDP there.
MIN_PLD_NOISE_MULTIPLIER = 0.3
# More steps than this are not a training run (and overflow the accountants' integer arithmetic).
MAX_STEPS = 10**12


class PrivacyConfigError(InputError):
    """Invalid accounting parameters; the message says what is wrong and how to fix it."""


@dataclasses.dataclass(frozen=True)
class PrivacySpend:
    """The privacy cost of a DP-SGD run.

    Attributes:
      epsilon: ε with the tight conversion of ``accounting``.
      epsilon_classic: ε with the classic RDP conversion (see module docstring).
      delta: δ of the guarantee, in (0, 1).
      noise_multiplier: σ, noise std divided by the clip norm C.
      sampling_rate: q = expected batch size / number of examples, in (0, 1].
      steps: number of noisy steps that touched real data.
      accounting: ``"rdp"`` or ``"pld"``.
    """

    epsilon: float
    epsilon_classic: float
    delta: float
    noise_multiplier: float
    sampling_rate: float
    steps: int
    accounting: str = "rdp"

    def as_dict(self, setting: str) -> dict:
        """The ``privacy`` entry of results.json (DESIGN.md)."""
        return {"setting": setting, **dataclasses.asdict(self)}


def _check(*, sampling_rate: float, noise_multiplier: float, steps: int, delta: float) -> None:
    if not 0.0 < delta < 1.0:
        raise PrivacyConfigError(f"delta must be in (0, 1), got {delta}; a common choice is 1/N or 1e-5.")
    if not 0.0 < sampling_rate <= 1.0:
        raise PrivacyConfigError(
            f"sampling rate q = batch_size / examples must be in (0, 1], got {sampling_rate:g}; "
            "use a batch size no larger than the number of examples."
        )
    if noise_multiplier < 0 or not math.isfinite(noise_multiplier):
        raise PrivacyConfigError(f"noise multiplier must be a finite number >= 0, got {noise_multiplier}.")
    if int(steps) != steps or steps < 0:
        raise PrivacyConfigError(f"steps must be a non-negative integer, got {steps}.")
    if steps > MAX_STEPS:
        raise PrivacyConfigError(f"{steps:.3g} steps is beyond any training run (at most {MAX_STEPS:.0e}); check the "
                                 "epochs or steps.")


def _check_choice(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise PrivacyConfigError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}.")


def dp_sgd_event(*, sampling_rate: float, noise_multiplier: float, steps: int) -> dp_accounting.DpEvent:
    """The DpEvent of ``steps`` Poisson-sampled Gaussian steps (rate q, noise σ)."""
    return dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier)),
        int(steps),
    )


def classic_epsilon_from_rdp(*, orders: Sequence[float], rdp_values: Sequence[float], delta: float) -> float:
    """ε = min over α of RDP(α) + log(1/δ)/(α − 1) (Mironov 2017, Prop. 3)."""
    orders_arr = np.asarray(orders, dtype=np.float64)
    rdp_arr = np.asarray(rdp_values, dtype=np.float64)
    eps = rdp_arr + math.log(1.0 / delta) / (orders_arr - 1.0)
    return float(max(np.nanmin(eps), 0.0))


class ClassicRdpAccountant(rdp.RdpAccountant):
    """``RdpAccountant`` whose ε uses the classic conversion over ``orders`` (the classic orders by default)."""

    def __init__(self, orders: Optional[Sequence[float]] = None) -> None:
        super().__init__(orders=list(orders or CLASSIC_RDP_ORDERS))

    def get_epsilon_and_optimal_order(self, target_delta: float):
        # the composed RDP curve: dp_accounting's public ``rdp`` / ``orders`` properties (0.4.3 and 0.6.0)
        orders, curve = np.asarray(self.orders, dtype=np.float64), np.asarray(self.rdp, dtype=np.float64)
        eps = curve + math.log(1.0 / target_delta) / (orders - 1.0)
        idx = int(np.nanargmin(eps))
        return float(max(eps[idx], 0.0)), float(orders[idx])

    def get_epsilon(self, target_delta: float) -> float:
        return self.get_epsilon_and_optimal_order(target_delta)[0]


def make_accountant(*, accounting: str = "rdp", conversion: str = "tight",
                    orders: Optional[Sequence[float]] = None) -> dp_accounting.PrivacyAccountant:
    """A fresh ``dp_accounting`` accountant for ``accounting`` × ``conversion``.

    ``orders``: RDP orders α (> 1) to use instead of the default ones (RDP only); e.g.
    ``TFP_2019_RDP_ORDERS`` to reproduce an ε that a 2019–2020 paper computed with them.
    """
    _check_choice(accounting, ACCOUNTINGS, "accounting")
    _check_choice(conversion, CONVERSIONS, "conversion")
    if orders is not None:
        if accounting != "rdp":
            raise PrivacyConfigError("RDP orders apply to RDP accounting only; use accounting='rdp'.")
        if not len(orders) or min(orders) <= 1:
            raise PrivacyConfigError(f"RDP orders must be a non-empty list of numbers > 1, got {orders}.")
    if conversion == "classic":
        if accounting != "rdp":
            raise PrivacyConfigError("the classic conversion is defined for RDP only; use --accounting rdp.")
        return ClassicRdpAccountant(orders)
    if accounting == "rdp":
        return rdp.RdpAccountant(list(orders)) if orders is not None else rdp.RdpAccountant()
    return pld.PLDAccountant()


def compute_epsilon(
    *,
    sampling_rate: float,
    noise_multiplier: float,
    steps: int,
    delta: float,
    accounting: str = "rdp",
    conversion: str = "tight",
    orders: Optional[Sequence[float]] = None,
) -> float:
    """ε after ``steps`` Poisson-sampled Gaussian steps; 0 steps cost ε = 0, σ = 0 costs ∞.

    ``orders``: RDP orders instead of the defaults (see ``make_accountant``).
    """
    _check(sampling_rate=sampling_rate, noise_multiplier=noise_multiplier, steps=steps, delta=delta)
    accountant = make_accountant(accounting=accounting, conversion=conversion, orders=orders)
    if steps == 0:
        return 0.0
    if noise_multiplier == 0:
        return math.inf
    if noise_multiplier > MAX_NOISE_MULTIPLIER:
        return _huge_noise_epsilon(sampling_rate=sampling_rate, noise_multiplier=noise_multiplier, steps=steps,
                                   delta=delta, accounting=accounting, conversion=conversion, orders=orders)
    if accounting == "pld" and noise_multiplier < MIN_PLD_NOISE_MULTIPLIER:
        raise PrivacyConfigError(f"PLD accounting at noise multiplier {noise_multiplier:g} (below "
                                 f"{MIN_PLD_NOISE_MULTIPLIER:g}) needs gigabytes of memory; use accounting rdp.")
    try:
        accountant.compose(dp_sgd_event(sampling_rate=sampling_rate, noise_multiplier=noise_multiplier, steps=steps))
        return float(accountant.get_epsilon(delta))
    except (ZeroDivisionError, OverflowError, FloatingPointError):  # σ so small that no finite ε is computable
        return math.inf
    except MemoryError:
        raise PrivacyConfigError(f"{accounting.upper()} accounting of {steps} steps at noise multiplier "
                                 f"{noise_multiplier:g} needs more memory than this machine has; use accounting "
                                 "rdp.") from None
    except ValueError as err:  # the subsampled RDP underflowed to (slightly negative) rounding noise
        if "cannot be negative" not in str(err):
            raise
    return _huge_noise_epsilon(sampling_rate=sampling_rate, noise_multiplier=noise_multiplier, steps=steps,
                               delta=delta, accounting=accounting, conversion=conversion, orders=orders)


def _huge_noise_epsilon(*, sampling_rate, noise_multiplier, steps, delta, accounting, conversion, orders) -> float:
    """An upper bound on ε for σ beyond what the subsampled accountant resolves numerically.

    The smaller of: the same steps without subsampling (q = 1, exact Gaussian RDP / PLD; skipped
    when σ² overflows a float), and ε at σ = ``MAX_NOISE_MULTIPLIER`` when σ exceeds it (ε falls
    as σ grows); ∞ when neither is available. Never under-reports.
    """
    bounds = []
    accountant = make_accountant(accounting=accounting, conversion=conversion, orders=orders)
    try:
        accountant.compose(dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(noise_multiplier),
                                                              int(steps)))
        bounds.append(float(accountant.get_epsilon(delta)))
    except (OverflowError, FloatingPointError, ZeroDivisionError):  # σ² beyond a float (σ ≳ 1e154): the bound below
        pass
    if noise_multiplier > MAX_NOISE_MULTIPLIER:
        bounds.append(compute_epsilon(sampling_rate=sampling_rate, noise_multiplier=MAX_NOISE_MULTIPLIER, steps=steps,
                                      delta=delta, accounting=accounting, conversion=conversion, orders=orders))
    return min(bounds, default=math.inf)


def privacy_spend(
    *, sampling_rate: float, noise_multiplier: float, steps: int, delta: float, accounting: str = "rdp",
    classic_orders: Optional[Sequence[float]] = None,
) -> PrivacySpend:
    """Both ε (tight with ``accounting``, and classic RDP, over ``classic_orders`` if given) for one DP-SGD run."""
    kwargs = dict(sampling_rate=sampling_rate, noise_multiplier=noise_multiplier, steps=steps, delta=delta)
    return PrivacySpend(
        epsilon=compute_epsilon(**kwargs, accounting=accounting, conversion="tight"),
        epsilon_classic=compute_epsilon(**kwargs, accounting="rdp", conversion="classic", orders=classic_orders),
        delta=delta,
        noise_multiplier=noise_multiplier,
        sampling_rate=sampling_rate,
        steps=int(steps),
        accounting=accounting,
    )


def steps_from_epochs(*, examples: int, batch_size: int, epochs: float) -> int:
    """Noisy steps in ``epochs`` passes with fixed batches of ``batch_size``.

    The training pipelines drop the last partial batch, so one epoch is
    ``examples // batch_size`` steps, each with sampling rate q = batch_size / examples.
    """
    if examples <= 0 or batch_size <= 0:
        raise PrivacyConfigError(f"examples and batch size must be positive, got {examples} and {batch_size}.")
    if batch_size > examples:
        raise PrivacyConfigError(
            f"batch size {batch_size} is larger than the number of examples {examples}; use a smaller batch."
        )
    if epochs < 0:
        raise PrivacyConfigError(f"epochs must be >= 0, got {epochs}.")
    return int(math.floor(epochs * (examples // batch_size) + 1e-9))


def max_steps_within_budget(
    *,
    sampling_rate: float,
    noise_multiplier: float,
    target_epsilon: float,
    delta: float,
    accounting: str = "rdp",
    conversion: str = "tight",
    limit: int = 10_000_000,
) -> int:
    """The largest T with ε(T) ≤ ``target_epsilon`` (ε grows with T); ``limit`` if even that fits."""
    if target_epsilon <= 0:
        raise PrivacyConfigError(f"target epsilon must be > 0, got {target_epsilon}.")

    eps = functools.partial(compute_epsilon, sampling_rate=sampling_rate, noise_multiplier=noise_multiplier,
                            delta=delta, accounting=accounting, conversion=conversion)
    if eps(steps=1) > target_epsilon:
        return 0
    lo, hi = 1, 2
    while hi < limit and eps(steps=hi) <= target_epsilon:
        lo, hi = hi, min(2 * hi, limit)
    if hi >= limit and eps(steps=limit) <= target_epsilon:
        return limit
    while hi - lo > 1:  # invariant: eps(lo) <= target < eps(hi)
        mid = (lo + hi) // 2
        if eps(steps=mid) <= target_epsilon:
            lo = mid
        else:
            hi = mid
    return lo


def noise_multiplier_for_epsilon(
    *,
    sampling_rate: float,
    steps: int,
    target_epsilon: float,
    delta: float,
    accounting: str = "rdp",
    conversion: str = "tight",
    tolerance: float = 1e-4,
) -> float:
    """The smallest σ (to within ``tolerance``) whose ε after ``steps`` is ≤ ``target_epsilon``.

    Uses ``dp_accounting.calibrate_dp_mechanism``. Raises ``PrivacyConfigError`` when
    no σ ≤ ``MAX_NOISE_MULTIPLIER`` reaches the target (the classic conversion, for
    instance, can never go below log(1/δ)/62).
    """
    _check(sampling_rate=sampling_rate, noise_multiplier=1.0, steps=steps, delta=delta)
    if target_epsilon <= 0:
        raise PrivacyConfigError(f"target epsilon must be > 0, got {target_epsilon}.")
    if steps == 0:
        return 0.0

    floor = compute_epsilon(sampling_rate=sampling_rate, noise_multiplier=MAX_NOISE_MULTIPLIER, steps=steps,
                            delta=delta, accounting=accounting, conversion=conversion)
    if floor > target_epsilon:
        raise PrivacyConfigError(
            f"target epsilon {target_epsilon:g} is unreachable: even noise multiplier {MAX_NOISE_MULTIPLIER:g} "
            f"gives epsilon {floor:.4g} ({conversion} {accounting}); raise the target, or lower the steps "
            "or the sampling rate."
        )
    low, high = 1e-3, MAX_NOISE_MULTIPLIER
    if accounting == "pld":
        # A PLD at small σ needs a huge discretised loss range (tens of GB): bracket σ with RDP first. RDP's ε
        # is an upper bound on PLD's, so the RDP answer meets the target under PLD too; PLD needs at most that.
        high = noise_multiplier_for_epsilon(sampling_rate=sampling_rate, steps=steps, target_epsilon=target_epsilon,
                                            delta=delta, accounting="rdp", conversion="tight", tolerance=tolerance)
        low = max(high / 2, MIN_PLD_NOISE_MULTIPLIER)
        while compute_epsilon(sampling_rate=sampling_rate, noise_multiplier=low, steps=steps, delta=delta,
                              accounting="pld") <= target_epsilon:
            if low <= MIN_PLD_NOISE_MULTIPLIER:
                raise PrivacyConfigError(
                    f"target epsilon {target_epsilon:g} is met by noise multipliers below "
                    f"{MIN_PLD_NOISE_MULTIPLIER:g}, where PLD accounting needs gigabytes of memory; use accounting rdp.")
            low = max(low / 2, MIN_PLD_NOISE_MULTIPLIER)
    else:
        eps = functools.partial(compute_epsilon, sampling_rate=sampling_rate, steps=steps, delta=delta,
                                accounting=accounting, conversion=conversion)
        if eps(noise_multiplier=low) <= target_epsilon:
            raise PrivacyConfigError(f"target epsilon {target_epsilon:g} is met even by noise multiplier {low:g}: "
                                     "it bounds nothing; choose a smaller target.")
        # Narrow the bracket to one doubling of σ: at σ near MAX_NOISE_MULTIPLIER and small q the subsampled RDP of
        # older dp_accounting (0.4) rounds to a negative divergence and raises, which brentq cannot bracket over.
        while 2 * low < high and eps(noise_multiplier=2 * low) > target_epsilon:
            low *= 2
        high = min(2 * low, high)
    try:
        sigma = dp_accounting.calibrate_dp_mechanism(
            lambda: make_accountant(accounting=accounting, conversion=conversion),
            lambda s: dp_sgd_event(sampling_rate=sampling_rate, noise_multiplier=s, steps=steps),
            target_epsilon,
            delta,
            bracket_interval=dp_accounting.ExplicitBracketInterval(low, high),
            tol=tolerance,
        )
    except (ValueError, ArithmeticError, _NO_OPTIMUM) as err:
        raise PrivacyConfigError(f"could not calibrate the noise multiplier for target epsilon {target_epsilon:g} "
                                 f"({err}); check the target and the run's length.") from None
    return float(sigma)
