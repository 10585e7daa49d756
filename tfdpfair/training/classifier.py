"""Training a Keras classifier with or without DP-SGD (TF Privacy backends, see ``tfdpfair.privacy.tfp``)."""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from tfdpfair.data.pipeline import shuffled_batches
from tfdpfair.privacy import tfp
from tfdpfair.privacy.accounting import PrivacySpend
from tfdpfair.privacy.callbacks import PrivacyBudget
from tfdpfair.privacy.config import DPConfig
from tfdpfair.training.checkpoint import EpochCheckpoint

OPTIMIZERS = ("sgd", "adam")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by private and non-private runs.

    Attributes:
      batch_size: examples per step (the expected batch size of the accounting); ≥ 1.
      epochs: passes over the training set; ≥ 1 (a target ε may stop earlier).
      learning_rate: optimizer step size, > 0.
      optimizer: ``sgd`` or ``adam``.
      backend: DP backend, ``dp_model`` (fast, default) or ``dp_optimizer`` (TF Privacy's
        per-microbatch optimizer); ignored when DP is disabled.
    """

    batch_size: int = 250
    epochs: int = 15
    learning_rate: float = 0.25
    optimizer: str = "sgd"
    backend: str = "dp_model"

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.epochs < 1 or not self.learning_rate > 0:
            raise ValueError(f"batch_size and epochs must be >= 1 and learning_rate > 0, got {self}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        tfp.check_backend(self.backend)


@dataclasses.dataclass
class TrainingRun:
    """What ``train_classifier`` returns.

    Attributes:
      history: per-epoch metrics (loss, accuracy, and ε / dp_steps under DP).
      privacy: ε spent (None for non-private runs).
      steps: optimizer steps taken in total (resumed runs included).
      stopped_by_budget: True when the target ε ended training early.
      seconds: wall-clock seconds of this process's training.
    """

    history: dict
    privacy: Optional[PrivacySpend]
    steps: int
    stopped_by_budget: bool
    seconds: float


def _optimizer(train: TrainConfig) -> tf.keras.optimizers.Optimizer:
    cls = {"sgd": tf.keras.optimizers.SGD, "adam": tf.keras.optimizers.Adam}[train.optimizer]
    return cls(learning_rate=train.learning_rate)


def compile_for_training(model: tf.keras.Model, *, dp: DPConfig, train: TrainConfig) -> tf.keras.Model:
    """The compiled model to ``fit``: ``model`` itself, or a DP version sharing its weights.

    Loss: sparse categorical cross-entropy on logits; metric: accuracy.
    """
    if not dp.enabled:
        model.compile(optimizer=_optimizer(train),
                      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        return model
    if train.backend == "dp_model":
        trainable = tfp.make_dp_model(model, dp)
        trainable.compile(optimizer=_optimizer(train),
                          loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=["accuracy"])
        return trainable
    optimizer = tfp.make_dp_optimizer(train.optimizer, dp, learning_rate=train.learning_rate)
    model.compile(
        optimizer=optimizer,
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                           reduction=tf.keras.losses.Reduction.NONE),
        metrics=["accuracy"],
    )
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
    """Fit ``model`` on (x, y) in shuffled fixed-size batches, privately when ``dp.enabled``.

    ``x`` is float in [0, 1], ``y`` integer labels. Under DP, a ``PrivacyBudget``
    callback counts steps, logs ε each epoch and enforces ``dp.target_epsilon``.
    With ``checkpoint_dir`` the model, optimizer, epoch and DP step count are saved
    each epoch; ``resume=True`` continues from there.
    """
    trainable = compile_for_training(model, dp=dp, train=train)
    sampling_rate = train.batch_size / len(x)
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
    start = time.perf_counter()
    stopped = False
    if initial_epoch < train.epochs and (budget is None or budget.remaining_steps() != 0):
        fit = trainable.fit(
            shuffled_batches(x, y, batch_size=train.batch_size, seed=seed),
            epochs=train.epochs,
            initial_epoch=initial_epoch,
            callbacks=all_callbacks,
            verbose=verbose,
        )
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
    )


def evaluate_accuracy(model: tf.keras.Model, x: np.ndarray, y: np.ndarray, *, batch_size: int = 1000) -> float:
    """Top-1 accuracy of a logits model on (x, y), in [0, 1]."""
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(y)))
