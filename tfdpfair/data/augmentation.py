"""Augmentation multiplicity (De et al. 2022): K augmented copies of each example, in consecutive rows."""
from __future__ import annotations

import dataclasses

import tensorflow as tf


def _sub_seed(seed, i: int) -> tf.Tensor:
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), tf.constant(i, tf.int64))


def random_crop_flip(images: tf.Tensor, *, padding: int = 4, flip: bool = True, seed=None) -> tf.Tensor:
    """Per image: reflect-pad by ``padding`` pixels, crop back to size at a random offset, flip left-right w.p. ½.

    ``images``: float (N, H, W, C). Each image draws its own offset and flip. ``seed``: a
    stateless seed (shape [2] int), which makes the result a pure function of (images,
    seed) — what a resumable DP step needs; None draws from TensorFlow's global generator.
    """
    shape = tf.shape(images)
    n, h, w = shape[0], shape[1], shape[2]
    if padding > 0:
        padded = tf.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]], mode="REFLECT")
        if seed is None:
            offsets = tf.random.uniform([n, 2], 0, 2 * padding + 1, dtype=tf.int32)
        else:
            offsets = tf.random.stateless_uniform([n, 2], _sub_seed(seed, 0), 0, 2 * padding + 1, dtype=tf.int32)
        rows = offsets[:, :1] + tf.range(h)[None, :]  # (N, H)
        cols = offsets[:, 1:] + tf.range(w)[None, :]  # (N, W)
        images = tf.gather(padded, rows, axis=1, batch_dims=1)
        images = tf.gather(images, cols, axis=2, batch_dims=1)
    if flip:
        coins = (tf.random.uniform([n, 1, 1, 1]) if seed is None
                 else tf.random.stateless_uniform([n, 1, 1, 1], _sub_seed(seed, 1)))
        do_flip = coins < 0.5
        images = tf.where(do_flip, tf.reverse(images, axis=[2]), images)
    return images


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """K augmented copies per example, for augmentation multiplicity.

    Attributes:
      multiplicity: K ≥ 1, copies per example (their gradients are averaged before clipping).
      padding: reflect-padding in pixels for the random crop; 0 disables cropping.
      flip: random horizontal flips.
    """

    multiplicity: int = 16
    padding: int = 4
    flip: bool = True

    def __post_init__(self) -> None:
        if self.multiplicity < 1 or self.padding < 0:
            raise ValueError(f"multiplicity must be >= 1 and padding >= 0, got {self}")

    def __call__(self, images: tf.Tensor, seed=None) -> tf.Tensor:
        """(B, H, W, C) → (B·K, H, W, C); rows b·K … b·K + K − 1 are copies of example b.

        ``seed``: a stateless seed (shape [2] int) for reproducible, resumable draws.
        """
        copies = tf.repeat(images, self.multiplicity, axis=0)
        return random_crop_flip(copies, padding=self.padding, flip=self.flip, seed=seed)
