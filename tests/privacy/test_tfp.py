"""The DP-SGD mechanism of both TF Privacy backends, observed through one SGD step with learning rate 1.

With plain SGD (lr = 1) the weight change of one step is −(clipped sum + noise) / B, so
B · (w_before − w_after) is the privatised sum and, with σ = 0, the pre-noise clipped sum.
"""
import numpy as np
import pytest
import tensorflow as tf

from tfdpfair import models
from tfdpfair.privacy import DPConfig
from tfdpfair.training import TrainConfig, compile_for_training

C = 2.0  # between the small-input (≈1.1) and large-input (≈3–4.4) per-example gradient norms
INPUT_SHAPE = (6, 6, 1)
CLASSES = 4


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(n,) + INPUT_SHAPE).astype(np.float32)
    x[: n // 2] *= 0.05  # small inputs: gradients below C, so both clipped and unclipped examples occur
    y = rng.integers(0, CLASSES, size=n)
    return x, y


def _initial_weights(model_name):
    tf.keras.utils.set_random_seed(1)
    return models.get(model_name, input_shape=INPUT_SHAPE, num_classes=CLASSES).get_weights()


def _privatised_sum(x, y, *, backend, noise_multiplier=0.0, model_name="mlp", seed=0):
    """B · (w_before − w_after) of one DP step, flattened."""
    tf.keras.utils.set_random_seed(seed)
    model = models.get(model_name, input_shape=INPUT_SHAPE, num_classes=CLASSES)
    model.set_weights(_initial_weights(model_name))
    dp = DPConfig(l2_norm_clip=C, noise_multiplier=noise_multiplier)
    trainable = compile_for_training(model, dp=dp, train=TrainConfig(batch_size=len(x), learning_rate=1.0,
                                                                      backend=backend))
    before = np.concatenate([w.ravel() for w in model.get_weights()])
    trainable.train_on_batch(x, y)
    after = np.concatenate([w.ravel() for w in model.get_weights()])
    return len(x) * (before - after)


def _reference_clipped_sum(x, y, model_name="mlp"):
    """Per-example gradients one at a time, clipped to C, summed: the definition."""
    model = models.get(model_name, input_shape=INPUT_SHAPE, num_classes=CLASSES)
    model.set_weights(_initial_weights(model_name))
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    total = 0.0
    clipped = 0
    for i in range(len(x)):
        with tf.GradientTape() as tape:
            loss = loss_fn(y[i:i + 1], model(x[i:i + 1], training=True))
        g = np.concatenate([t.numpy().ravel() for t in tape.gradient(loss, model.trainable_variables)])
        norm = np.linalg.norm(g)
        clipped += norm > C
        total = total + g * min(1.0, C / norm)
    return total, clipped


@pytest.mark.parametrize("backend", ["dp_model", "dp_optimizer"])
def test_clipped_sum_is_the_sum_of_per_example_clipped_gradients(backend):
    x, y = _data(12)
    expected, n_clipped = _reference_clipped_sum(x, y)
    assert 0 < n_clipped < len(x), "the batch should mix clipped and unclipped examples"
    np.testing.assert_allclose(_privatised_sum(x, y, backend=backend), expected, atol=2e-5, rtol=1e-4)


def test_both_backends_compute_the_same_clipped_sum_on_the_wincott_cnn():
    global INPUT_SHAPE
    shape, INPUT_SHAPE = INPUT_SHAPE, (28, 28, 1)
    try:
        x, y = _data(8)
        fast = _privatised_sum(x, y, backend="dp_model", model_name="wincott_cnn")
        slow = _privatised_sum(x, y, backend="dp_optimizer", model_name="wincott_cnn")
    finally:
        INPUT_SHAPE = shape
    np.testing.assert_allclose(fast, slow, atol=5e-5, rtol=1e-3)


@pytest.mark.parametrize("backend", ["dp_model", "dp_optimizer"])
def test_sensitivity_removing_one_example_moves_the_sum_by_at_most_C(backend):
    x, y = _data(10)
    full = _privatised_sum(x, y, backend=backend)
    for i in (0, 7):  # one small-gradient and one clipped example
        keep = np.arange(len(x)) != i
        without = _privatised_sum(x[keep], y[keep], backend=backend)
        assert np.linalg.norm(full - without) <= C * (1 + 1e-4)


@pytest.mark.parametrize("backend", ["dp_model", "dp_optimizer"])
def test_sensitivity_adding_a_huge_gradient_example_moves_the_sum_by_exactly_C(backend):
    x, y = _data(10)
    huge = np.full((1,) + INPUT_SHAPE, 1e4, dtype=np.float32)
    base = _privatised_sum(x, y, backend=backend)
    added = _privatised_sum(np.concatenate([x, huge]), np.concatenate([y, [0]]), backend=backend)
    assert np.linalg.norm(added - base) == pytest.approx(C, rel=1e-3)


@pytest.mark.parametrize("backend", ["dp_model", "dp_optimizer"])
def test_noise_std_is_sigma_times_C_once_per_step(backend):
    sigma = 2.0
    x, y = _data(16)
    clean = _privatised_sum(x, y, backend=backend)
    noise = np.concatenate([_privatised_sum(x, y, backend=backend, noise_multiplier=sigma, seed=s) - clean
                            for s in range(3)])
    assert noise.size > 1500
    assert np.std(noise) == pytest.approx(sigma * C, rel=0.06)
    assert abs(np.mean(noise)) < 4 * sigma * C / np.sqrt(noise.size)
