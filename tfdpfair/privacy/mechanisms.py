"""The Gaussian mechanism of DP-SGD as small pure functions (TensorFlow, no Keras, no TF Privacy).

One DP step is: per-example gradients → clip each to L2 norm C → sum → add
N(0, σ²C²) once → divide by the expected batch size. ``tfdpfair.privacy.per_example``
produces the clipped sums; these functions do the rest.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import tensorflow as tf


def clip_factors(squared_norms: tf.Tensor, *, l2_norm_clip: float) -> tf.Tensor:
    """min(1, C / ‖g_i‖) per example, from squared norms (B,); a zero gradient gets factor 1."""
    norms = tf.sqrt(tf.maximum(squared_norms, 0.0))
    return tf.minimum(1.0, l2_norm_clip / tf.maximum(norms, 1e-12))


def clipped_sum(per_example: Sequence[tf.Tensor], *, l2_norm_clip: float) -> Tuple[List[tf.Tensor], tf.Tensor]:
    """(Σ_i clip(g_i, C), ‖g_i‖² per example) for stacked per-example gradients (leading batch axis)."""
    batch = tf.shape(per_example[0])[0]
    squared = tf.add_n([tf.reduce_sum(tf.reshape(tf.square(g), [batch, -1]), axis=1) for g in per_example])
    factors = clip_factors(squared, l2_norm_clip=l2_norm_clip)
    return [tf.tensordot(factors, g, axes=1) for g in per_example], squared


def gaussian_noise(like: Sequence[tf.Tensor], *, stddev: float, seed: Optional[int] = None) -> List[tf.Tensor]:
    """Independent N(0, stddev²) noise shaped like each tensor of ``like``."""
    return [tf.random.normal(tf.shape(t), stddev=stddev, dtype=t.dtype, seed=seed) for t in like]


def privatize(
    summed: Sequence[tf.Tensor],
    *,
    l2_norm_clip: float,
    noise_multiplier: float,
    expected_batch_size,
    add_noise=True,
) -> List[tf.Tensor]:
    """(Σ clipped + N(0, σ²C²)) / expected batch size: the DP-SGD gradient.

    ``summed`` must already be the sum of per-example gradients clipped to
    ``l2_norm_clip``. ``add_noise`` (a bool or boolean tensor) lets exactly one replica
    of a multi-device step draw the noise, so it is added once per logical step.
    """
    denominator = tf.cast(expected_batch_size, summed[0].dtype)
    if noise_multiplier == 0:
        return [s / denominator for s in summed]
    noise = gaussian_noise(summed, stddev=l2_norm_clip * noise_multiplier)
    gate = tf.cast(add_noise, summed[0].dtype)
    return [(s + gate * n) / denominator for s, n in zip(summed, noise)]
