"""Training a Keras classifier with or without DP-SGD.

Backends: ``tfdpfair`` (default; ``tfdpfair.privacy.make_private``: per-example
clipping near the cost of non-private training, physical chunks, augmentation
multiplicity, SAM / DP-SAT, Poisson sampling) and TF Privacy's ``dp_model`` /
``dp_optimizer`` (``tfdpfair.privacy.tfp``), kept for comparison.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from tfdpfair.data.augmentation import Augmentation
from tfdpfair.data.pipeline import poisson_batches, shuffled_batches
from tfdpfair.privacy.accounting import PrivacySpend
from tfdpfair.privacy.callbacks import PrivacyBudget
from tfdpfair.privacy.config import DPConfig
from tfdpfair.privacy.private_model import make_private
from tfdpfair.training.checkpoint import EpochCheckpoint

OPTIMIZERS = ("sgd", "adam")
BACKENDS = ("tfdpfair", "dp_model", "dp_optimizer")  # the last two: TF Privacy (tfdpfair.privacy.tfp)
SAMPLINGS = ("shuffle", "poisson")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by private and non-private runs.

    Attributes:
      batch_size: examples per step — the logical batch, and the expected batch size of
        the accounting (q = batch_size / N); ≥ 1.
      epochs: passes over the training set; ≥ 1 (a target ε may stop earlier).
      learning_rate: optimizer step size, > 0.
      optimizer: ``sgd`` or ``adam``.
      backend: ``tfdpfair`` (default), or TF Privacy's ``dp_model`` / ``dp_optimizer``
        (these two support none of the options below).
      physical_batch_size: examples per vectorized chunk of a logical batch (memory
        bound); None = the whole batch at once.
      augmentation_multiplicity: K > 1 trains on K random crop + flip copies per example,
        gradients averaged per example before clipping; 1 = off.
      sam_radius: ρ ≥ 0 of SAM (non-private) / DP-SAT (private); 0 = off.
      ema_decay: if set, in (0, 1): keep an exponential moving average of the weights
        and evaluate (and save) the averaged weights after training.
      sampling: ``shuffle`` (reshuffled fixed-size batches) or ``poisson`` (each example
        in each step independently with probability q, as the accountant assumes).
    """

    batch_size: int = 250
    epochs: int = 15
    learning_rate: float = 0.25
    optimizer: str = "sgd"
    backend: str = "tfdpfair"
    physical_batch_size: Optional[int] = None
    augmentation_multiplicity: int = 1
    sam_radius: float = 0.0
    ema_decay: Optional[float] = None
    sampling: str = "shuffle"

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.epochs < 1 or not self.learning_rate > 0:
            raise ValueError(f"batch_size and epochs must be >= 1 and learning_rate > 0, got {self}")
        for value, allowed, what in ((self.optimizer, OPTIMIZERS, "optimizer"), (self.backend, BACKENDS, "backend"),
                                     (self.sampling, SAMPLINGS, "sampling")):
            if value not in allowed:
                raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")
        if self.physical_batch_size is not None and self.physical_batch_size < 1:
            raise ValueError(f"physical_batch_size must be None or >= 1, got {self.physical_batch_size}")
        if self.augmentation_multiplicity < 1 or self.sam_radius < 0:
            raise ValueError("augmentation_multiplicity must be >= 1 and sam_radius >= 0")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ValueError(f"ema_decay must be None or in (0, 1), got {self.ema_decay}")
        if self.backend != "tfdpfair" and (self.physical_batch_size or self.augmentation_multiplicity > 1
                                           or self.sam_radius or self.ema_decay or self.sampling != "shuffle"):
            raise ValueError(f"backend {self.backend!r} supports none of physical_batch_size, "
                             "augmentation_multiplicity, sam_radius, ema_decay, poisson sampling; use 'tfdpfair'")


@dataclasses.dataclass
class TrainingRun:
    """What ``train_classifier`` returns.

    Attributes:
      history: per-epoch metrics (loss, accuracy, and ε / dp_steps under DP).
      privacy: ε spent (None for non-private runs).
      steps: optimizer steps taken in total (resumed runs included).
      stopped_by_budget: True when the target ε ended training early.
      seconds: wall-clock seconds of this process's training.
      sampling: how batches were drawn (``shuffle`` or ``poisson``), for results.json.
    """

    history: dict
    privacy: Optional[PrivacySpend]
    steps: int
    stopped_by_budget: bool
    seconds: float
    sampling: str = "shuffle"


def _optimizer(train: TrainConfig) -> tf.keras.optimizers.Optimizer:
    cls = {"sgd": tf.keras.optimizers.SGD, "adam": tf.keras.optimizers.Adam}[train.optimizer]
    if train.ema_decay is not None:
        return cls(learning_rate=train.learning_rate, use_ema=True, ema_momentum=train.ema_decay)
    return cls(learning_rate=train.learning_rate)


def _loss(reduction=tf.keras.losses.Reduction.AUTO):
    return tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)


def compile_for_training(
    model: tf.keras.Model, *, dp: DPConfig, train: TrainConfig, expected_batch_size: Optional[float] = None
) -> tf.keras.Model:
    """The compiled model to ``fit``: ``model`` itself, or a DP (or training-technique) wrapper sharing its weights.

    Loss: sparse categorical cross-entropy on logits; metric: accuracy.
    """
    if train.backend == "tfdpfair":
        augmentation = (Augmentation(multiplicity=train.augmentation_multiplicity)
                        if train.augmentation_multiplicity > 1 else None)
        trainable = make_private(model, dp, physical_batch_size=train.physical_batch_size, augmentation=augmentation,
                                 sat_radius=train.sam_radius, expected_batch_size=expected_batch_size)
        trainable.compile(optimizer=_optimizer(train), loss=_loss(), metrics=["accuracy"])
        return trainable
    from tfdpfair.privacy import tfp  # TF Privacy only where asked for: the door to TF >= 2.16 stays open

    if not dp.enabled or train.backend == "dp_model":
        trainable = tfp.make_dp_model(model, dp) if dp.enabled else model
        trainable.compile(optimizer=_optimizer(train), loss=_loss(), metrics=["accuracy"])
        return trainable
    optimizer = tfp.make_dp_optimizer(train.optimizer, dp, learning_rate=train.learning_rate)
    model.compile(optimizer=optimizer, loss=_loss(tf.keras.losses.Reduction.NONE), metrics=["accuracy"])
    return model


def train_classifier(
    model: tf.keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    dp: DPConfig,
    train: TrainConfig,
    seed: int = 0,
    checkpoint_dir: Optional[Path] = None,
    resume: bool = False,
    callbacks: Sequence[tf.keras.callbacks.Callback] = (),
    verbose: Optional[int] = None,
) -> TrainingRun:
    """Fit ``model`` on (x, y), privately when ``dp.enabled``.

    ``x`` is float in [0, 1], ``y`` integer labels. Under DP, a ``PrivacyBudget``
    callback counts steps, logs ε each epoch and enforces ``dp.target_epsilon``.
    With ``checkpoint_dir`` the model, optimizer, epoch and DP step count are saved
    each epoch; ``resume=True`` continues from there.
    """
    sampling_rate = train.batch_size / len(x)
    poisson = train.sampling == "poisson"
    trainable = compile_for_training(model, dp=dp, train=train,
                                     expected_batch_size=train.batch_size if poisson else None)
    budget = PrivacyBudget(dp=dp, sampling_rate=sampling_rate) if dp.enabled else None
    all_callbacks = list(callbacks) + ([budget] if budget else [])
    initial_epoch, history = 0, {}
    if checkpoint_dir is not None:
        saver = EpochCheckpoint(Path(checkpoint_dir), budget=budget)
        if resume:
            trainable(x[:1])  # create the weights, and the optimizer's slots, before restoring them
            if hasattr(trainable.optimizer, "build"):  # Keras ≥ 2.11 optimizers; legacy ones restore lazily
                trainable.optimizer.build(trainable.trainable_variables)
            initial_epoch, dp_steps, history = saver.restore(trainable)
            if budget is not None:
                budget.steps = dp_steps
        all_callbacks.append(saver)
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    if poisson:
        batches = poisson_batches(x, y, sampling_rate=sampling_rate, seed=seed)
    else:
        batches = shuffled_batches(x, y, batch_size=train.batch_size, seed=seed)
    start = time.perf_counter()
    stopped = False
    if initial_epoch < train.epochs and (budget is None or budget.remaining_steps() != 0):
        fit = trainable.fit(batches, epochs=train.epochs, initial_epoch=initial_epoch, callbacks=all_callbacks,
                            verbose=verbose)
        for key, values in fit.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        stopped = bool(budget and budget.stopped_by_budget)
    seconds = time.perf_counter() - start
    return TrainingRun(
        history=history,
        privacy=budget.spend() if budget else None,
        steps=int(trainable.optimizer.iterations.numpy()),
        stopped_by_budget=stopped,
        seconds=seconds,
        sampling=train.sampling,
    )


def evaluate_accuracy(model: tf.keras.Model, x: np.ndarray, y: np.ndarray, *, batch_size: int = 1000) -> float:
    """Top-1 accuracy of a logits model on (x, y), in [0, 1]."""
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(y)))
