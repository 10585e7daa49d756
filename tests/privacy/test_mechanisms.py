import numpy as np
import pytest
import tensorflow as tf

from tfdpfair.privacy import mechanisms


def test_clip_factors():
    f = mechanisms.clip_factors(tf.constant([0.0, 1.0, 4.0, 100.0]), l2_norm_clip=2.0).numpy()
    np.testing.assert_allclose(f, [1.0, 1.0, 1.0, 0.2])


def test_clipped_sum_bounds_each_example():
    rng = np.random.default_rng(0)
    per_example = [tf.constant(rng.normal(size=(5, 3, 2)) * 10, tf.float32), tf.constant(rng.normal(size=(5, 4)),
                                                                                           tf.float32)]
    summed, squared = mechanisms.clipped_sum(per_example, l2_norm_clip=1.0)
    expected = 0
    for i in range(5):
        g = np.concatenate([per_example[0][i].numpy().ravel(), per_example[1][i].numpy().ravel()])
        expected = expected + g * min(1, 1 / np.linalg.norm(g))
    np.testing.assert_allclose(np.concatenate([s.numpy().ravel() for s in summed]), expected, rtol=1e-5)
    norms = [np.sum(per_example[0][i].numpy() ** 2) + np.sum(per_example[1][i].numpy() ** 2) for i in range(5)]
    np.testing.assert_allclose(squared.numpy(), norms, rtol=1e-5)


def test_privatize_adds_sigma_C_noise_once_and_divides():
    zeros = [tf.zeros([200, 100])]
    out = mechanisms.privatize(zeros, l2_norm_clip=0.5, noise_multiplier=3.0, expected_batch_size=10,
                               seed=[0, 1])[0].numpy()
    assert np.std(out * 10) == pytest.approx(1.5, rel=0.03)
    assert abs(np.mean(out)) < 0.01


def test_privatize_without_noise_and_with_the_noise_gate_off():
    summed = [tf.constant([2.0, 4.0])]
    np.testing.assert_allclose(mechanisms.privatize(summed, l2_norm_clip=1.0, noise_multiplier=0.0,
                                                    expected_batch_size=2)[0], [1.0, 2.0])
    np.testing.assert_allclose(mechanisms.privatize(summed, l2_norm_clip=1.0, noise_multiplier=5.0,
                                                    expected_batch_size=2, seed=[0, 1], add_noise=False)[0],
                               [1.0, 2.0])
