"""Probing a DP step from outside: with SGD at learning rate 1, B·(w_before − w_after) is the noisy sum.

``privatised_sum`` runs one training step from fixed initial weights and returns that
sum, flattened; with σ = 0 it is the pre-noise clipped sum. Tests compare it across
data sets (sensitivity), seeds (noise) and implementations (equality).
"""
import numpy as np
import pytest
import tensorflow as tf

from tfdpfair import models
from tfdpfair.privacy import DPConfig, make_private
from tfdpfair.privacy.tfp import gaussian_sum_query
from tfdpfair.randomness import RunStreams
from tfdpfair.training import TrainConfig, compile_for_training
from tfdpfair.compat import keras


def flat(weights):
    return np.concatenate([w.ravel() for w in weights])


def make_data(n, *, input_shape=(6, 6, 1), classes=4, seed=0):
    """Half the inputs are scaled down so both clipped and unclipped examples occur."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(n,) + tuple(input_shape)).astype(np.float32)
    x[: n // 2] *= 0.05
    return x, rng.integers(0, classes, size=n)


def _initial_weights(model_name, input_shape, classes):
    keras.utils.set_random_seed(1)
    return models.get(model_name, input_shape=input_shape, num_classes=classes).get_weights()


def privatised_sum(x, y, *, l2_norm_clip, noise_multiplier=0.0, backend="tfdpfair", model_name="mlp", classes=4,
                   seed=0, expected_batch_size=None, method=None, adversary=None, **train_options):
    """B · (w_before − w_after) after one DP step of SGD(lr = 1) on (x, y); ``adversary``: make_private's."""
    input_shape = x.shape[1:]
    keras.utils.set_random_seed(seed)
    model = models.get(model_name, input_shape=input_shape, num_classes=classes)
    model.set_weights(_initial_weights(model_name, input_shape, classes))
    dp = DPConfig(l2_norm_clip=l2_norm_clip, noise_multiplier=noise_multiplier)
    train = TrainConfig(batch_size=len(x), learning_rate=1.0, backend=backend, **train_options)
    streams = RunStreams(seed=seed, name="probe")
    if method is None and adversary is None:
        trainable = compile_for_training(model, dp=dp, train=train, expected_batch_size=expected_batch_size,
                                         streams=streams)
    else:  # a given per-example engine (layerwise or vmap), or an adversary
        trainable = make_private(model, dp, method=method or "auto", expected_batch_size=expected_batch_size,
                                 streams=streams, adversary=adversary, **train_options)
        trainable.compile(optimizer=keras.optimizers.SGD(1.0),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = flat(model.get_weights())
    trainable.train_on_batch(x, y)
    return (expected_batch_size or len(x)) * (before - flat(model.get_weights()))


def per_example_reference(x, y, *, l2_norm_clip, model_name="mlp", classes=4, multiplicity=1):
    """Σ_i clip(mean of the K copies' gradients, C), one example at a time with a plain GradientTape."""
    input_shape = x.shape[1:]
    model = models.get(model_name, input_shape=input_shape, num_classes=classes)
    model.set_weights(_initial_weights(model_name, input_shape, classes))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    total, n_clipped = 0.0, 0
    for i in range(0, len(x), multiplicity):
        with tf.GradientTape() as tape:
            loss = loss_fn(y[i:i + multiplicity], model(x[i:i + multiplicity], training=True))
        g = flat([t.numpy() for t in tape.gradient(loss, model.trainable_variables)])
        norm = np.linalg.norm(g)
        n_clipped += norm > l2_norm_clip
        total = total + g * min(1.0, l2_norm_clip / norm)
    return total, n_clipped


def tf_privacy_sum(x, y, *, l2_norm_clip, model_name="mlp", classes=4):
    """TF Privacy's ``GaussianSumQuery`` (σ = 0) over per-example gradients from a plain GradientTape: its clip-and-sum."""
    input_shape = x.shape[1:]
    model = models.get(model_name, input_shape=input_shape, num_classes=classes)
    model.set_weights(_initial_weights(model_name, input_shape, classes))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    query = gaussian_sum_query(l2_norm_clip=l2_norm_clip, stddev=0.0)
    global_state = query.initial_global_state()
    params = query.derive_sample_params(global_state)
    state = query.initial_sample_state([tf.zeros_like(v) for v in model.trainable_variables])
    for i in range(len(x)):
        with tf.GradientTape() as tape:
            loss = loss_fn(y[i:i + 1], model(x[i:i + 1], training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        state = query.accumulate_record(params, state, query.preprocess_record(params, grads))
    result, _, _ = query.get_noised_result(state, global_state)
    return flat([t.numpy() for t in result])


@pytest.fixture
def dp_probe():
    """The helpers above, for tests in this folder."""
    class Probe:
        pass

    probe = Probe()
    probe.privatised_sum = privatised_sum
    probe.reference = per_example_reference
    probe.tf_privacy_sum = tf_privacy_sum
    probe.data = make_data
    probe.initial_weights = _initial_weights
    return probe
