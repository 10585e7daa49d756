"""The Gaussian mechanism of DP-SGD as small pure functions (TensorFlow, no Keras, no TF Privacy).

One DP step is: per-example gradients → clip each to L2 norm C → sum → add
N(0, σ²C²) once → divide by the expected batch size. ``tfdpfair.privacy.per_example``
produces the clipped sums; these functions do the rest. The noise of each step is a
pure function of a stateless seed (``step_seed(key, t)``: the run's noise key and the
step counter, see ``tfdpfair.randomness``), or fresh OS entropy in secure mode.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import tensorflow as tf

from tfdpfair import randomness


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


def step_seed(key, step) -> tf.Tensor:
    """The stateless seed of draw ``step`` (int) of the stream ``key`` (shape [2], int64).

    ``fold_in`` hashes the key to a word of the folded-in value's width, so both are cast
    to int64: a 32-bit hash would make two steps share noise after ~2^16 draws.
    """
    return tf.random.experimental.stateless_fold_in(tf.cast(key, tf.int64), tf.cast(step, tf.int64))


def gaussian_noise(like: Sequence[tf.Tensor], *, stddev: float, seed) -> List[tf.Tensor]:
    """N(0, stddev²) noise shaped like each tensor of ``like``: a pure function of ``seed``.

    ``seed`` is a stateless seed (shape [2], int64), e.g. ``step_seed(key, t)``; tensor i
    draws with ``step_seed(seed, i)``, a 64-bit hash of (seed, i), so two draws share
    noise only if two 64-bit hashes collide.
    """
    return [tf.random.stateless_normal(tf.shape(t), seed=step_seed(seed, i), stddev=stddev, dtype=t.dtype)
            for i, t in enumerate(like)]


def os_entropy_seeds(n: int) -> tf.Tensor:
    """``n`` stateless seeds of 128 fresh bits each from ``os.urandom``, drawn when the graph runs (every step)."""
    seeds = tf.numpy_function(lambda: randomness.os_entropy_seeds(n), [], tf.int64, stateful=True)
    seeds.set_shape([n, 2])
    return seeds


def secure_gaussian_noise(like: Sequence[tf.Tensor], *, stddev: float) -> List[tf.Tensor]:
    """N(0, stddev²) noise from OS entropy: every draw has its own 128-bit seed; the sum of four draws, halved.

    The four-draw sum is Opacus's secure-mode defence against floating-point attacks on
    the Gaussian sampler (Mironov 2012; Holohan & Braghin 2021). Each seed is expanded by
    Philox (counter-based; not a cryptographic generator). Nothing is reproducible.
    """
    seeds = os_entropy_seeds(4 * len(like))
    return [tf.add_n([tf.random.stateless_normal(tf.shape(t), seed=seeds[4 * i + j], stddev=stddev, dtype=t.dtype)
                      for j in range(4)]) / 2.0 for i, t in enumerate(like)]


def privatize(
    summed: Sequence[tf.Tensor],
    *,
    l2_norm_clip: float,
    noise_multiplier: float,
    expected_batch_size,
    seed=None,
    secure: bool = False,
    add_noise=True,
) -> List[tf.Tensor]:
    """(Σ clipped + N(0, σ²C²)) / expected batch size: the DP-SGD gradient.

    ``summed`` must already be the sum of per-example gradients clipped to
    ``l2_norm_clip``. The noise is ``gaussian_noise(seed=seed)`` — ``seed`` is this
    step's stateless seed, never reused by another step or run — or, with ``secure``,
    drawn from OS entropy (``seed`` is then ignored). ``add_noise`` (a bool or boolean
    tensor) lets exactly one replica of a multi-device step add the noise, so it is
    added once per logical step.
    """
    denominator = tf.cast(expected_batch_size, summed[0].dtype)
    if noise_multiplier == 0:
        return [s / denominator for s in summed]
    stddev = l2_norm_clip * noise_multiplier
    if secure:
        noise = secure_gaussian_noise(summed, stddev=stddev)
    elif seed is None:
        raise ValueError("privatize needs this step's noise seed (or secure=True): noise must never be reused")
    else:
        noise = gaussian_noise(summed, stddev=stddev, seed=seed)
    gate = tf.cast(add_noise, summed[0].dtype)
    return [(s + gate * n) / denominator for s, n in zip(summed, noise)]
