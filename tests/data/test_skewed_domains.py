"""CIFAR-10S-style colour/grey skew: exact counts per class, the grey conversion, determinism, errors."""
import numpy as np
import pytest

from tfdpfair.data import Dataset
from tfdpfair.data.skewed_domains import (
    GRAY_ATTRIBUTE, default_gray_classes, minority_count, skewed_domains, to_gray)
from tfdpfair.errors import InputError

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _data(per_class, classes=10, split="train", seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), per_class)
    x = rng.integers(0, 256, size=(len(y), 2, 2, 3), dtype=np.uint8)
    return Dataset("cifar10", split, x, y, "test:random", class_names=CIFAR10_CLASSES[:classes])


def test_to_gray_is_bt601_luminance_in_three_channels():
    x = np.array([[[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [10, 20, 30]]]], np.uint8)
    # 0.299·255 = 76.2, 0.587·255 = 149.7, 0.114·255 = 29.1, 2.99 + 11.74 + 3.42 = 18.15
    expected = np.array([[76, 150], [29, 18]], np.uint8)
    g = to_gray(x)
    assert g.shape == x.shape and g.dtype == np.uint8
    for channel in range(3):
        np.testing.assert_array_equal(g[0, ..., channel], expected)
    np.testing.assert_array_equal(to_gray(g), g)  # grey stays grey


def test_wang_et_al_mostly_grey_classes_are_the_even_labels():
    assert [CIFAR10_CLASSES[c] for c in default_gray_classes(10)] == ["airplane", "bird", "deer", "frog", "ship"]
    assert len(default_gray_classes(100)) == 50


@pytest.mark.parametrize("skew,per_class,minority", [(0.95, 5000, 250), (0.75, 5000, 1250), (0.95, 1000, 50),
                                                     (0.95, 30, 2), (0.5, 7, 4), (1.0, 40, 0)])
def test_exact_counts_per_class(skew, per_class, minority):
    assert minority_count(per_class, skew) == minority
    split = skewed_domains(_data(per_class), _data(3, split="test"), skew=skew, seed=1)
    counts = split.domain_counts()  # columns: colour, grey
    for c in range(10):
        gray = per_class - minority if c % 2 == 0 else minority
        assert tuple(counts[c]) == (per_class - gray, gray), c
    assert len(split.train) == 10 * per_class


def test_grey_images_are_exactly_the_flagged_ones_and_labels_are_kept():
    train, test = _data(40), _data(5, split="test", seed=1)
    split = skewed_domains(train, test, skew=0.75, seed=3)
    flag = split.train.attribute(GRAY_ATTRIBUTE).astype(bool)
    np.testing.assert_array_equal(split.train.x[flag], to_gray(train.x[flag]))
    np.testing.assert_array_equal(split.train.x[~flag], train.x[~flag])
    np.testing.assert_array_equal(split.train.y, train.y)
    np.testing.assert_array_equal(split.test_color.x, test.x)
    np.testing.assert_array_equal(split.test_gray.x, to_gray(test.x))
    np.testing.assert_array_equal(split.test_gray.y, test.y)
    assert set(split.test_gray.attribute(GRAY_ATTRIBUTE)) == {1} and set(split.test_color.attribute(GRAY_ATTRIBUTE)) == {0}
    assert train.attrs is None  # the input is not modified


def test_deterministic_for_a_seed():
    train, test = _data(40), _data(2, split="test")
    flags = [skewed_domains(train, test, seed=s).train.attribute(GRAY_ATTRIBUTE) for s in (0, 0, 1)]
    np.testing.assert_array_equal(flags[0], flags[1])
    assert not np.array_equal(flags[0], flags[2])


def test_custom_grey_classes():
    split = skewed_domains(_data(20), _data(2, split="test"), skew=0.9, gray_classes=[3])
    counts = split.domain_counts()
    assert tuple(counts[3]) == (2, 18) and tuple(counts[0]) == (18, 2)


def test_clear_errors():
    train, test = _data(10), _data(2, split="test")
    with pytest.raises(InputError, match=r"in \[0.5, 1\]"):
        skewed_domains(train, test, skew=0.4)
    with pytest.raises(InputError, match="gray_classes"):
        skewed_domains(train, test, gray_classes=[10])
    mono = Dataset("mnist", "train", np.zeros((4, 2, 2, 1), np.uint8), np.arange(4), "test:zeros")
    with pytest.raises(InputError, match="RGB"):
        skewed_domains(mono, mono)
