"""GANs with a differentially private discriminator, as a ``keras.Model`` with its own ``train_step``.

Each ``fit`` batch holds ``d_steps × batch_size`` real examples: the discriminator
takes ``d_steps`` steps, each on its own slice (so every step is a fresh sample, as
the accountant assumes), then the generator takes one step. The discriminator
gradient follows ``policy`` (``tfdpfair.privacy.discriminator``); the generator never
sees real data and is private by post-processing. Fake labels (conditional GANs)
are drawn uniformly, independent of the real labels.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from tfdpfair.privacy.accounting import PrivacySpend
from tfdpfair.privacy.callbacks import PrivacyBudget
from tfdpfair.privacy.config import DPConfig
from tfdpfair.privacy.discriminator import POLICIES, discriminator_gradient
from tfdpfair.privacy.per_example import make_clipper
from tfdpfair.training.checkpoint import EpochCheckpoint

keras = tf.keras
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
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *, latent_dim: int, dp: DPConfig,
                 policy: str = "separate", batch_size: int, d_steps: int = 1, num_classes: Optional[int] = None):
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
        self.clipper = make_clipper(discriminator, BCE)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    # -- inputs --------------------------------------------------------------------------------
    def _generator_input(self, n, labels=None):
        z = tf.random.normal(tf.stack([n, self.latent_dim]))
        if self.num_classes is None:
            return z
        return tf.concat([z, tf.one_hot(labels, self.num_classes)], axis=1)

    def _discriminator_input(self, images, labels=None):
        if self.num_classes is None:
            return images
        flat = tf.reshape(images, tf.stack([tf.shape(images)[0], -1]))
        return tf.concat([flat, tf.one_hot(tf.cast(labels, tf.int32), self.num_classes)], axis=1)

    def generate(self, n: int, labels=None, training: bool = False):
        """``n`` images; conditional GANs take ``labels`` (uniform random when None)."""
        if self.num_classes is not None and labels is None:
            labels = tf.random.uniform([n], 0, self.num_classes, dtype=tf.int32)
        return self.generator(self._generator_input(n, labels), training=training)

    def generate_many(self, n: int, labels=None, *, chunk: int = 5000) -> np.ndarray:
        """``n`` images as a numpy array, generated ``chunk`` at a time (``labels``: array of n ints, or None)."""
        parts = np.array_split(np.arange(n), max(1, -(-n // chunk)))
        return np.concatenate([
            self.generate(len(p), labels=None if labels is None else tf.constant(np.asarray(labels)[p])).numpy()
            for p in parts])

    def call(self, z_and_labels, training=False):
        return self.generator(z_and_labels, training=training)

    # -- one step ------------------------------------------------------------------------------
    def _fake(self, n):
        labels = None
        if self.num_classes is not None:
            labels = tf.random.uniform([n], 0, self.num_classes, dtype=tf.int32)
        images = self.generator(self._generator_input(n, labels), training=True)
        return self._discriminator_input(images, labels)

    def _d_step(self, real_images, real_labels):
        b = self.batch_size
        real = self._discriminator_input(real_images, real_labels)
        fake = self._fake(b)
        d_vars = self.discriminator.trainable_variables
        if self.dp.enabled:
            grads = discriminator_gradient(self.clipper, policy=self.policy, real=real, fake=fake,
                                           l2_norm_clip=self.dp.l2_norm_clip,
                                           noise_multiplier=self.dp.noise_multiplier, batch_size=b)
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
        for k in range(self.d_steps):  # each discriminator step on its own slice of real data
            d_loss = self._d_step(images[k * b:(k + 1) * b], None if labels is None else labels[k * b:(k + 1) * b])
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.discriminator(self._fake(b), training=True)
            g_loss = BCE(tf.ones_like(logits), logits)
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}


@dataclasses.dataclass(frozen=True)
class GANTrainConfig:
    """How a (DP-)GAN is trained.

    Attributes:
      batch_size: real (and fake) examples per discriminator step; q = batch_size / N.
      max_steps: generator steps at most (the target ε may stop training earlier).
      d_steps: discriminator steps per generator step, each on fresh real data.
      learning_rate / learning_rate_after / decay_step: SGD learning rate of both networks,
        ``learning_rate`` until discriminator step ``decay_step``, then ``learning_rate_after``
        (DP-CGAN: 0.15 → 0.052 at 10K).
      g_optimizer: ``sgd`` (same schedule as the discriminator) or ``adam``.
      g_learning_rate / g_beta_1: Adam's step size and β1 for the generator (2e-4 and 0.5, the
        DCGAN tutorial's; DP-CGAN's code uses Keras' defaults 1e-3 and 0.9).
      policy: discriminator policy, see ``tfdpfair.privacy.discriminator``.
      latent_dim: size of the generator's noise input.
    """

    batch_size: int = 600
    max_steps: int = 30000
    d_steps: int = 1
    learning_rate: float = 0.15
    learning_rate_after: float = 0.052
    decay_step: int = 10000
    g_optimizer: str = "sgd"
    g_learning_rate: float = 2e-4
    g_beta_1: float = 0.5
    policy: str = "separate"
    latent_dim: int = 100

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_steps < 1 or self.d_steps < 1 or self.decay_step < 0:
            raise ValueError(f"batch_size, max_steps, d_steps must be >= 1 and decay_step >= 0, got {self}")
        if self.policy not in POLICIES:
            raise ValueError(f"unknown discriminator policy {self.policy!r}; choose one of {', '.join(POLICIES)}")
        if self.g_optimizer not in ("sgd", "adam"):
            raise ValueError(f"g_optimizer must be 'sgd' or 'adam', got {self.g_optimizer!r}")
        if not self.g_learning_rate > 0 or not 0 <= self.g_beta_1 < 1:
            raise ValueError(f"g_learning_rate must be > 0 and g_beta_1 in [0, 1), got {self.g_learning_rate}, "
                             f"{self.g_beta_1}")


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
              dp: DPConfig, config: GANTrainConfig, num_classes: Optional[int] = None, seed: int = 0,
              checkpoint_dir: Optional[Path] = None, resume: bool = False,
              callbacks: Sequence[keras.callbacks.Callback] = (), verbose: Optional[int] = None) -> GANRun:
    """Train a (conditional when ``num_classes``) GAN on images ``x`` (labels ``y``), DP discriminator if ``dp.enabled``.

    Real data comes in reshuffled batches of ``d_steps · batch_size`` (the last partial one
    dropped); a ``PrivacyBudget`` charges ``d_steps`` steps at q = batch_size / N per batch
    and stops before ``dp.target_epsilon`` would be exceeded. With ``checkpoint_dir`` both
    networks, their optimizers and the DP step count are saved each epoch; ``resume=True``
    continues from there.
    """
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [config.decay_step], [config.learning_rate, config.learning_rate_after])
    g_opt = (keras.optimizers.SGD(schedule) if config.g_optimizer == "sgd"
             else keras.optimizers.Adam(config.g_learning_rate, beta_1=config.g_beta_1))
    gan = DPGAN(generator, discriminator, latent_dim=config.latent_dim, dp=dp, policy=config.policy,
                batch_size=config.batch_size, d_steps=config.d_steps, num_classes=num_classes)
    gan.compile(d_optimizer=keras.optimizers.SGD(schedule), g_optimizer=g_opt)
    per_batch = config.batch_size * config.d_steps
    if per_batch > len(x):
        raise ValueError(f"d_steps × batch_size = {per_batch} exceeds the {len(x)} training examples")
    steps_per_epoch = len(x) // per_batch
    epochs = -(-config.max_steps // steps_per_epoch)
    inputs = (x, y) if num_classes is not None else (x,)
    ds = (tf.data.Dataset.from_tensor_slices(inputs).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
          .batch(per_batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
    callbacks = list(callbacks)
    budget = None
    if dp.enabled:
        budget = PrivacyBudget(dp=dp, sampling_rate=config.batch_size / len(x), steps_per_batch=config.d_steps)
        callbacks.append(budget)
    initial_epoch, history = 0, {}
    if checkpoint_dir is not None:
        saver = EpochCheckpoint(Path(checkpoint_dir), budget=budget)
        if resume:
            gan.d_optimizer.build(discriminator.trainable_variables)
            gan.g_optimizer.build(generator.trainable_variables)
            initial_epoch, dp_steps, history = saver.restore(gan)
            if budget is not None:
                budget.steps = dp_steps
        callbacks.append(saver)
    stop = _StopAtStep(config.max_steps, initial_steps=int(gan.g_optimizer.iterations.numpy()))
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    start = time.perf_counter()
    budget_left = budget is None or budget.remaining_steps() is None or budget.remaining_steps() >= config.d_steps
    if initial_epoch < epochs and stop.steps < config.max_steps and budget_left:
        fit = gan.fit(ds, epochs=epochs, initial_epoch=initial_epoch, callbacks=[stop] + callbacks, verbose=verbose)
        for key, values in fit.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
    return GANRun(gan=gan, history=history,
                  privacy=budget.spend() if budget else None,
                  generator_steps=int(gan.g_optimizer.iterations.numpy()), seconds=time.perf_counter() - start,
                  stopped_by_budget=bool(budget and budget.stopped_by_budget))


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

    def on_epoch_end(self, epoch, logs=None):
        gan = self.model
        z = tf.random.stateless_normal([self.n, gan.latent_dim], seed=[self.seed, 0])
        if gan.num_classes is not None:
            z = tf.concat([z, tf.one_hot(tf.range(self.n) % gan.num_classes, gan.num_classes)], axis=1)
        self.images.append(gan.generator(z, training=False).numpy())
