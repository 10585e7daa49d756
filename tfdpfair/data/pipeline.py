"""tf.data input pipelines for training: shuffled fixed-size batches, or Poisson sampling."""
from __future__ import annotations

import numpy as np


def shuffled_batches(x: np.ndarray, y: np.ndarray, *, batch_size: int, seed: int):
    """Reshuffled-every-epoch batches of exactly ``batch_size`` (the last partial batch is dropped).

    Fixed-size batches of a fresh permutation each epoch: the accounting treats each
    step as Poisson sampling at rate q = batch_size / N, and results.json records
    ``"sampling": "shuffle"`` so readers know the pipeline only approximates that.
    """
    import tensorflow as tf

    if batch_size > len(x):
        raise ValueError(f"batch size {batch_size} exceeds the {len(x)} training examples")
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def poisson_batches(x: np.ndarray, y: np.ndarray, *, sampling_rate: float, seed: int):
    """Poisson-sampled batches: each step includes every example independently with probability q.

    Batch sizes vary (empty batches included, and still count as DP steps); one epoch
    is round(1/q) steps, so an epoch sees N examples in expectation. The sampling is
    what the accountant assumes; the expected batch size q·N must be used as the
    divisor of the noisy gradient sum (``make_private(expected_batch_size=...)``).
    """
    import tensorflow as tf

    if not 0 < sampling_rate <= 1:
        raise ValueError(f"sampling rate must be in (0, 1], got {sampling_rate}")
    steps = max(int(round(1.0 / sampling_rate)), 1)
    rng = np.random.default_rng(seed)

    def epoch():
        for _ in range(steps):
            mask = rng.random(len(x)) < sampling_rate
            yield x[mask], y[mask]

    signature = (tf.TensorSpec((None,) + x.shape[1:], tf.as_dtype(x.dtype)),
                 tf.TensorSpec((None,) + y.shape[1:], tf.as_dtype(y.dtype)))
    ds = tf.data.Dataset.from_generator(epoch, output_signature=signature)
    # A known length lets Keras end each epoch without probing an exhausted iterator.
    return ds.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(2)
