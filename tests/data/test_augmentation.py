import numpy as np
import pytest
import tensorflow as tf

from tfdpfair.data import Augmentation
from tfdpfair.data.augmentation import random_crop_flip


def _image():
    return np.arange(2 * 8 * 8 * 1, dtype=np.float32).reshape(2, 8, 8, 1)


def test_copies_are_consecutive_and_come_from_their_example():
    x = np.stack([np.zeros((8, 8, 1)), np.ones((8, 8, 1))]).astype(np.float32)
    out = Augmentation(multiplicity=3, padding=2)(tf.constant(x)).numpy()
    assert out.shape == (6, 8, 8, 1)
    assert np.all(out[:3] == 0) and np.all(out[3:] == 1)


def test_crop_is_a_shifted_window_of_the_reflect_padded_image():
    tf.random.set_seed(0)
    x = _image()
    out = random_crop_flip(tf.constant(x), padding=2, flip=False).numpy()
    padded = np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect")
    for img, pad in zip(out, padded):
        assert any(np.array_equal(img, pad[r:r + 8, c:c + 8]) for r in range(5) for c in range(5))


def test_flip_only_mirrors():
    tf.random.set_seed(1)
    x = np.repeat(_image()[:1], 64, axis=0)
    out = random_crop_flip(tf.constant(x), padding=0, flip=True).numpy()
    flipped = np.array([np.array_equal(o, x[0][:, ::-1]) for o in out])
    same = np.array([np.array_equal(o, x[0]) for o in out])
    assert np.all(flipped | same) and 10 < flipped.sum() < 54


def test_bad_settings():
    with pytest.raises(ValueError):
        Augmentation(multiplicity=0)
