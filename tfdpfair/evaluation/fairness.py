"""Group fairness of a binary classifier: per-group accuracy, accuracy gap, ΔDemP, ΔEO, bootstrap CIs.

Keyword-only pure functions over ``(y_true, y_pred, sensitive_features)``, as fairlearn's.
Definitions (Farrand et al. 2020, §4.3, after Hardt et al. 2016), for labels and
predictions in {0, 1}:

* accuracy gap: accuracy(majority group) − accuracy(minority group) (signed; the paper's
  "female − male");
* ΔDemP, demographic-parity difference: max − min over groups of P(Ŷ = 1 | S = s)
  (fairlearn's ``demographic_parity_difference``; with two groups, |P(Ŷ=1|S=0) − P(Ŷ=1|S=1)|);
* ΔEO, equality-of-opportunity difference: max − min over groups of P(Ŷ = 1 | Y = 1, S = s)
  (fairlearn's ``true_positive_rate_difference``).

All of them are functions of counts per (group, label) cell, which is how they are
computed here: vectorised over bootstrap resamples, a thousand resamples cost about as
much as one call to fairlearn's ``MetricFrame``. The tests check every point value
against fairlearn on random inputs.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Hashable, Optional, Tuple

import numpy as np

METRICS = ("accuracy", "accuracy_gap", "demographic_parity_difference", "equal_opportunity_difference")


@dataclasses.dataclass(frozen=True)
class _CellCounts:
    """Counts per (group, label) cell, optionally with a leading resample axis."""

    groups: Tuple[Hashable, ...]
    n: np.ndarray          # (..., G, 2) examples
    correct: np.ndarray    # (..., G, 2) correct predictions
    predicted: np.ndarray  # (..., G, 2) predictions of 1

    def accuracy(self) -> np.ndarray:
        return self.correct.sum(axis=(-1, -2)) / self.n.sum(axis=(-1, -2))

    def group_accuracy(self) -> np.ndarray:
        return self.correct.sum(-1) / self.n.sum(-1)

    def selection_rate(self) -> np.ndarray:
        return self.predicted.sum(-1) / self.n.sum(-1)

    def true_positive_rate(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.predicted[..., 1] / self.n[..., 1]


def _as_arrays(y_true, y_pred, sensitive_features):
    y_true, y_pred, s = (np.asarray(a).reshape(-1) for a in (y_true, y_pred, sensitive_features))
    if not len(y_true) == len(y_pred) == len(s):
        raise ValueError(f"y_true, y_pred and sensitive_features differ in length: "
                         f"{len(y_true)}, {len(y_pred)}, {len(s)}")
    if len(y_true) == 0:
        raise ValueError("no examples")
    for name, a in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.isin(a, (0, 1)).all():
            raise ValueError(f"{name} must be binary labels in {{0, 1}}, got values {np.unique(a)[:5]}")
    return y_true.astype(np.int64), y_pred.astype(np.int64), s


def _counts(y_true, y_pred, s) -> _CellCounts:
    groups = tuple(np.unique(s).tolist())
    g = np.searchsorted(np.asarray(groups), s)
    cell = 2 * g + y_true
    size = 2 * len(groups)
    shape = (len(groups), 2)
    return _CellCounts(
        groups=groups,
        n=np.bincount(cell, minlength=size).reshape(shape).astype(np.float64),
        correct=np.bincount(cell, weights=(y_true == y_pred), minlength=size).reshape(shape),
        predicted=np.bincount(cell, weights=y_pred, minlength=size).reshape(shape),
    )


def _spread(values: np.ndarray) -> np.ndarray:
    return np.nanmax(values, axis=-1) - np.nanmin(values, axis=-1)


def group_accuracy(*, y_true, y_pred, sensitive_features) -> Dict[Hashable, float]:
    """Accuracy in [0, 1] of each group, keyed by the group's value in ``sensitive_features``."""
    c = _counts(*_as_arrays(y_true, y_pred, sensitive_features))
    return dict(zip(c.groups, c.group_accuracy().tolist()))


def accuracy_gap(*, y_true, y_pred, sensitive_features, majority: Hashable) -> float:
    """accuracy(majority) − accuracy(other group), in [−1, 1]; exactly two groups."""
    c = _counts(*_as_arrays(y_true, y_pred, sensitive_features))
    return float(_gap(c, majority))


def _gap(c: _CellCounts, majority) -> np.ndarray:
    if len(c.groups) != 2 or majority not in c.groups:
        raise ValueError(f"the accuracy gap needs exactly two groups, one of them the majority {majority!r}; "
                         f"got groups {list(c.groups)}")
    acc = c.group_accuracy()
    i = c.groups.index(majority)
    return acc[..., i] - acc[..., 1 - i]


def demographic_parity_difference(*, y_true, y_pred, sensitive_features) -> float:
    """ΔDemP: max − min over groups of the rate of predicting 1, in [0, 1]."""
    c = _counts(*_as_arrays(y_true, y_pred, sensitive_features))
    return float(_spread(c.selection_rate()))


def equal_opportunity_difference(*, y_true, y_pred, sensitive_features) -> float:
    """ΔEO: max − min over groups of the true-positive rate, in [0, 1] (groups without positives skipped)."""
    c = _counts(*_as_arrays(y_true, y_pred, sensitive_features))
    return float(_spread(c.true_positive_rate()))


def _all_metrics(c: _CellCounts, majority) -> Dict[str, np.ndarray]:
    out = {"accuracy": c.accuracy(), "demographic_parity_difference": _spread(c.selection_rate()),
           "equal_opportunity_difference": _spread(c.true_positive_rate())}
    out["accuracy_gap"] = _gap(c, majority)
    for i, group in enumerate(c.groups):
        out[f"accuracy[{group}]"] = c.group_accuracy()[..., i]
    return out


@dataclasses.dataclass(frozen=True)
class FairnessReport:
    """Point values and bootstrap confidence intervals of the group metrics.

    Attributes:
      values: metric name → value (``accuracy``, ``accuracy[<group>]``, ``accuracy_gap``,
        ``demographic_parity_difference``, ``equal_opportunity_difference``), accuracies in [0, 1].
      intervals: metric name → (low, high), the percentile bootstrap interval.
      confidence: the intervals' level, e.g. 0.95.
      n_resamples: bootstrap resamples (0: no intervals).
    """

    values: Dict[str, float]
    intervals: Dict[str, Tuple[float, float]]
    confidence: float
    n_resamples: int

    def as_dict(self) -> dict:
        out = dict(self.values)
        for name, (low, high) in self.intervals.items():
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = low, high
        return out


def fairness_report(
    *,
    y_true,
    y_pred,
    sensitive_features,
    majority: Hashable,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: Optional[int] = 0,
) -> FairnessReport:
    """Every metric of this module with percentile bootstrap intervals.

    Resampling is stratified by (group, label) cell: each resample keeps the evaluation
    set's cell sizes (so every group keeps its positives) and redraws its examples with
    replacement. Two groups exactly; ``majority`` names the one the gap starts from.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 0:
        raise ValueError(f"n_resamples must be >= 0, got {n_resamples}")
    y_true, y_pred, s = _as_arrays(y_true, y_pred, sensitive_features)
    point = _counts(y_true, y_pred, s)
    values = {k: float(v) for k, v in _all_metrics(point, majority).items()}
    intervals = {}
    if n_resamples:
        resampled = _bootstrap_counts(y_true, y_pred, s, point.groups, n_resamples, np.random.default_rng(seed))
        alpha = (1 - confidence) / 2
        for name, draws in _all_metrics(resampled, majority).items():
            low, high = np.nanquantile(draws, [alpha, 1 - alpha])
            intervals[name] = (float(low), float(high))
    return FairnessReport(values=values, intervals=intervals, confidence=confidence, n_resamples=n_resamples)


def _bootstrap_counts(y_true, y_pred, s, groups, n_resamples: int, rng: np.random.Generator) -> _CellCounts:
    shape = (n_resamples, len(groups), 2)
    n, correct, predicted = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for gi, group in enumerate(groups):
        for label in (0, 1):
            members = np.flatnonzero((s == group) & (y_true == label))
            if not len(members):
                continue
            draw = members[rng.integers(0, len(members), size=(n_resamples, len(members)))]
            n[:, gi, label] = len(members)
            correct[:, gi, label] = (y_pred[draw] == label).sum(axis=1)
            predicted[:, gi, label] = y_pred[draw].sum(axis=1)
    return _CellCounts(groups=groups, n=n, correct=correct, predicted=predicted)
