"""Hassanpour et al. (2025)'s measures of the accuracy / privacy / fairness trade-off.

Keyword-only pure functions over numpy arrays:

* ``domain_bias`` (Eq. 1): for a model tested on the same images in two domains (CIFAR-10S:
  COLOR and GRAY), the mean over classes of max(Gr_c, Col_c)/(Gr_c + Col_c) − 0.5, where
  Gr_c (Col_c) counts the grey (colour) test images *predicted* as class c. In [0, 0.5]:
  0 = each class is predicted equally often in both domains.
* ``gender_bias`` (Eq. 2, CelebA): per attribute, P_w/(P_w + P_m) − N_w/(N_w + N_m), P the
  positive *predictions* and N the true positives among women (w) and men (m); > 0: the
  model predicts the attribute for women more often than the data has it. In [−1, 1].
* ``harmonic_score`` (Eq. 3): the harmonic mean of accuracy, 1 − AUC_scaled and
  1 − bias_scaled, with AUC mapped from [0.5, 1] and bias from [0, 0.5] onto [0, 1].
* ``generalization_gap``: validation accuracy − training accuracy, as §4.1 defines it
  (≤ 0 when a model overfits; "DP models have a higher GGap" reads naturally this way).
* ``gender_weighted_average_precision`` / ``gender_weighted_map``: CelebA's AP in which the
  positive images of men and of women count equally in total (Wang et al. 2020, whom the
  paper follows): weights (N_m + N_w)/(2 N_m) and (N_m + N_w)/(2 N_w) on positives, 1 on
  negatives; AP from scikit-learn.
* ``gender_skew``: per attribute, the majority gender's share of the positives, in [0.5, 1].
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score


def _labels(values, name: str, num_classes: int) -> np.ndarray:
    a = np.asarray(values).reshape(-1)
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= num_classes:
        raise ValueError(f"{name} must hold class indices in [0, {num_classes}), got {a.dtype} in "
                         f"[{a.min()}, {a.max()}]")
    return a


def domain_bias(*, predictions_gray, predictions_color, num_classes: int) -> float:
    """Eq. 1 from predicted class indices on the grey and the colour test set (the same images).

    Classes that neither set predicts have no domain preference to measure and are left out of the mean.
    """
    gray = np.bincount(_labels(predictions_gray, "predictions_gray", num_classes), minlength=num_classes)
    color = np.bincount(_labels(predictions_color, "predictions_color", num_classes), minlength=num_classes)
    if gray.sum() != color.sum():
        raise ValueError(f"the two test sets differ in size ({gray.sum()} grey, {color.sum()} colour images); "
                         "Eq. 1 compares the same images in both domains")
    total = gray + color
    predicted = total > 0
    return float(np.mean(np.maximum(gray, color)[predicted] / total[predicted]) - 0.5)


def _binary_matrix(values, name: str) -> np.ndarray:
    a = np.asarray(values)
    a = a.reshape(-1, 1) if a.ndim == 1 else a
    if a.ndim != 2 or not np.isin(a, (0, 1)).all():
        raise ValueError(f"{name} must be a 0/1 matrix (examples × attributes)")
    return a.astype(np.float64)


def _women(is_woman, examples: int) -> np.ndarray:
    w = np.asarray(is_woman).reshape(-1)
    if len(w) != examples or not np.isin(w, (0, 1)).all():
        raise ValueError(f"is_woman must be {examples} values in {{0, 1}}")
    return w.astype(bool)


def gender_bias(*, y_true, y_pred, is_woman) -> np.ndarray:
    """Eq. 2 per attribute, shape (attributes,); NaN where the attribute has no true or no predicted positive."""
    y_true, y_pred = _binary_matrix(y_true, "y_true"), _binary_matrix(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    w = _women(is_woman, len(y_true))
    with np.errstate(invalid="ignore", divide="ignore"):
        predicted = y_pred[w].sum(0) / y_pred.sum(0)
        actual = y_true[w].sum(0) / y_true.sum(0)
    return predicted - actual


def gender_skew(*, y_true, is_woman) -> np.ndarray:
    """Per attribute, max(N_w, N_m)/(N_w + N_m) over its positives, shape (attributes,); NaN without positives."""
    y_true = _binary_matrix(y_true, "y_true")
    w = _women(is_woman, len(y_true))
    women, men = y_true[w].sum(0), y_true[~w].sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.maximum(women, men) / (women + men)


def harmonic_score(*, accuracy: float, auc: float, bias: float) -> float:
    """Eq. 3: 3 / (1/acc + 1/(1 − AUC_scaled) + 1/(1 − bias_scaled)), in [0, 1]; higher is better.

    ``accuracy`` in [0, 1]; ``auc`` in [0, 1] (below 0.5, an attack no better than chance, counts as 0.5);
    ``bias`` in [0, 0.5] (Eq. 1). A term at 0 (accuracy 0, AUC 1 or bias 0.5) makes the score 0.
    """
    for name, value, high in (("accuracy", accuracy, 1.0), ("auc", auc, 1.0), ("bias", bias, 0.5)):
        if not 0.0 <= value <= high:
            raise ValueError(f"{name} must be in [0, {high}], got {value}")
    terms = (accuracy, 1.0 - max(auc - 0.5, 0.0) / 0.5, 1.0 - bias / 0.5)
    if min(terms) == 0.0:
        return 0.0
    return 3.0 / sum(1.0 / t for t in terms)


def generalization_gap(*, train_accuracy: float, validation_accuracy: float) -> float:
    """GGap = validation accuracy − training accuracy (§4.1), in [−1, 1]."""
    return float(validation_accuracy) - float(train_accuracy)


def gender_weighted_average_precision(*, y_true, scores, is_woman) -> np.ndarray:
    """Per attribute, AP with positives reweighted so that men's and women's positives count equally.

    ``scores``: any monotone score (logit or probability), shape like ``y_true`` (examples × attributes).
    NaN for an attribute without positives of both genders.
    """
    y_true = _binary_matrix(y_true, "y_true")
    scores = np.asarray(scores, dtype=np.float64)
    scores = scores.reshape(-1, 1) if scores.ndim == 1 else scores
    if scores.shape != y_true.shape:
        raise ValueError(f"scores {scores.shape} and y_true {y_true.shape} differ in shape")
    w = _women(is_woman, len(y_true))
    out = np.full(y_true.shape[1], np.nan)
    for a in range(y_true.shape[1]):
        positive = y_true[:, a] == 1
        n_w, n_m = np.sum(positive & w), np.sum(positive & ~w)
        if n_w == 0 or n_m == 0:
            continue
        weights = np.ones(len(y_true))
        weights[positive & ~w] = (n_m + n_w) / (2.0 * n_m)
        weights[positive & w] = (n_m + n_w) / (2.0 * n_w)
        out[a] = average_precision_score(y_true[:, a], scores[:, a], sample_weight=weights)
    return out


def gender_weighted_map(*, y_true, scores, is_woman) -> float:
    """Mean of ``gender_weighted_average_precision`` over the attributes that have it."""
    ap = gender_weighted_average_precision(y_true=y_true, scores=scores, is_woman=is_woman)
    if np.all(np.isnan(ap)):
        raise ValueError("no attribute has positives of both genders")
    return float(np.nanmean(ap))
