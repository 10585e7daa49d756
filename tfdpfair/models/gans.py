"""Generators and discriminators of the two DP-GAN papers (builders only; training is in ``tfdpfair.training.gan``).

Conditional models take one flat input: the generator ``[z, one_hot(label)]``, the
discriminator ``[flatten(image), one_hot(label)]`` (``tfdpfair.training.gan`` builds
them), so the per-example engine sees a plain functional model.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from tfdpfair.models.registry import register
from tfdpfair.compat import keras



@register("cgan_generator")
def cgan_generator(*, latent_dim: int = 100, num_classes: int = 10, hidden_units: int = 128,
                   image_shape: Sequence[int] = (28, 28, 1)) -> keras.Model:
    """DP-CGAN's generator: two fully connected layers; input [z, one-hot label], output image in [0, 1]."""
    inputs = keras.Input((latent_dim + num_classes,), name="z_and_label")
    h = keras.layers.Dense(hidden_units, activation="relu")(inputs)
    h = keras.layers.Dense(int(np.prod(image_shape)), activation="sigmoid")(h)
    return keras.Model(inputs, keras.layers.Reshape(tuple(image_shape))(h), name="cgan_generator")


@register("cgan_discriminator")
def cgan_discriminator(*, num_classes: int = 10, hidden_units: int = 128,
                       image_shape: Sequence[int] = (28, 28, 1)) -> keras.Model:
    """DP-CGAN's discriminator: two fully connected layers; input [flat image, one-hot label], output a logit."""
    inputs = keras.Input((int(np.prod(image_shape)) + num_classes,), name="image_and_label")
    h = keras.layers.Dense(hidden_units, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, name="logit")(h), name="cgan_discriminator")


@register("dcgan_generator")
def dcgan_generator(*, latent_dim: int = 100, image_shape: Sequence[int] = (28, 28, 1)) -> keras.Model:
    """Wincott's DCGAN generator: two dense (ReLU + batch norm) → reshape → upsample → conv (BN, ReLU) →
    upsample → conv with tanh; images in [−1, 1]. (BatchNorm is fine here: the generator never sees real data.)"""
    h_, w_ = image_shape[0] // 4, image_shape[1] // 4
    inputs = keras.Input((latent_dim,), name="z")
    h = keras.layers.Dense(256, use_bias=False)(inputs)
    h = keras.layers.ReLU()(keras.layers.BatchNormalization()(h))
    h = keras.layers.Dense(h_ * w_ * 64, use_bias=False)(h)
    h = keras.layers.ReLU()(keras.layers.BatchNormalization()(h))
    h = keras.layers.Reshape((h_, w_, 64))(h)
    h = keras.layers.UpSampling2D()(h)
    h = keras.layers.Conv2D(32, 5, padding="same", use_bias=False)(h)
    h = keras.layers.ReLU()(keras.layers.BatchNormalization()(h))
    h = keras.layers.UpSampling2D()(h)
    outputs = keras.layers.Conv2D(image_shape[2], 5, padding="same", activation="tanh")(h)
    return keras.Model(inputs, outputs, name="dcgan_generator")


@register("dcgan_discriminator")
def dcgan_discriminator(*, image_shape: Sequence[int] = (28, 28, 1)) -> keras.Model:
    """Wincott's DCGAN discriminator: two conv + max-pool layers → flatten → dense 32 → dense 1 (a logit)."""
    inputs = keras.Input(tuple(image_shape), name="image")
    h = keras.layers.Conv2D(16, 5, padding="same", activation="relu")(inputs)
    h = keras.layers.MaxPool2D()(h)
    h = keras.layers.Conv2D(32, 5, padding="same", activation="relu")(h)
    h = keras.layers.MaxPool2D()(h)
    h = keras.layers.Dense(32, activation="relu")(keras.layers.Flatten()(h))
    return keras.Model(inputs, keras.layers.Dense(1, name="logit")(h), name="dcgan_discriminator")
