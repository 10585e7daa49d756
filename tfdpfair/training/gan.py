"""GANs with a differentially private discriminator, as a ``keras.Model`` with its own ``train_step``.

Each ``fit`` batch holds ``d_steps × batch_size`` real examples: the discriminator
takes ``d_steps`` steps, each on its own slice (so every step is a fresh sample, as
the accountant assumes), then the generator takes one step. The discriminator
gradient follows ``policy`` (``tfdpfair.privacy.discriminator``); the generator never
sees real data and is private by post-processing. Fake labels (conditional GANs)
are drawn uniformly, independent of the real labels.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf

from tfdpfair.privacy.config import DPConfig
from tfdpfair.privacy.discriminator import POLICIES, discriminator_gradient
from tfdpfair.privacy.per_example import make_clipper

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
