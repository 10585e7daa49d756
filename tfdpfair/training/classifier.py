"""Training a Keras classifier with or without DP-SGD.

Backends: ``tfdpfair`` (default; ``tfdpfair.privacy.make_private``: per-example
clipping near the cost of non-private training, physical chunks, augmentation
multiplicity, SAM / DP-SAT, Poisson sampling) and TF Privacy's ``dp_model`` /
``dp_optimizer`` (``tfdpfair.privacy.tfp``), kept for comparison.

Randomness: ``train_classifier`` takes the run's ``RunStreams`` (or a ``seed`` and a
``run_name``): the DP noise, the batches and the augmentation of every step are
functions of those streams and the step, and checkpoints carry the step counters, so
``resume=True`` continues exactly where the run stopped (same weights, same ε as an
uninterrupted run). TF Privacy's backends draw noise from TensorFlow's global
generator instead; they cannot resume.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from tfdpfair import compat
from tfdpfair.data.augmentation import Augmentation
from tfdpfair.data.pipeline import (poisson_batches, poisson_steps_per_epoch, shuffle_steps_per_epoch,
                                    shuffled_batches)
from tfdpfair.errors import InputError
from tfdpfair.privacy.accounting import PrivacySpend
from tfdpfair.privacy.callbacks import PrivacyBudget
from tfdpfair.privacy.config import DPConfig
from tfdpfair.privacy.private_model import make_private
from tfdpfair.randomness import RunStreams
from tfdpfair.training.checkpoint import EpochCheckpoint
from tfdpfair.training.config import BACKENDS, OPTIMIZERS, SAMPLINGS, TrainConfig  # noqa: F401
from tfdpfair.compat import REDUCTION_NONE, keras



@dataclasses.dataclass
class TrainingRun:
    """What ``train_classifier`` returns.

    Attributes:
      history: per-epoch metrics (loss, accuracy, and ε / dp_steps under DP).
      privacy: ε spent (None for non-private runs).
      steps: optimizer steps taken in total (resumed runs included).
      stopped_by_budget: True when the target ε ended training early.
      seconds: wall-clock seconds of training, earlier (checkpointed) processes included.
      sampling: how batches were drawn (``shuffle`` or ``poisson``), for results.json.
    """

    history: dict
    privacy: Optional[PrivacySpend]
    steps: int
    stopped_by_budget: bool
    seconds: float
    sampling: str = "shuffle"


def learning_rate_schedule(train: TrainConfig, *, steps_per_epoch: Optional[int] = None):
    """``train.learning_rate``, or a step schedule (× ``lr_decay_factor`` at each ``lr_decay_at`` fraction of the
    ``epochs × steps_per_epoch`` steps) as a function of the optimizer's step, so a resumed run continues it."""
    if not train.lr_decay_at:
        return train.learning_rate
    if steps_per_epoch is None:
        raise ValueError("lr_decay_at needs steps_per_epoch (train_classifier passes it)")
    total = train.epochs * steps_per_epoch
    boundaries = [int(round(f * total)) for f in train.lr_decay_at]
    values = [train.learning_rate * train.lr_decay_factor ** i for i in range(len(boundaries) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


def _optimizer(train: TrainConfig, *, steps_per_epoch: Optional[int] = None) -> keras.optimizers.Optimizer:
    kwargs = {"learning_rate": learning_rate_schedule(train, steps_per_epoch=steps_per_epoch)}
    if train.weight_decay:
        kwargs["weight_decay"] = train.weight_decay
    if train.ema_decay is not None:
        kwargs.update(use_ema=True, ema_momentum=train.ema_decay)
    if train.optimizer == "sgd":
        return keras.optimizers.SGD(momentum=train.momentum, **kwargs)
    return keras.optimizers.Adam(**kwargs)


def _loss(train: TrainConfig, *, per_example: bool = False):
    kwargs = {"reduction": REDUCTION_NONE} if per_example else {}
    if train.loss == "binary":
        return keras.losses.BinaryCrossentropy(from_logits=True, **kwargs)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, **kwargs)


def _metrics(train: TrainConfig) -> list:
    if train.loss == "binary":  # logits: positive above 0
        return [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)]
    return ["accuracy"]


def _adversarial_wrapper(model: keras.Model, *, dp: DPConfig, train: TrainConfig, adversarial,
                         expected_batch_size: Optional[float], streams: Optional[RunStreams]) -> keras.Model:
    from tfdpfair.training.adversarial import AdversarialConfig, AdversarialModel, pgd_adversary

    if not isinstance(adversarial, AdversarialConfig):
        raise InputError(f"adversarial must be an AdversarialConfig, got {type(adversarial).__name__}")
    if train.backend != "tfdpfair":
        raise InputError(f"adversarial training runs on backend 'tfdpfair', not {train.backend!r}")
    if train.loss != "categorical":
        raise InputError("adversarial training takes the categorical loss (logits over classes)")
    if dp.enabled:
        if adversarial.demem_lambda > 0:
            raise InputError("DeMem's penalty is a variance over the batch, not a per-example loss: DP-SGD cannot clip "
                             "it per example; use demem_lambda=0 under DP")
        if adversarial.method != "pgd_at":
            raise InputError("under DP the per-example clipper takes one cross-entropy per input: only "
                             "method='pgd_at' (TRADES' two-term loss is not supported there yet)")
        if train.sam_radius > 0:
            raise InputError("DP-SAT with adversarial examples is not supported: set sam_radius=0")
        augmentation = (Augmentation(multiplicity=train.augmentation_multiplicity)
                        if train.augmentation_multiplicity > 1 else None)
        return make_private(model, dp, physical_batch_size=train.physical_batch_size, augmentation=augmentation,
                            expected_batch_size=expected_batch_size, streams=streams,
                            adversary=pgd_adversary(adversarial.attack))
    unsupported = [name for name, on in (("augmentation_multiplicity", train.augmentation_multiplicity > 1),
                                         ("sam_radius", train.sam_radius > 0),
                                         ("physical_batch_size", train.physical_batch_size is not None),
                                         ("sampling='poisson'", train.sampling == "poisson")) if on]
    if unsupported:
        raise InputError(f"non-private adversarial training does not take {', '.join(unsupported)}")
    return AdversarialModel(model, adversarial, streams=streams)


def compile_for_training(
    model: keras.Model, *, dp: DPConfig, train: TrainConfig, expected_batch_size: Optional[float] = None,
    streams: Optional[RunStreams] = None, adversarial=None, steps_per_epoch: Optional[int] = None,
) -> keras.Model:
    """The compiled model to ``fit``: ``model`` itself, or a DP (or training-technique) wrapper sharing its weights.

    Loss: sparse categorical cross-entropy on logits; metric: accuracy. ``streams``: the
    noise and augmentation streams of the ``tfdpfair`` backend (None: a fresh OS key).
    ``adversarial``: a ``tfdpfair.training.adversarial.AdversarialConfig`` — PGD-AT or TRADES
    (± DeMem) without DP, PGD-AT on the DP step with it. ``steps_per_epoch``: needed by a
    learning-rate schedule (``train.lr_decay_at``).
    """
    optimizer = _optimizer(train, steps_per_epoch=steps_per_epoch)
    if adversarial is not None:
        trainable = _adversarial_wrapper(model, dp=dp, train=train, adversarial=adversarial,
                                         expected_batch_size=expected_batch_size, streams=streams)
        trainable.compile(optimizer=optimizer, loss=_loss(train), metrics=_metrics(train))
        return trainable
    if train.backend == "tfdpfair":
        augmentation = (Augmentation(multiplicity=train.augmentation_multiplicity)
                        if train.augmentation_multiplicity > 1 else None)
        trainable = make_private(model, dp, physical_batch_size=train.physical_batch_size, augmentation=augmentation,
                                 sat_radius=train.sam_radius, expected_batch_size=expected_batch_size,
                                 streams=streams)
        trainable.compile(optimizer=optimizer, loss=_loss(train), metrics=_metrics(train))
        return trainable
    from tfdpfair.privacy import tfp  # TF Privacy's Keras 2 backends, imported only where asked for

    if not dp.enabled or train.backend == "dp_model":
        trainable = tfp.make_dp_model(model, dp) if dp.enabled else model
        trainable.compile(optimizer=optimizer, loss=_loss(train), metrics=_metrics(train))
        return trainable
    optimizer = tfp.make_dp_optimizer(train.optimizer, dp, learning_rate=train.learning_rate)
    model.compile(optimizer=optimizer, loss=_loss(train, per_example=True), metrics=_metrics(train))
    return model


def _resolve_streams(streams: Optional[RunStreams], seed: Optional[int], run_name: str) -> RunStreams:
    if streams is not None:
        if seed is not None or run_name:
            raise ValueError("pass either streams or seed / run_name, not both")
        return streams
    return RunStreams(seed=seed, name=run_name)


def train_classifier(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    dp: DPConfig,
    train: TrainConfig,
    seed: Optional[int] = None,
    run_name: str = "",
    streams: Optional[RunStreams] = None,
    checkpoint_dir: Optional[Path] = None,
    resume: bool = False,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: Optional[int] = None,
    adversarial=None,
) -> TrainingRun:
    """Fit ``model`` on (x, y), privately when ``dp.enabled``; adversarially with ``adversarial``
    (an ``AdversarialConfig``: see ``compile_for_training``).

    ``x`` is float in [0, 1], ``y`` integer labels (0/1 rows with ``train.loss="binary"``). Under DP, a ``PrivacyBudget``
    callback counts steps, logs ε each epoch and enforces ``dp.target_epsilon``.

    Randomness: ``streams``, or ``RunStreams(seed=seed, name=run_name)``. Give every
    run of an experiment its own ``run_name`` (two runs with the same seed and name draw
    the same noise); with neither, a fresh 128-bit key comes from the OS.

    With ``checkpoint_dir`` the model, optimizer, stream counters, epoch, DP step count,
    history and the state of callbacks that have ``checkpoint_state()`` are saved each
    epoch; ``resume=True`` continues from there (a checkpoint must exist), and a resumed
    run ends with the same weights as an uninterrupted one.
    """
    streams = _resolve_streams(streams, seed, run_name)
    sampling_rate = train.batch_size / len(x)
    poisson = train.sampling == "poisson"
    steps_per_epoch = (poisson_steps_per_epoch(sampling_rate) if poisson
                       else shuffle_steps_per_epoch(len(x), train.batch_size))
    if train.backend != "tfdpfair":  # TF Privacy draws noise from the global generator: make it the run's own
        if streams.secure and dp.enabled:
            raise InputError(f"secure noise needs backend 'tfdpfair': TF Privacy's {train.backend!r} draws its noise "
                             "from TensorFlow's seeded global generator")
        keras.utils.set_random_seed(streams.int_seed("noise"))
    trainable = compile_for_training(model, dp=dp, train=train,
                                     expected_batch_size=train.batch_size if poisson else None, streams=streams,
                                     adversarial=adversarial, steps_per_epoch=steps_per_epoch)
    budget = PrivacyBudget(dp=dp, sampling_rate=sampling_rate) if dp.enabled else None
    stateful = [c for c in callbacks if hasattr(c, "checkpoint_state")]
    all_callbacks = list(callbacks) + ([budget] if budget else [])
    initial_epoch, history, saver = 0, {}, None
    if checkpoint_dir is not None:
        saver = EpochCheckpoint(Path(checkpoint_dir), budget=budget, stateful=stateful,
                                entropy=streams.entropy if streams.seed is None else None)
        if resume:
            if train.backend != "tfdpfair" and dp.enabled:
                raise InputError(f"backend {train.backend!r} (TF Privacy) draws its noise from TensorFlow's global "
                                 "generator, which a resumed process would restart: resume needs backend 'tfdpfair'")
            trainable(x[:1])  # create the weights, and the optimizer's slots, before restoring them
            if hasattr(trainable.optimizer, "build"):  # Keras ≥ 2.11 optimizers; legacy ones restore lazily
                trainable.optimizer.build(trainable.trainable_variables)
            restored = saver.restore(trainable)
            initial_epoch, history = restored.epoch, restored.history
            if budget is not None:
                budget.steps = restored.dp_steps
            if restored.entropy is not None:
                streams = dataclasses.replace(streams, entropy=restored.entropy)
        all_callbacks.append(saver)
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    start = time.perf_counter()
    budget_left = budget is None or budget.remaining_steps() != 0
    stopped_early = any(getattr(c, "finished", False) for c in stateful)  # e.g. EarlyStopping, restored
    if initial_epoch < train.epochs and budget_left and not stopped_early:
        if poisson:
            batches = poisson_batches(x, y, sampling_rate=sampling_rate, seed=streams, epochs=train.epochs,
                                      initial_epoch=initial_epoch)
        else:
            batches = shuffled_batches(x, y, batch_size=train.batch_size, seed=streams, epochs=train.epochs,
                                       initial_epoch=initial_epoch)
        compat.build_for_fit(trainable, *batches.element_spec)  # else fit traces the step twice
        fit = trainable.fit(batches, shuffle=False, epochs=train.epochs, initial_epoch=initial_epoch,
                            steps_per_epoch=steps_per_epoch, callbacks=all_callbacks, verbose=verbose)
        if saver is not None:
            history = {k: list(v) for k, v in saver.history.items()}
        else:
            for key, values in fit.history.items():
                history.setdefault(key, []).extend(float(v) for v in values)
    else:  # a checkpoint of a finished run: end it the way fit would have
        if isinstance(trainable.optimizer, keras.optimizers.Optimizer):
            trainable.optimizer.finalize_variable_values(trainable.trainable_variables)  # EMA weights, if any
        for callback in stateful:
            callback.set_model(trainable)
            callback.on_train_end()
    seconds = saver.seconds if saver is not None else time.perf_counter() - start
    return TrainingRun(
        history=history,
        privacy=budget.spend() if budget else None,
        steps=int(trainable.optimizer.iterations.numpy()),
        stopped_by_budget=bool(budget and (budget.stopped_by_budget or not budget_left)),
        seconds=seconds,
        sampling=train.sampling,
    )


def evaluate_accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray, *, batch_size: int = 1000) -> float:
    """Top-1 accuracy of a logits model on (x, y), in [0, 1]."""
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(y)))
