"""The DP-GAN discriminator step: which per-example gradients are clipped, which are noised.

Only the discriminator sees real data, so only its step needs privacy; the generator
is private by post-processing. Three policies, all built on one per-example engine
(``tfdpfair.privacy.per_example``) with the discriminator loss ℓ = binary
cross-entropy on logits (real label 1, fake label 0):

* ``separate`` (Torkzadehmahani et al. 2020, DP-CGAN): Σ_i clip(∇ℓ(real_i), C) +
  Σ_j clip(∇ℓ(fake_j), C), noise N(0, σ²C²) added once;
* ``real_only`` (Wincott 2020, DP-DCGAN): Σ_i clip(∇ℓ(real_i), C) + N(0, σ²C²), plus the
  fake examples' gradient sum, unclipped and without noise;
* ``joint`` ("CGAN with basic DP"): Σ_i clip(∇[ℓ(real_i) + ℓ(fake_i)], C) + N(0, σ²C²),
  real and fake paired by position.

In each, one real example changes the noised sum by at most C, so one step is one
Gaussian mechanism with noise multiplier σ, charged at rate q = batch / N.
``discriminator_sums`` returns the two pre-noise parts; ``discriminator_gradient``
adds the noise and divides by the batch size.
"""
from __future__ import annotations

from typing import List, Tuple

import tensorflow as tf

from tfdpfair.privacy.config import POLICIES
from tfdpfair.privacy.mechanisms import privatize
from tfdpfair.privacy.per_example import Clipper



def _labels(like: tf.Tensor, value: float) -> tf.Tensor:
    return tf.fill(tf.stack([tf.shape(like)[0], 1]), value)


def _interleave(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Rows a_0, b_0, a_1, b_1, …: each (real, fake) pair as one example of multiplicity 2."""
    return tf.reshape(tf.stack([a, b], axis=1), tf.concat([[-1], tf.shape(a)[1:]], axis=0))


def discriminator_sums(
    clipper: Clipper, *, policy: str, real: tf.Tensor, fake: tf.Tensor, l2_norm_clip: float
) -> Tuple[List[tf.Tensor], List[tf.Tensor]]:
    """(sensitive, public): the clipped sum that receives the noise, and the fake-only sum that does not.

    ``clipper`` wraps the discriminator with a binary cross-entropy-on-logits loss.
    ``real`` and ``fake`` are discriminator inputs; ``joint`` needs them of equal length.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown discriminator policy {policy!r}; choose one of {', '.join(POLICIES)}")
    variables = clipper.model.trainable_variables
    public = [tf.zeros_like(v) for v in variables]
    if policy == "joint":
        rows = _interleave(real, fake)
        labels = _interleave(_labels(real, 1.0), _labels(fake, 0.0))
        # the engine clips the mean of the pair's gradients; clip(g_r + g_f, C) = 2 · clip(mean, C / 2)
        half = clipper.clipped_sum(rows, labels, l2_norm_clip=l2_norm_clip / 2.0, multiplicity=2)
        return [2.0 * s for s in half.sums], public
    real_sum = clipper.clipped_sum(real, _labels(real, 1.0), l2_norm_clip=l2_norm_clip).sums
    if policy == "separate":
        fake_sum = clipper.clipped_sum(fake, _labels(fake, 0.0), l2_norm_clip=l2_norm_clip).sums
        return [r + f for r, f in zip(real_sum, fake_sum)], public
    return real_sum, clipper.gradient_sum(fake, _labels(fake, 0.0)).sums


def discriminator_gradient(
    clipper: Clipper, *, policy: str, real: tf.Tensor, fake: tf.Tensor, l2_norm_clip: float,
    noise_multiplier: float, batch_size, seed=None, secure: bool = False
) -> List[tf.Tensor]:
    """The private discriminator gradient: (sensitive + N(0, σ²C²) + public) / ``batch_size``.

    ``seed``: this step's stateless noise seed (see ``mechanisms.privatize``), or ``secure``.
    """
    sensitive, public = discriminator_sums(clipper, policy=policy, real=real, fake=fake, l2_norm_clip=l2_norm_clip)
    noisy = privatize(sensitive, l2_norm_clip=l2_norm_clip, noise_multiplier=noise_multiplier,
                      expected_batch_size=batch_size, seed=seed, secure=secure)
    return [n + p / tf.cast(batch_size, p.dtype) for n, p in zip(noisy, public)]
