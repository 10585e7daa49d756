"""tf.data input pipelines for training: shuffled fixed-size batches, or Poisson sampling.

Both cover epochs ``initial_epoch … epochs − 1`` in one dataset, and the batches of
epoch e are a pure function of the run's sampling stream and e
(``RunStreams.numpy_rng("sampling", e)``): a run resumed at epoch e draws exactly the
batches an uninterrupted run draws there, never a repeat of epoch 0's. Train with
``fit(ds, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch(...))``.
With ``RunStreams(secure=True)`` every epoch draws from OS entropy instead.
"""
from __future__ import annotations

from typing import Union

import numpy as np

from tfdpfair.errors import InputError
from tfdpfair.randomness import RunStreams

Seed = Union[int, RunStreams]


def _streams(seed: Seed) -> RunStreams:
    return seed if isinstance(seed, RunStreams) else RunStreams(seed=int(seed))


def _check_epochs(epochs: int, initial_epoch: int) -> None:
    if not 0 <= initial_epoch < epochs:
        raise ValueError(f"need 0 <= initial_epoch < epochs, got initial_epoch={initial_epoch}, epochs={epochs}")


def _dataset(x: np.ndarray, y, generate, steps: int, batch_size=None):
    import tensorflow as tf

    arrays = (x,) if y is None else (x, y)
    signature = tuple(tf.TensorSpec((batch_size,) + a.shape[1:], tf.as_dtype(a.dtype)) for a in arrays)
    ds = tf.data.Dataset.from_generator(generate, output_signature=signature)
    # A known length lets Keras run the epochs off one iterator without probing an exhausted one.
    return ds.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(2)


def shuffle_steps_per_epoch(examples: int, batch_size: int) -> int:
    """Batches per epoch of ``shuffled_batches``: N // B (the last partial batch is dropped)."""
    if batch_size > examples:
        raise InputError(f"batch size {batch_size} exceeds the {examples} training examples; use a batch size "
                         f"of at most {examples}")
    return examples // batch_size


def shuffled_batches(x: np.ndarray, y, *, batch_size: int, seed: Seed, epochs: int = 1, initial_epoch: int = 0):
    """Reshuffled-every-epoch batches of exactly ``batch_size`` (the last partial batch is dropped).

    Fixed-size batches of a fresh permutation each epoch: the accounting treats each
    step as Poisson sampling at rate q = batch_size / N, and results.json records
    ``"sampling": "shuffle"`` so readers know the pipeline only approximates that.
    ``y`` may be None (unlabelled images: the dataset yields 1-tuples). ``seed``: the
    run's ``RunStreams`` (or an int seed).
    """
    _check_epochs(epochs, initial_epoch)
    steps = shuffle_steps_per_epoch(len(x), batch_size)
    streams = _streams(seed)

    def generate():
        for epoch in range(initial_epoch, epochs):
            order = streams.numpy_rng("sampling", epoch).permutation(len(x))
            for i in range(steps):
                idx = np.sort(order[i * batch_size:(i + 1) * batch_size])
                yield (x[idx],) if y is None else (x[idx], y[idx])

    return _dataset(x, y, generate, steps * (epochs - initial_epoch), batch_size)


def poisson_steps_per_epoch(sampling_rate: float) -> int:
    """Steps per epoch of ``poisson_batches``: round(1/q), so an epoch sees N examples in expectation."""
    if not 0 < sampling_rate <= 1:
        raise InputError(f"sampling rate must be in (0, 1], got {sampling_rate}")
    return max(int(round(1.0 / sampling_rate)), 1)


def poisson_batches(x: np.ndarray, y, *, sampling_rate: float, seed: Seed, epochs: int = 1, initial_epoch: int = 0):
    """Poisson-sampled batches: each step includes every example independently with probability q.

    Batch sizes vary (empty batches included, and still count as DP steps); one epoch
    is round(1/q) steps. The sampling is what the accountant assumes; the expected
    batch size q·N must be used as the divisor of the noisy gradient sum
    (``make_private(expected_batch_size=...)``).
    """
    _check_epochs(epochs, initial_epoch)
    steps = poisson_steps_per_epoch(sampling_rate)
    streams = _streams(seed)

    def generate():
        for epoch in range(initial_epoch, epochs):
            rng = streams.numpy_rng("sampling", epoch)
            for _ in range(steps):
                mask = rng.random(len(x)) < sampling_rate
                yield (x[mask],) if y is None else (x[mask], y[mask])

    return _dataset(x, y, generate, steps * (epochs - initial_epoch))
