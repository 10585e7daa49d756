"""The three DP-GAN discriminator policies: definitions, sensitivity to one real example, noise once."""
import numpy as np
import pytest
import tensorflow as tf

from tfdpfair.privacy.discriminator import POLICIES, discriminator_gradient, discriminator_sums
from tfdpfair.privacy.per_example import make_clipper
from tfdpfair.compat import keras

LOSS = keras.losses.BinaryCrossentropy(from_logits=True)
C = 0.5


def _discriminator():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(inputs)
    h = keras.layers.Dense(6, activation="relu")(keras.layers.Flatten()(h))
    return keras.Model(inputs, keras.layers.Dense(1)(h))


MODEL = _discriminator()


def _batch(n, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8, 8, 1)).astype(np.float32) * scale
    x[: n // 2] *= 0.02  # small gradients: some examples below the clip norm
    return tf.constant(x)


REAL, FAKE = _batch(6, 1), _batch(6, 2)


def _flat(ts):
    return np.concatenate([np.ravel(t.numpy()) for t in ts])


def _grad(x, label):
    with tf.GradientTape() as tape:
        loss = LOSS(tf.fill([x.shape[0], 1], label), MODEL(x, training=True)) * x.shape[0]
    return _flat(tape.gradient(loss, MODEL.trainable_variables))


def _clip(g):
    return g * min(1.0, C / np.linalg.norm(g))


def _sums(policy, real=REAL, fake=FAKE, method="layerwise"):
    sensitive, public = discriminator_sums(make_clipper(MODEL, LOSS, method=method), policy=policy, real=real,
                                           fake=fake, l2_norm_clip=C)
    return _flat(sensitive), _flat(public)


@pytest.mark.parametrize("method", ["layerwise", "vmap"])
def test_each_policy_matches_its_definition(method):
    reals = [_grad(REAL[i:i + 1], 1.0) for i in range(6)]
    fakes = [_grad(FAKE[i:i + 1], 0.0) for i in range(6)]
    assert sum(np.linalg.norm(g) > C for g in reals) not in (0, 6), "mix clipped and unclipped examples"
    sensitive, public = _sums("separate", method=method)
    np.testing.assert_allclose(sensitive, sum(_clip(g) for g in reals) + sum(_clip(g) for g in fakes),
                               rtol=1e-4, atol=1e-6)
    assert not public.any()
    sensitive, public = _sums("real_only", method=method)
    np.testing.assert_allclose(sensitive, sum(_clip(g) for g in reals), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(public, sum(fakes), rtol=1e-4, atol=1e-6)  # unclipped, no noise
    sensitive, public = _sums("joint", method=method)
    np.testing.assert_allclose(sensitive, sum(_clip(r + f) for r, f in zip(reals, fakes)), rtol=1e-4, atol=1e-6)
    assert not public.any()


@pytest.mark.parametrize("policy", POLICIES)
def test_removing_one_real_example_moves_the_noised_sum_by_at_most_C(policy):
    full, full_public = _sums(policy)
    for i in (0, 4):
        keep = np.arange(6) != i
        fake = FAKE if policy != "joint" else tf.boolean_mask(FAKE, keep)  # joint drops the pair
        part, part_public = _sums(policy, real=tf.boolean_mask(REAL, keep), fake=fake)
        assert np.linalg.norm(full - part) <= C * 1.0001
        if policy == "real_only":
            np.testing.assert_allclose(full_public, part_public, rtol=1e-6)  # the public part sees no real data


@pytest.mark.parametrize("policy", POLICIES)
def test_adding_a_huge_real_example_moves_the_noised_sum_by_at_most_C(policy):
    rng = np.random.default_rng(3)
    candidates = [np.full((1, 8, 8, 1), v, np.float32) for v in (1e3, -1e3)]
    candidates += [rng.normal(size=(1, 8, 8, 1)).astype(np.float32) * 1e3 for _ in range(8)]
    huge = tf.constant(max(candidates, key=lambda c: np.linalg.norm(_grad(tf.constant(c), 1.0))))
    assert np.linalg.norm(_grad(huge, 1.0)) > 100 * C
    base, _ = _sums(policy)
    fake = FAKE if policy != "joint" else tf.concat([FAKE, FAKE[:1]], 0)
    added, _ = _sums(policy, real=tf.concat([REAL, huge], 0), fake=fake)
    assert np.linalg.norm(added - base) <= C * 1.0001
    assert np.linalg.norm(added - base) > 0.5 * C


@pytest.mark.parametrize("policy", POLICIES)
def test_noise_is_sigma_C_once_per_step(policy):
    """Noising fake gradients too (real_only) or each clipped sum separately (separate) gives σC·√2."""
    clipper = make_clipper(MODEL, LOSS)
    kw = dict(policy=policy, real=REAL, fake=FAKE, l2_norm_clip=C, batch_size=6)
    clean = _flat(discriminator_gradient(clipper, noise_multiplier=0.0, **kw))
    noise = np.concatenate([6 * (_flat(discriminator_gradient(clipper, noise_multiplier=3.0, seed=[0, step], **kw))
                                 - clean) for step in range(12)])
    assert noise.size > 2000
    assert np.std(noise) == pytest.approx(3.0 * C, rel=0.06)


def test_unknown_policy():
    with pytest.raises(ValueError, match="separate, real_only, joint"):
        _sums("both")
