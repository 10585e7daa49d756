"""Dataset helpers."""
import numpy as np
import pytest

from tfdpfair.data import Dataset


def test_downsample_averages_blocks():
    x = np.zeros((2, 4, 4, 1), np.uint8)
    x[0, :2, :2, 0] = [[0, 10], [20, 31]]  # mean 15.25 → 15
    x[1] = 200
    ds = Dataset("t", "train", x, np.array([0, 1]), "test").downsample(2)
    assert ds.x.shape == (2, 2, 2, 1) and ds.x.dtype == np.uint8
    assert ds.x[0, 0, 0, 0] == 15 and ds.x[0, 1, 1, 0] == 0 and (ds.x[1] == 200).all()
    np.testing.assert_array_equal(ds.y, [0, 1])
    assert Dataset("t", "train", x, None, "test").downsample(1).x is x
    with pytest.raises(ValueError, match="divisor"):
        Dataset("t", "train", x, None, "test").downsample(3)
