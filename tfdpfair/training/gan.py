"""GANs with a differentially private discriminator, as a ``keras.Model`` with its own ``train_step``.

Each ``fit`` batch holds ``d_steps × batch_size`` real examples: the discriminator
takes ``d_steps`` steps, each on its own slice (so every step is a fresh sample, as
the accountant assumes), then the generator takes one step. The discriminator
gradient follows ``policy`` (``tfdpfair.privacy.discriminator``); the generator never
sees real data and is private by post-processing. Fake labels (conditional GANs)
are drawn uniformly, independent of the real labels.

Randomness: the discriminator noise, the latent vectors and the fake labels of
generator step t are pure functions of the run's keys (``RunStreams``) and t, where t
is the model's ``gan_step`` variable; keys and counter are saved with every checkpoint
of the GAN, so a resumed run continues the streams and equals an uninterrupted one.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from tfdpfair.data.pipeline import shuffled_batches
from tfdpfair.errors import InputError
from tfdpfair.privacy.accounting import PrivacySpend
from tfdpfair.privacy.callbacks import PrivacyBudget
from tfdpfair.privacy.config import DPConfig
from tfdpfair.privacy.discriminator import POLICIES, discriminator_gradient
from tfdpfair.privacy.mechanisms import step_seed
from tfdpfair.privacy.per_example import make_clipper
from tfdpfair.randomness import RunStreams
from tfdpfair.training.checkpoint import EpochCheckpoint
from tfdpfair.training.config import GANTrainConfig  # noqa: F401
from tfdpfair.compat import keras

BCE = keras.losses.BinaryCrossentropy(from_logits=True)


class DPGAN(keras.Model):
    """A (conditional) GAN whose discriminator is trained with DP-SGD.

    Args:
      generator: maps ``[z, one_hot(label)]`` (conditional) or ``z`` to images.
      discriminator: maps ``[flatten(image), one_hot(label)]`` (conditional) or an image to one logit.
      latent_dim: size of z ~ N(0, I).
      dp: the discriminator's mechanism; ``dp.disabled()`` trains a non-private GAN.
      policy: ``separate`` (DP-CGAN), ``real_only`` (Wincott) or ``joint`` (basic DP).
      batch_size: real (and fake) examples per discriminator step.
      d_steps: discriminator steps per generator step (≥ 1).
      num_classes: None for an unconditional GAN, else the number of labels.
      streams: the run's random streams (noise and latents); None draws a fresh key from the OS.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *, latent_dim: int, dp: DPConfig,
                 policy: str = "separate", batch_size: int, d_steps: int = 1, num_classes: Optional[int] = None,
                 streams: Optional[RunStreams] = None):
        super().__init__(name="dp_gan")
        if policy not in POLICIES:
            raise ValueError(f"unknown discriminator policy {policy!r}; choose one of {', '.join(POLICIES)}")
        if d_steps < 1 or batch_size < 1:
            raise ValueError(f"d_steps and batch_size must be >= 1, got {d_steps} and {batch_size}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.dp = dp
        self.policy = policy
        self.batch_size = int(batch_size)
        self.d_steps = int(d_steps)
        self.num_classes = num_classes
        self.streams = streams if streams is not None else RunStreams()
        self.noise_key = tf.Variable(self.streams.key("noise"), dtype=tf.int64, trainable=False, name="dp_noise_key")
        self.latent_key = tf.Variable(self.streams.key("latent"), dtype=tf.int64, trainable=False, name="latent_key")
        self.gan_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="gan_step")  # generator steps taken
        self.clipper = make_clipper(discriminator, BCE)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        kwargs.setdefault("jit_compile", False)  # as make_private: Keras 3 would turn XLA on where a GPU is present
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    # -- inputs --------------------------------------------------------------------------------
    def _generator_input(self, n, labels=None, seed=None):
        shape = tf.stack([n, self.latent_dim])
        z = tf.random.normal(shape) if seed is None else tf.random.stateless_normal(shape, seed=seed)
        if self.num_classes is None:
            return z
        return tf.concat([z, tf.one_hot(labels, self.num_classes)], axis=1)

    def _discriminator_input(self, images, labels=None):
        if self.num_classes is None:
            return images
        flat = tf.reshape(images, [-1, int(np.prod(images.shape[1:]))])
        return tf.concat([flat, tf.one_hot(tf.cast(labels, tf.int32), self.num_classes)], axis=1)

    def _random_labels(self, n, seed=None):
        if seed is None:
            return tf.random.uniform([n], 0, self.num_classes, dtype=tf.int32)
        return tf.random.stateless_uniform([n], step_seed(seed, 1), 0, self.num_classes, dtype=tf.int32)

    def generate(self, n: int, labels=None, training: bool = False, seed=None):
        """``n`` images; conditional GANs take ``labels`` (uniform random when None).

        ``seed``: an int or a stateless seed (shape [2]) for a reproducible draw; None uses
        TensorFlow's global generator.
        """
        if seed is not None and np.ndim(seed) == 0:
            seed = tf.constant([int(seed), 0], tf.int64)
        if self.num_classes is not None and labels is None:
            labels = self._random_labels(n, seed)
        z_seed = None if seed is None else step_seed(seed, 0)
        return self.generator(self._generator_input(n, labels, z_seed), training=training)

    def generate_many(self, n: int, labels=None, *, chunk: int = 5000, seed=None) -> np.ndarray:
        """``n`` images as a numpy array, generated ``chunk`` at a time (``labels``: array of n ints, or None).

        ``seed`` (an int) makes the draw reproducible: chunk i uses (seed, i).
        """
        parts = np.array_split(np.arange(n), max(1, -(-n // chunk)))
        return np.concatenate([
            self.generate(len(p), labels=None if labels is None else tf.constant(np.asarray(labels)[p]),
                          seed=None if seed is None else step_seed(tf.constant([int(seed), 0], tf.int64), i)).numpy()
            for i, p in enumerate(parts)])

    def call(self, z_and_labels, training=False):
        return self.generator(z_and_labels, training=training)

    # -- one step ------------------------------------------------------------------------------
    def _fake(self, n, seed):
        labels = None
        if self.num_classes is not None:
            labels = self._random_labels(n, seed)
        images = self.generator(self._generator_input(n, labels, step_seed(seed, 0)), training=True)
        return self._discriminator_input(images, labels)

    def _d_step(self, real_images, real_labels, *, noise_seed, latent_seed):
        b = self.batch_size
        real = self._discriminator_input(real_images, real_labels)
        fake = self._fake(b, latent_seed)
        d_vars = self.discriminator.trainable_variables
        if self.dp.enabled:
            grads = discriminator_gradient(self.clipper, policy=self.policy, real=real, fake=fake,
                                           l2_norm_clip=self.dp.l2_norm_clip,
                                           noise_multiplier=self.dp.noise_multiplier, batch_size=b,
                                           seed=noise_seed, secure=self.streams.secure)
        else:
            with tf.GradientTape() as tape:
                loss = (BCE(tf.ones([b, 1]), self.discriminator(real, training=True))
                        + BCE(tf.zeros([b, 1]), self.discriminator(fake, training=True)))
            grads = tape.gradient(loss, d_vars)
        self.d_optimizer.apply_gradients(zip(grads, d_vars))
        real_logits = self.discriminator(real, training=False)
        fake_logits = self.discriminator(fake, training=False)
        return BCE(tf.ones_like(real_logits), real_logits) + BCE(tf.zeros_like(fake_logits), fake_logits)

    def train_step(self, data):
        if self.num_classes is None:
            images = data[0] if isinstance(data, (tuple, list)) else data
            labels = None
        else:
            images, labels = data
        b = self.batch_size
        step = self.gan_step.read_value()
        noise_seed, latent_seed = step_seed(self.noise_key, step), step_seed(self.latent_key, step)
        for k in range(self.d_steps):  # each discriminator step on its own slice of real data
            d_loss = self._d_step(images[k * b:(k + 1) * b], None if labels is None else labels[k * b:(k + 1) * b],
                                  noise_seed=step_seed(noise_seed, k), latent_seed=step_seed(latent_seed, k))
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.discriminator(self._fake(b, step_seed(latent_seed, self.d_steps)), training=True)
            g_loss = BCE(tf.ones_like(logits), logits)
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))
        self.gan_step.assign_add(1)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}


@dataclasses.dataclass
class GANRun:
    """What ``train_gan`` returns: the trained GAN, per-epoch history, ε spent (None if non-private), steps, time."""

    gan: DPGAN
    history: dict
    privacy: Optional[PrivacySpend]
    generator_steps: int
    seconds: float
    stopped_by_budget: bool


class _StopAtStep(keras.callbacks.Callback):
    def __init__(self, max_steps: int, initial_steps: int = 0):
        super().__init__()
        self.max_steps = max_steps
        self.steps = initial_steps

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps >= self.max_steps:
            self.model.stop_training = True


def train_gan(generator: keras.Model, discriminator: keras.Model, x: np.ndarray, y: Optional[np.ndarray], *,
              dp: DPConfig, config: GANTrainConfig, num_classes: Optional[int] = None, seed: Optional[int] = None,
              run_name: str = "", streams: Optional[RunStreams] = None, checkpoint_dir: Optional[Path] = None,
              resume: bool = False, callbacks: Sequence[keras.callbacks.Callback] = (),
              verbose: Optional[int] = None) -> GANRun:
    """Train a (conditional when ``num_classes``) GAN on images ``x`` (labels ``y``), DP discriminator if ``dp.enabled``.

    Real data comes in reshuffled batches of ``d_steps · batch_size`` (the last partial one
    dropped); a ``PrivacyBudget`` charges ``d_steps`` steps at q = batch_size / N per batch
    and stops before ``dp.target_epsilon`` would be exceeded. Randomness: ``streams``, or
    ``RunStreams(seed=seed, name=run_name)`` — give every GAN of a sweep its own name.
    With ``checkpoint_dir`` both networks, their optimizers, the stream counters, the DP
    step count and the state of callbacks with ``checkpoint_state()`` are saved each
    epoch; ``resume=True`` continues from there, and ends where an uninterrupted run ends.
    """
    from tfdpfair.training.classifier import _resolve_streams

    streams = _resolve_streams(streams, seed, run_name)
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [config.decay_step], [config.learning_rate, config.learning_rate_after])
    g_opt = (keras.optimizers.SGD(schedule) if config.g_optimizer == "sgd"
             else keras.optimizers.Adam(config.g_learning_rate, beta_1=config.g_beta_1))
    gan = DPGAN(generator, discriminator, latent_dim=config.latent_dim, dp=dp, policy=config.policy,
                batch_size=config.batch_size, d_steps=config.d_steps, num_classes=num_classes, streams=streams)
    gan.compile(d_optimizer=keras.optimizers.SGD(schedule), g_optimizer=g_opt)
    per_batch = config.batch_size * config.d_steps
    if per_batch > len(x):
        raise InputError(f"d_steps × batch_size = {per_batch} exceeds the {len(x)} training examples")
    steps_per_epoch = len(x) // per_batch
    epochs = -(-config.max_steps // steps_per_epoch)
    callbacks = list(callbacks)
    stateful = [c for c in callbacks if hasattr(c, "checkpoint_state")]
    budget = None
    if dp.enabled:
        budget = PrivacyBudget(dp=dp, sampling_rate=config.batch_size / len(x), steps_per_batch=config.d_steps)
        callbacks.append(budget)
    initial_epoch, history, saver = 0, {}, None
    if checkpoint_dir is not None:
        saver = EpochCheckpoint(Path(checkpoint_dir), budget=budget, stateful=stateful,
                                entropy=streams.entropy if streams.seed is None else None)
        if resume:
            gan.d_optimizer.build(discriminator.trainable_variables)
            gan.g_optimizer.build(generator.trainable_variables)
            restored = saver.restore(gan)
            initial_epoch, history = restored.epoch, restored.history
            if budget is not None:
                budget.steps = restored.dp_steps
            if restored.entropy is not None:
                streams = dataclasses.replace(streams, entropy=restored.entropy)
        callbacks.append(saver)
    stop = _StopAtStep(config.max_steps, initial_steps=int(gan.gan_step.numpy()))
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    start = time.perf_counter()
    budget_left = budget is None or budget.remaining_steps() is None or budget.remaining_steps() >= config.d_steps
    if initial_epoch < epochs and stop.steps < config.max_steps and budget_left:
        ds = shuffled_batches(x, y if num_classes is not None else None, batch_size=per_batch, seed=streams,
                              epochs=epochs, initial_epoch=initial_epoch)
        fit = gan.fit(ds, shuffle=False, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                      callbacks=[stop] + callbacks, verbose=verbose)
        if saver is not None:
            history = {k: list(v) for k, v in saver.history.items()}
        else:
            for key, values in fit.history.items():
                history.setdefault(key, []).extend(float(v) for v in values)
    else:  # a checkpoint of a finished run
        for callback in stateful:
            callback.set_model(gan)
            callback.on_train_end()
    return GANRun(gan=gan, history=history,
                  privacy=budget.spend() if budget else None,
                  generator_steps=int(gan.gan_step.numpy()),
                  seconds=saver.seconds if saver is not None else time.perf_counter() - start,
                  stopped_by_budget=bool(budget and (budget.stopped_by_budget or not budget_left)))


class GeneratedSamples(keras.callbacks.Callback):
    """Keeps the generator's images for fixed noise at the end of every epoch (to watch quality evolve).

    Attributes:
      images: one (n, H, W, C) array per epoch.
    """

    def __init__(self, n: int = 10, seed: int = 0):
        super().__init__()
        self.n = n
        self.seed = seed
        self.images = []

    def checkpoint_state(self) -> dict:
        """What ``EpochCheckpoint`` saves, so that a resumed run keeps the earlier epochs' images."""
        return {"images": np.stack(self.images) if self.images else np.zeros((0,), np.float32)}

    def restore_checkpoint_state(self, state: dict) -> None:
        self.images = list(state["images"]) if len(state["images"]) else []

    def on_epoch_end(self, epoch, logs=None):
        gan = self.model
        z = tf.random.stateless_normal([self.n, gan.latent_dim], seed=[self.seed, 0])
        if gan.num_classes is not None:
            z = tf.concat([z, tf.one_hot(tf.range(self.n) % gan.num_classes, gan.num_classes)], axis=1)
        self.images.append(gan.generator(z, training=False).numpy())


class EpochMeasures(keras.callbacks.Callback):
    """Measures the generator at the end of every epoch, on ``n`` images for fixed noise (quality during training).

    ``measure(images) -> {name: float}`` gets the generator's output (its own range, e.g. [−1, 1]
    for tanh) of ``generate_many(n, labels=None or np.arange(n) % num_classes, seed=seed)``: with
    the draw of a final evaluation, the last epoch's values are that evaluation's. The values
    survive a resume through the epoch checkpoint. ``verbose`` prints each epoch's values on
    one line (progress on long runs).

    Attributes:
      values: ``{epoch (1-based): {name: value}}``; a value that is not finite (a diverged
        generator) is stored as None.
    """

    def __init__(self, measure, *, n: int, seed: int = 0, verbose: bool = False):
        super().__init__()
        if n < 1:
            raise InputError(f"EpochMeasures needs n >= 1 images, got {n}")
        self.measure = measure
        self.n = n
        self.seed = seed
        self.verbose = verbose
        self.values = {}

    def checkpoint_state(self) -> dict:
        """What ``EpochCheckpoint`` saves (JSON: epochs as text keys)."""
        return {"values": {str(epoch): dict(v) for epoch, v in self.values.items()}}

    def restore_checkpoint_state(self, state: dict) -> None:
        self.values = {int(epoch): dict(v) for epoch, v in state["values"].items()}

    def on_epoch_end(self, epoch, logs=None):
        gan = self.model
        labels = None if gan.num_classes is None else np.arange(self.n) % gan.num_classes
        measured = self.measure(gan.generate_many(self.n, labels=labels, seed=self.seed))
        self.values[epoch + 1] = values = {k: (float(v) if np.isfinite(v) else None) for k, v in measured.items()}
        if self.verbose:
            print(f"epoch {epoch + 1}, measured on {self.n} generated images: "
                  + ", ".join(f"{k} {'diverged' if v is None else f'{v:.4g}'}" for k, v in values.items()), flush=True)
