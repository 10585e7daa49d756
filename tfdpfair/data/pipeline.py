"""tf.data input pipelines for training."""
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
