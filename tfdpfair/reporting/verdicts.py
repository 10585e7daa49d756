"""Is a measured effect beyond the noise? The verdicts a findings section states.

``verdict(effect, noise=...)``: ``effect`` is signed so that > 0 is the paper's direction;
``noise`` is the half-width of the effect's interval (e.g. 1.96 × its standard error, or a
seed spread). "reproduced" only when the effect exceeds the noise, "same direction, within
the noise" when it is positive but does not, else "not reproduced".

The standard errors are those of evaluation sampling (a finite test set, a finite attack
set) for one trained model: they do not include the training run's own randomness, which
only repeated seeds measure; a report using them says so.
"""
from __future__ import annotations

import math
from typing import Sequence

REPRODUCED = "reproduced"
WITHIN_NOISE = "same direction, within the noise"
NOT_REPRODUCED = "not reproduced"


def verdict(effect: float, *, noise: float) -> str:
    """The verdict for one effect (> 0: the paper's direction) against the noise half-width (≥ 0)."""
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    if effect > noise:
        return REPRODUCED
    return WITHIN_NOISE if effect > 0 else NOT_REPRODUCED


def all_verdict(effects: Sequence[float], *, noise: float) -> str:
    """One verdict for a finding made of several effects: each must pass."""
    if not effects:
        raise ValueError("no effects to judge")
    verdicts = [verdict(e, noise=noise) for e in effects]
    for v in (NOT_REPRODUCED, WITHIN_NOISE):
        if v in verdicts:
            return v
    return REPRODUCED


def accuracy_standard_error(*, accuracy: float, examples: int) -> float:
    """Binomial standard error of an accuracy in [0, 1] measured on ``examples`` ≥ 1 test images."""
    if examples < 1 or not 0 <= accuracy <= 1:
        raise ValueError(f"need examples >= 1 and accuracy in [0, 1], got {examples} and {accuracy}")
    return math.sqrt(accuracy * (1 - accuracy) / examples)


def auc_standard_error(*, auc: float, members: int, non_members: int) -> float:
    """Hanley & McNeil's (1982) standard error of an AUC in [0, 1] from ``members`` and ``non_members`` (≥ 1 each)."""
    if members < 1 or non_members < 1 or not 0 <= auc <= 1:
        raise ValueError(f"need members, non_members >= 1 and auc in [0, 1], got {members}, {non_members}, {auc}")
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (members - 1) * (q1 - auc * auc) + (non_members - 1) * (q2 - auc * auc)) / (
        members * non_members)
    return math.sqrt(max(variance, 0.0))


def difference_noise(*standard_errors: float, z: float = 1.96) -> float:
    """Half-width of the interval of a difference of independent estimates: z·√(Σ SE²)."""
    return z * math.sqrt(sum(se * se for se in standard_errors))
