"""Group-imbalanced training subsets with a balanced, disjoint evaluation set (Farrand et al. 2020).

From a pool with binary attributes (CelebA's 40), ``imbalanced_split`` draws

* a training set of ``train_size`` examples in which the majority group (``group`` ==
  ``majority_value``) has share ``majority_share`` and the ``target`` attribute is balanced
  (``target_share`` positives overall and within each group, up to rounding), and
* an evaluation set of ``eval_size`` examples, a quarter in each (group, target) cell,
  disjoint from training.

Each cell of the pool is shuffled once with the seed; its first examples go to
evaluation and the next ones to training. So for one seed the evaluation set is the same
at every imbalance level, and the training sets of different levels share as many
examples as their counts allow: runs differ in the imbalance, not in the draw.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Tuple

import numpy as np

from tfdpfair.data.dataset import Dataset
from tfdpfair.errors import InputError

Cell = Tuple[int, int]  # (group value, target value)


class SubsetError(InputError):
    """The pool cannot supply the requested counts, or the request is malformed."""


@dataclasses.dataclass(frozen=True)
class GroupSplit:
    """A training subset and its evaluation set.

    Attributes:
      train / eval: datasets whose ``y`` is the target attribute (0/1); ``attrs`` are kept.
      target / group: the attribute names.
      majority_value: the value of ``group`` that marks the majority group (0 or 1).
      train_counts / eval_counts: examples per (group value, target value).
    """

    train: Dataset
    eval: Dataset
    target: str
    group: str
    majority_value: int
    train_counts: Dict[Cell, int]
    eval_counts: Dict[Cell, int]

    def groups(self, split: str) -> np.ndarray:
        """The group attribute (0/1) of ``split`` (``"train"`` or ``"eval"``)."""
        return getattr(self, split).attribute(self.group).astype(np.int64)

    def minority_share(self) -> float:
        minority = 1 - self.majority_value
        return sum(n for (g, _), n in self.train_counts.items() if g == minority) / len(self.train)


def cell_counts(*, train_size: int, majority_share: float, target_share: float = 0.5,
                majority_value: int = 0) -> Dict[Cell, int]:
    """Training examples per (group, target) cell; they sum to ``train_size`` exactly.

    The majority group gets round(``majority_share`` · N); positives are round(``target_share`` · N)
    overall, round(``target_share`` · n) of them in the minority group's n (halves round up).
    """
    if train_size <= 0:
        raise SubsetError(f"train_size must be positive, got {train_size}")
    if not 0.5 <= majority_share <= 1.0:
        raise SubsetError(f"majority_share must be in [0.5, 1] (the majority's share), got {majority_share}")
    if not 0.0 < target_share < 1.0:
        raise SubsetError(f"target_share must be in (0, 1), got {target_share}")
    if majority_value not in (0, 1):
        raise SubsetError(f"majority_value must be 0 or 1, got {majority_value}")
    n_major = _round(majority_share * train_size)
    n_minor = train_size - n_major
    pos_total = _round(target_share * train_size)
    pos_minor = _round(target_share * n_minor)  # the small group first: an off-by-one matters most there
    pos_major = pos_total - pos_minor
    minority_value = 1 - majority_value
    return {(majority_value, 1): pos_major, (majority_value, 0): n_major - pos_major,
            (minority_value, 1): pos_minor, (minority_value, 0): n_minor - pos_minor}


def _round(value: float) -> int:
    return int(np.floor(value + 0.5))


def imbalanced_split(
    pool: Dataset,
    *,
    target: str,
    group: str,
    train_size: int,
    majority_share: float,
    eval_size: int,
    majority_value: int = 0,
    target_share: float = 0.5,
    seed: int = 0,
) -> GroupSplit:
    """Draw the training subset and the balanced evaluation set (see module docstring).

    Args:
      pool: a dataset with binary ``attrs`` (e.g. ``load("celeb_a", "train")``).
      target / group: attribute names, e.g. ``"Smiling"`` and ``"Male"``.
      train_size: N, the number of training examples.
      majority_share: the majority group's share of N, in [0.5, 1] (0.999, 0.99, 0.9, 0.8, 0.7).
      eval_size: evaluation examples, a multiple of 4 (a quarter per (group, target) cell).
      majority_value: the ``group`` value of the majority (0: not Male, i.e. female).
      target_share: share of positives of ``target`` in training, in (0, 1).
      seed: the draw; the same seed gives the same subsets.

    Raises:
      SubsetError: a cell of the pool has too few examples (the message gives the counts),
        an attribute is unknown, or a size is invalid.
    """
    counts = cell_counts(train_size=train_size, majority_share=majority_share, target_share=target_share,
                         majority_value=majority_value)
    if eval_size <= 0 or eval_size % 4:
        raise SubsetError(f"eval_size must be a positive multiple of 4 (a quarter per group × target cell), "
                          f"got {eval_size}")
    if target == group:
        raise SubsetError(f"target and group must be different attributes, both are {target!r}")
    try:
        t_values, g_values = pool.attribute(target), pool.attribute(group)
    except KeyError as err:
        raise SubsetError(str(err.args[0])) from None
    per_cell_eval = eval_size // 4
    rng = np.random.default_rng(seed)
    train_idx, eval_idx, short = [], [], []
    for cell in sorted(counts):
        g, t = cell
        members = np.flatnonzero((g_values == g) & (t_values == t))
        need = per_cell_eval + counts[cell]
        if len(members) < need:
            short.append(f"{group}={g}, {target}={t}: has {len(members)}, needs {need} "
                         f"({per_cell_eval} evaluation + {counts[cell]} training)")
            continue
        members = rng.permutation(members)
        eval_idx.append(members[:per_cell_eval])
        train_idx.append(members[per_cell_eval:need])
    if short:
        raise SubsetError(f"{pool.source} ({len(pool)} examples) cannot supply the request: " + "; ".join(short)
                          + ". Use a smaller train_size or eval_size, or a larger source (e.g. TFDS celeb_a).")
    train = _subset(pool, rng.permutation(np.concatenate(train_idx)), target, "train")
    evaluation = _subset(pool, rng.permutation(np.concatenate(eval_idx)), target, "eval")
    eval_counts = {cell: per_cell_eval for cell in counts}
    return GroupSplit(train=train, eval=evaluation, target=target, group=group, majority_value=majority_value,
                      train_counts=counts, eval_counts=eval_counts)


def _subset(pool: Dataset, idx: np.ndarray, target: str, split: str) -> Dataset:
    return dataclasses.replace(
        pool, split=split, x=pool.x[idx], y=pool.attribute(target)[idx].astype(np.int64),
        attrs=pool.attrs[idx], class_names=(f"not {target}", target))
