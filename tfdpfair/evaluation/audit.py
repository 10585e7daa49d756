"""Empirical lower bounds on ε, to print beside the accountant's ε (an upper bound).

An accountant proves ε ≤ ε_acc for a training algorithm; an audit runs an attack and
proves, at a stated confidence, that ε ≥ ε_lb. A sound implementation has ε_lb ≤ ε_acc
(except with probability 1 − confidence); a gap says how loose the accounting, or how
weak the attack, is. Neither bound says anything about one particular trained model.

Two kinds of bound:

``epsilon_lower_bound`` — from membership scores of members and non-members (e.g. the
  scores of ``tfdpfair.evaluation.membership``). An ε-DP algorithm makes any threshold
  attack satisfy TPR ≤ e^ε · FPR (and TNR ≤ e^ε · FNR, and the reversed ratios), so a
  (1 − α) lower confidence bound on such a ratio, from TF Privacy's ``RatioBound``, gives
  ε ≥ log(ratio bound) with confidence 1 − α. Assumes the scores are independent draws
  for examples that were (members) or were not (non-members) in training: the members and
  non-members themselves are fixed, so the bound is about this data, and with scores of
  one model it tests one draw of the training algorithm. The ratio test is for ε-DP: it
  ignores δ, which matters only when δ is comparable to the rates measured (≈ 1/n, n
  examples per side); with δ = 1e-5 and a few thousand examples it is negligible.

  ``selection="split"`` (default) chooses the threshold and the ratio on one random half
  of each side and computes one bound on the other half: a (1 − α) bound when members and
  non-members are exchangeable (one distribution, random assignment) and their scores
  independent; one model's scores are not quite independent, and a dataset's fixed
  train / test split is not a random assignment, so treat it as an estimate and use
  ``one_run_audit`` where a bound without these assumptions is needed.
  ``selection="all"`` is what TF Privacy's ``run_attacks`` reports: every threshold's
  (1 − α) bound, maximised over thresholds. Maximising many (1 − α) bounds is optimistic
  (multiple comparisons): it is not a (1 − α) bound, and it exceeds ε_acc more often
  than 1 − confidence.

``one_run_audit`` — Steinke, Nasr & Jagielski (2023), "Privacy auditing with one (1)
  training run", NeurIPS (Appendix D). m canaries are each added to the training data
  independently with probability ½; after training, the auditor guesses "in" or "out"
  for r of them (abstaining on the rest) and counts v correct guesses. Under (ε, δ)-DP
  with respect to adding or removing one example, v is stochastically dominated by
  Binomial(r, e^ε / (1 + e^ε)) up to a δ term, so a large v rejects small ε. Valid for
  any scoring and guessing rule that does not look at which canaries were included; the
  real training data is always included and is not audited. One training run gives a
  bound far below ε_acc unless r is large and the attack is strong (the paper's tight
  bounds need thousands of canaries and white-box access): read it as "at least".

Scores: higher = "more likely a member" throughout.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Dict, Mapping, Optional, Tuple

import numpy as np
import scipy.special
import scipy.stats

from tfdpfair.errors import InputError

METHODS = {
    "clopper_pearson": "CLOPPER_PEARSON",
    "bailey": "BAILEY",
    "katz_log": "KATZ_LOG",
    "adjusted_log": "ADJUSTED_LOG",
    "inv_sinh": "INV_SINH",
}
"""Our ratio-bound names → TF Privacy's ``BoundMethod`` names."""

SELECTIONS = ("split", "all")
DIRECTIONS = ("tpr/fpr", "tnr/fnr", "fpr/tpr", "fnr/tnr")
"""The ratios a threshold attack bounds (predict "member" when score ≥ threshold); the last two are the
attack with the roles of members and non-members swapped, as in TF Privacy's ``two_sided_threshold``."""

_EPSILON_TOLERANCE = 1e-7


# %% Results
@dataclasses.dataclass(frozen=True, kw_only=True)
class EpsilonBound:
    """An empirical lower bound on ε from membership scores (``epsilon_lower_bound``).

    Attributes:
      epsilon: the lower bound on ε, ≥ 0 (0: the attack did not beat chance with confidence).
      method: the ratio bound (a key of ``METHODS``).
      confidence: 1 − α, in (0.5, 1).
      selection: ``"split"`` (a (1 − α) bound under exchangeability) or ``"all"`` (optimistic; see the module
        docstring).
      members / non_members: how many scores of each side the final bound was computed on (the held-out
        halves for ``split``, all scores for ``all``).
      threshold: ``split`` only: the threshold chosen on the first halves; "member" means score ≥ threshold.
      direction: ``split`` only: the ratio bounded, one of ``DIRECTIONS``.
      true_positives / false_positives: ``split`` only: held-out members / non-members with score ≥ threshold;
        with ``members`` and ``non_members`` they give every rate in ``direction``.
    """

    epsilon: float
    method: str
    confidence: float
    selection: str
    members: int
    non_members: int
    threshold: Optional[float] = None
    direction: Optional[str] = None
    true_positives: Optional[int] = None
    false_positives: Optional[int] = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class OneRunAudit:
    """The result of ``one_run_audit``: Steinke et al.'s one-run lower bound and what it was computed from.

    Attributes:
      epsilon: the lower bound on ε at ``delta``, ≥ 0, with confidence ``confidence``.
      canaries: m, the number of canaries (each included with probability ½).
      guesses: r = k_positive + k_negative, the canaries guessed on.
      correct: v, the correct guesses, 0 ≤ v ≤ r.
      k_positive / k_negative: guesses of "in" (highest scores) and "out" (lowest scores).
      delta: δ of the (ε, δ) guarantee tested, in [0, 1].
      confidence: in (0, 1).
      included: (m,) bool, which canaries were trained on.
      scores: (m,) float, each canary's score: minus the cross-entropy of its label (nats, ≤ 0).
    """

    epsilon: float
    canaries: int
    guesses: int
    correct: int
    k_positive: int
    k_negative: int
    delta: float
    confidence: float
    included: np.ndarray
    scores: np.ndarray


# %% Bounds from member / non-member scores
def _scores(values, name: str, minimum: int) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise InputError(f"{name} must be a 1-dimensional array of scores, got shape {array.shape}")
    if len(array) < minimum:
        raise InputError(f"{name} needs at least {minimum} scores, got {len(array)}")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{name} contains NaN or infinity")
    return array


def _confidence(confidence, *, above: float = 0.0) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not above < confidence < 1:
        raise InputError(f"confidence must be a number in ({above:g}, 1), got {confidence!r}")
    return float(confidence)


def _bound_method(method: str):
    from tfdpfair.evaluation.membership import tf_privacy_tests

    if method not in METHODS:
        raise InputError(f"unknown ratio-bound method {method!r}; choose one of {', '.join(METHODS)}")
    return getattr(tf_privacy_tests().elb.BoundMethod, METHODS[method])


def _counts_at_or_above(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many of ``scores`` are ≥ each threshold."""
    ordered = np.sort(scores)
    return len(ordered) - np.searchsorted(ordered, thresholds, side="left")


def _ratio_arguments(direction: str, tp, fp, members: int, non_members: int):
    """``RatioBound``'s (numerator count, denominator count, numerator size, denominator size) for ``direction``."""
    fn, tn = members - tp, non_members - fp
    return {"tpr/fpr": (tp, fp, members, non_members), "tnr/fnr": (tn, fn, non_members, members),
            "fpr/tpr": (fp, tp, non_members, members), "fnr/tnr": (fn, tn, members, non_members)}[direction]


def _ratio_bound(elb, bound_method, direction: str, tp, fp, members: int, non_members: int, alpha: float):
    numerator, denominator, numerator_size, denominator_size = _ratio_arguments(direction, tp, fp, members,
                                                                                non_members)
    ratio = elb.RatioBound(numerator, denominator, numerator_size, denominator_size, alpha)
    return np.asarray(ratio.compute_bound(bound_method), dtype=np.float64)


def _log_or_zero(ratio: float) -> float:
    return math.log(ratio) if np.isfinite(ratio) and ratio > 1 else 0.0


def epsilon_lower_bound(*, member_scores, non_member_scores, confidence: float = 0.95,
                        method: str = "clopper_pearson", selection: str = "split", seed: int = 0) -> EpsilonBound:
    """A lower bound on ε from a threshold attack on membership scores (higher = "member").

    ``confidence``: 1 − α, in (0.5, 1). ``method``: TF Privacy's ratio bound, one of
    ``METHODS`` (``clopper_pearson``: exact, conservative; the others: normal
    approximations). ``selection``:

    * ``"split"`` (default): each side is split at random (numpy ``Generator`` seeded by
      ``seed``) into halves; the threshold and the ratio (``DIRECTIONS``) with the largest
      bound on the first halves are kept, and ONE (1 − α) bound of that ratio at that
      threshold is computed on the second halves: a (1 − α) lower bound on ε from half the
      data, valid when members and non-members are exchangeable (drawn from one distribution
      and assigned at random) and their scores independent. Scores of one trained model
      are not quite independent, and a train / test split made by a dataset's authors (as
      MNIST's) is not a random assignment; for a bound with no such assumption, use
      ``one_run_audit``.
    * ``"all"``: TF Privacy's ``EpsilonLowerBound(..., two_sided_threshold=True)`` on all
      scores, maximised over every threshold and ratio — what TF Privacy's ``run_attacks``
      reports. Each threshold's bound holds with probability 1 − α, but their maximum is
      optimistic (multiple comparisons): NOT a (1 − α) bound.

    The ratio test is for pure ε-DP (TPR ≤ e^ε · FPR) and ignores δ, which is sound only
    when δ is far below the rates measured (≈ 1/n, n scores per side). Returns an
    ``EpsilonBound`` with ε ≥ 0 (nats).
    """
    if selection not in SELECTIONS:
        raise InputError(f"unknown selection {selection!r}; choose one of {', '.join(SELECTIONS)}")
    minimum = 2 if selection == "split" else 1
    members = _scores(member_scores, "member_scores", minimum)
    non_members = _scores(non_member_scores, "non_member_scores", minimum)
    confidence = _confidence(confidence, above=0.5)
    bound_method = _bound_method(method)
    from tfdpfair.evaluation.membership import tf_privacy_tests

    elb = tf_privacy_tests().elb
    alpha = 1.0 - confidence
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if selection == "all":
            bounds = elb.EpsilonLowerBound(members, non_members, alpha=alpha,
                                           two_sided_threshold=True).compute_epsilon_lower_bound(bound_method)
            bounds = bounds[np.isfinite(bounds)]
            epsilon = max(float(np.max(bounds)), 0.0) if len(bounds) else 0.0
            return EpsilonBound(epsilon=epsilon, method=method, confidence=confidence, selection=selection,
                                members=len(members), non_members=len(non_members))
        rng = np.random.default_rng(seed)
        member_order, non_member_order = rng.permutation(len(members)), rng.permutation(len(non_members))
        m_half, n_half = len(members) // 2, len(non_members) // 2
        select_m, test_m = members[member_order[:m_half]], members[member_order[m_half:]]
        select_n, test_n = non_members[non_member_order[:n_half]], non_members[non_member_order[n_half:]]

        thresholds = np.unique(np.concatenate([select_m, select_n]))
        tp, fp = _counts_at_or_above(select_m, thresholds), _counts_at_or_above(select_n, thresholds)
        best = (-np.inf, thresholds[0], DIRECTIONS[0])
        for direction in DIRECTIONS:
            ratios = _ratio_bound(elb, bound_method, direction, tp, fp, len(select_m), len(select_n), alpha)
            ratios = np.where(np.isfinite(ratios), ratios, -np.inf)
            index = int(np.argmax(ratios))
            if ratios[index] > best[0]:
                best = (ratios[index], thresholds[index], direction)
        _, threshold, direction = best

        held_tp = int(_counts_at_or_above(test_m, np.array([threshold]))[0])
        held_fp = int(_counts_at_or_above(test_n, np.array([threshold]))[0])
        ratio = float(_ratio_bound(elb, bound_method, direction, held_tp, held_fp, len(test_m), len(test_n), alpha))
    return EpsilonBound(epsilon=_log_or_zero(ratio), method=method, confidence=confidence, selection=selection,
                        members=len(test_m), non_members=len(test_n), threshold=float(threshold),
                        direction=direction, true_positives=held_tp, false_positives=held_fp)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AttackAuditBound:
    """The best of several attacks' ``split`` bounds, Bonferroni-corrected so that the maximum keeps its confidence.

    Attributes:
      epsilon: max over attacks of each attack's bound at confidence 1 − (1 − confidence)/attacks, ≥ 0.
      attack: the attack that reached it (None when every bound is 0).
      confidence: the overall confidence, in (0.5, 1).
      per_attack: attack → its ``EpsilonBound``.
    """

    epsilon: float
    attack: Optional[str]
    confidence: float
    per_attack: Dict[str, EpsilonBound]


def attack_audit_bound(scores: Mapping[str, Tuple[np.ndarray, np.ndarray]], *, confidence: float = 0.95,
                       method: str = "clopper_pearson", seed: int = 0) -> AttackAuditBound:
    """A lower bound on ε from several attacks' scores (e.g. ``MembershipReport.scores``), under the ``split``
    assumptions (``epsilon_lower_bound``).

    Each attack's (member scores, non-member scores) gets a ``split`` bound at confidence
    1 − α/k for k attacks, so that their maximum holds with confidence 1 − α (Bonferroni).
    """
    if not scores:
        raise InputError("no attack scores to bound")
    confidence = _confidence(confidence, above=0.5)
    each = 1.0 - (1.0 - confidence) / len(scores)
    per_attack = {name: epsilon_lower_bound(member_scores=members, non_member_scores=non_members, confidence=each,
                                            method=method, selection="split", seed=seed)
                  for name, (members, non_members) in scores.items()}
    best = max(per_attack, key=lambda name: per_attack[name].epsilon)
    epsilon = per_attack[best].epsilon
    return AttackAuditBound(epsilon=epsilon, attack=best if epsilon > 0 else None, confidence=confidence,
                            per_attack=per_attack)


# %% Steinke, Nasr & Jagielski (2023): one training run
def _count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InputError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def _delta(delta) -> float:
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 <= delta <= 1:
        raise InputError(f"delta must be a number in [0, 1], got {delta!r}")
    return float(delta)


def _one_run_p_value(*, canaries: int, guesses: int, correct: int, epsilon: float, delta: float) -> float:
    """The p-value of ≥ ``correct`` right out of ``guesses`` under (ε, δ)-DP (Steinke et al., Appendix D)."""
    q = scipy.special.expit(epsilon)  # 1 / (1 + e^-ε): the accuracy of ε-DP randomised response
    beta = scipy.stats.binom.sf(correct - 1, guesses, q)  # P[Binomial(r, q) ≥ v]
    alpha = 0.0
    if correct > 0 and delta > 0:
        i = np.arange(1, correct + 1)
        below = np.cumsum(scipy.stats.binom.pmf(correct - i, guesses, q))  # P[v − i ≤ Binomial(r, q) < v]
        alpha = float(np.max(below / i))
    return float(min(beta + alpha * delta * 2 * canaries, 1.0))


def one_run_epsilon_bound(*, canaries: int, guesses: int, correct: int, delta: float = 0.0,
                          confidence: float = 0.95) -> float:
    """Steinke et al.'s lower bound on ε from ``correct`` right guesses out of ``guesses`` on ``canaries`` canaries.

    The largest ε (nats, to ~1e-6) whose p-value of ``correct`` or more right guesses under
    (ε, ``delta``)-DP is below 1 − ``confidence``; 0 when even ε = 0 is not rejected.
    Needs 0 ≤ correct ≤ guesses ≤ canaries, δ in [0, 1], confidence in (0, 1). Every
    canary must have been included independently with probability ½.
    """
    m, r, v = _count(canaries, "canaries"), _count(guesses, "guesses"), _count(correct, "correct")
    if not v <= r <= m:
        raise InputError(f"need correct <= guesses <= canaries, got correct={v}, guesses={r}, canaries={m}")
    delta = _delta(delta)
    p = 1.0 - _confidence(confidence)

    def rejected(epsilon: float) -> bool:
        return _one_run_p_value(canaries=m, guesses=r, correct=v, epsilon=epsilon, delta=delta) < p

    if not rejected(0.0):
        return 0.0
    low, high = 0.0, 1.0  # rejected(low) holds; find high with not rejected(high)
    while rejected(high):
        low, high = high, 2 * high
    while high - low > _EPSILON_TOLERANCE:
        middle = (low + high) / 2
        low, high = (middle, high) if rejected(middle) else (low, middle)
    return low


def one_run_guesses(*, scores, included, k_positive: int, k_negative: int) -> Tuple[int, int]:
    """Guess "in" for the ``k_positive`` highest scores, "out" for the ``k_negative`` lowest; abstain on the rest.

    ``scores``: (m,) floats, higher = "more likely included"; ``included``: (m,) bools, the
    truth. Ties are broken by position (stable sort). Returns (guesses, correct) = (r, v).
    """
    scores = _scores(scores, "scores", 0)
    included = np.asarray(included)
    if included.shape != scores.shape:
        raise InputError(f"included has shape {included.shape}, scores {scores.shape}; want one flag per canary")
    if included.dtype != bool and not np.isin(included, (0, 1)).all():
        raise InputError("included must hold booleans (or 0 / 1)")
    k_positive, k_negative = _count(k_positive, "k_positive"), _count(k_negative, "k_negative")
    if k_positive + k_negative > len(scores):
        raise InputError(f"k_positive + k_negative = {k_positive + k_negative} guesses, but only {len(scores)} "
                         "canaries")
    included = included.astype(bool)
    order = np.argsort(scores, kind="stable")  # ascending
    out_guesses = order[:k_negative]
    in_guesses = order[len(order) - k_positive:]
    correct = int(np.sum(included[in_guesses]) + np.sum(~included[out_guesses]))
    return k_positive + k_negative, correct


def label_log_likelihood(outputs, labels) -> np.ndarray:
    """Minus the cross-entropy (nats, ≤ 0) of each label under a classifier's (n, classes) outputs.

    Outputs are logits, unless every row looks like probabilities (in [0, 1], summing to 1).
    """
    outputs, labels = np.asarray(outputs, dtype=np.float64), np.asarray(labels)
    if outputs.ndim != 2 or labels.shape != (len(outputs),):
        raise InputError(f"outputs of shape {outputs.shape} do not match labels of shape {labels.shape}; want "
                         "(n, classes) and (n,)")
    if len(labels) and (labels.min() < 0 or labels.max() >= outputs.shape[1]):
        raise InputError(f"labels must lie in [0, {outputs.shape[1] - 1}], the model's classes")
    if not len(labels):
        return np.zeros(0)
    labels = labels.astype(np.int64)
    from tfdpfair.evaluation.membership import as_logits

    log_probs = scipy.special.log_softmax(as_logits(outputs), axis=1)  # log p stays log p
    return log_probs[np.arange(len(labels)), labels]


def one_run_audit(*, train_fn: Callable[[np.ndarray, np.ndarray], object], x, y, canary_x, canary_y,
                  k_positive: int, k_negative: int, delta: float = 0.0, confidence: float = 0.95,
                  seed: int = 0) -> OneRunAudit:
    """Steinke et al.'s one-run audit of a training algorithm, with a black-box loss attack.

    Each canary (``canary_x``, ``canary_y``) is included independently with probability ½
    (numpy ``Generator`` seeded by ``seed``); ``model = train_fn(x_train, y_train)`` trains
    on all of (``x``, ``y``) plus the included canaries, shuffled in (same generator).
    ``model.predict`` scores each canary by minus the cross-entropy of its label (logits,
    or probabilities when rows sum to 1); the ``k_positive`` highest are guessed "in", the
    ``k_negative`` lowest "out". Returns the ``OneRunAudit`` with ε's lower bound at
    ``delta`` (give the δ of the DP guarantee being audited).
    """
    x, y, canary_x, canary_y = (np.asarray(a) for a in (x, y, canary_x, canary_y))
    if len(x) != len(y) or len(canary_x) != len(canary_y):
        raise InputError(f"{len(x)} inputs with {len(y)} labels, {len(canary_x)} canaries with {len(canary_y)} "
                         "labels; want as many labels as inputs")
    if len(canary_x) == 0:
        raise InputError("no canaries to audit with")
    if len(x) and x.shape[1:] != canary_x.shape[1:]:
        raise InputError(f"canaries of shape {canary_x.shape[1:]} do not match the inputs' {x.shape[1:]}")
    m = len(canary_x)
    k_positive, k_negative = _count(k_positive, "k_positive"), _count(k_negative, "k_negative")
    if k_positive + k_negative > m:
        raise InputError(f"k_positive + k_negative = {k_positive + k_negative} guesses, but only {m} canaries")
    delta, confidence = _delta(delta), _confidence(confidence)  # checked before the (long) training
    rng = np.random.default_rng(seed)
    included = rng.random(m) < 0.5
    x_train = np.concatenate([x, canary_x[included]])
    y_train = np.concatenate([y, canary_y[included]])
    order = rng.permutation(len(x_train))
    model = train_fn(x_train[order], y_train[order])
    outputs = np.asarray(model.predict(canary_x, verbose=0))
    scores = label_log_likelihood(outputs, canary_y)
    guesses, correct = one_run_guesses(scores=scores, included=included, k_positive=k_positive,
                                       k_negative=k_negative)
    epsilon = one_run_epsilon_bound(canaries=m, guesses=guesses, correct=correct, delta=delta,
                                    confidence=confidence)
    return OneRunAudit(epsilon=epsilon, canaries=m, guesses=guesses, correct=correct, k_positive=k_positive,
                       k_negative=k_negative, delta=delta, confidence=confidence, included=included,
                       scores=scores)
