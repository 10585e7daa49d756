"""Colour / grey domain-skewed image datasets: CIFAR-10S (Wang et al. 2020) and the same construction on any dataset.

``skewed_domains(train, test, skew=0.95)`` converts, in every class, a share of the
training images to grey (ITU-R BT.601 luminance, replicated to three channels):

* in a *mostly grey* class, ``skew`` of its images are grey and the rest stay colour;
* in a *mostly colour* class, ``skew`` stay colour and the rest are grey.

Counts are exact: a class of n images gets round((1 − skew)·n) images in its minority
domain (CIFAR-10, 5,000 per class at 0.95: 250). Which images is a seeded permutation per
class, so the split is the same for a seed. The test set is returned twice, all in colour
(COLOR) and all grey (GRAY), the same images, as the paper's two test sets.

Mostly grey classes: Wang et al.'s CIFAR-10S makes airplane, bird, deer, frog and ship
(labels 0, 2, 4, 6, 8) mostly grey and automobile, cat, dog, horse and truck (1, 3, 5, 7,
9) mostly colour: the even labels. ``default_gray_classes`` extends that rule to any
number of classes (CIFAR-100S: the 50 even fine labels), which keeps half the classes
in each domain and, since CIFAR-100's fine labels are in alphabetical order, ties the
split to no visual property of the classes. (The authors of Hassanpour et al. released
code that does something else; this follows the paper's and Wang et al.'s definition.)
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Tuple

import numpy as np

from tfdpfair.data.dataset import Dataset
from tfdpfair.errors import InputError

GRAY_ATTRIBUTE = "gray"


def to_gray(x: np.ndarray) -> np.ndarray:
    """uint8 RGB images (N, H, W, 3) → the same shape, each pixel its BT.601 luminance in all three channels."""
    if x.ndim != 4 or x.shape[-1] != 3 or x.dtype != np.uint8:
        raise InputError(f"to_gray needs uint8 RGB images (N, H, W, 3), got {x.dtype} {x.shape}")
    luminance = x.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.repeat(np.rint(luminance).astype(np.uint8)[..., None], 3, axis=-1)


def default_gray_classes(num_classes: int) -> Tuple[int, ...]:
    """The even labels: CIFAR-10S's mostly grey classes (airplane, bird, deer, frog, ship), extended."""
    return tuple(range(0, num_classes, 2))


@dataclasses.dataclass(frozen=True)
class DomainSkewedSplit:
    """A domain-skewed training set and the two test sets.

    Attributes:
      train: images with ``skew`` of each class in its majority domain; ``attrs`` gains a
        ``gray`` column (1 = grey image).
      test_color / test_gray: every test image in colour / in grey (same order, same labels).
      skew: share of each class in its majority domain, in [0.5, 1].
      gray_classes: the classes whose majority domain is grey.
    """

    train: Dataset
    test_color: Dataset
    test_gray: Dataset
    skew: float
    gray_classes: Tuple[int, ...]

    def domain_counts(self) -> np.ndarray:
        """(classes, 2) training images per class in colour (column 0) and grey (column 1)."""
        counts = np.zeros((self.test_color.num_classes, 2), np.int64)
        np.add.at(counts, (self.train.y, self.train.attribute(GRAY_ATTRIBUTE)), 1)
        return counts


def _with_gray_column(data: Dataset, x: np.ndarray, gray: np.ndarray) -> Dataset:
    column = gray.astype(np.int8)[:, None]
    attrs = column if data.attrs is None else np.concatenate([data.attrs, column], axis=1)
    return dataclasses.replace(data, x=x, attrs=attrs, attr_names=tuple(data.attr_names) + (GRAY_ATTRIBUTE,))


def minority_count(n: int, skew: float) -> int:
    """Images of a class of ``n`` in its minority domain: round((1 − skew)·n), halves rounded up."""
    return int(np.floor((1.0 - skew) * n + 0.5 + 1e-9))


def skewed_domains(train: Dataset, test: Dataset, *, skew: float = 0.95, seed: int = 0,
                   gray_classes: Optional[Sequence[int]] = None) -> DomainSkewedSplit:
    """The domain-skewed version of ``train`` and the COLOR / GRAY versions of ``test`` (see the module docstring).

    ``skew`` in [0.5, 1]; ``gray_classes`` defaults to ``default_gray_classes``.
    """
    if not 0.5 <= skew <= 1.0:
        raise InputError(f"skew is the majority domain's share of each class, in [0.5, 1]; got {skew}")
    for data in (train, test):
        if data.y is None:
            raise InputError(f"{data.name}/{data.split} has no class labels to skew by")
        if data.x.shape[-1] != 3:
            raise InputError(f"{data.name} images have {data.x.shape[-1]} channel(s); colour skew needs RGB")
    num_classes = max(train.num_classes, test.num_classes)
    gray_classes = tuple(sorted(default_gray_classes(num_classes) if gray_classes is None else set(gray_classes)))
    if any(not 0 <= c < num_classes for c in gray_classes):
        raise InputError(f"gray_classes must be labels in [0, {num_classes}), got {gray_classes}")
    rng = np.random.default_rng(seed)
    is_gray = np.zeros(len(train), bool)
    for c in range(num_classes):
        idx = rng.permutation(np.flatnonzero(train.y == c))
        minority = idx[:minority_count(len(idx), skew)]
        mostly_gray = c in gray_classes
        is_gray[idx] = mostly_gray
        is_gray[minority] = not mostly_gray
    x = train.x.copy()
    x[is_gray] = to_gray(train.x[is_gray])
    return DomainSkewedSplit(
        train=_with_gray_column(train, x, is_gray),
        test_color=_with_gray_column(test, test.x, np.zeros(len(test), bool)),
        test_gray=_with_gray_column(test, to_gray(test.x), np.ones(len(test), bool)),
        skew=float(skew), gray_classes=gray_classes)
