"""Both per-example engines against the definition (one tape per example), and their sensitivity."""
import numpy as np
import pytest
import tensorflow as tf

from tfdpfair import models
from tfdpfair.models.layers import WSConv2D
from tfdpfair.privacy.per_example import LayerwiseClipper, layerwise_unsupported, make_clipper
from tfdpfair.compat import keras

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _mixed_model():
    """Every layer rule at once: WS conv, GroupNorm, strided conv with activation, Dense on a sequence, tanh."""
    inputs = keras.Input((10, 10, 3))
    h = WSConv2D(8, 3, padding="same", use_bias=False)(inputs)
    h = keras.layers.GroupNormalization(4)(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu")(h)
    h = WSConv2D(5, 3, strides=2, padding="valid")(h)
    h = keras.layers.Reshape((4, 5))(h)
    h = keras.layers.Dense(7, activation="tanh")(h)
    h = keras.layers.Flatten()(h)
    return keras.Model(inputs, keras.layers.Dense(3)(h))


def _ghost_model():
    """Few positions, many channels: the convolutions take the ghost-norm form (WS and strided too)."""
    inputs = keras.Input((4, 4, 16))
    h = WSConv2D(32, 3, padding="same")(inputs)  # 16·(144 + 32) < 144·32 (k = 1)
    h = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(h)  # 4·(288 + 32) < 288·32
    return keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(h)))


MODELS = {
    "ghost": (_ghost_model, (4, 4, 16)),
    "wincott_cnn": (lambda: models.get("wincott_cnn", num_classes=3), (28, 28, 1)),
    "mixed": (_mixed_model, (10, 10, 3)),
    "wrn_tiny": (lambda: models.get("wrn", depth=10, width=1, input_shape=(8, 8, 3), num_classes=3, groups=4),
                 (8, 8, 3)),
}


def _reference(model, x, y, clip, k):
    """(Σ clipped per-example gradients, per-example squared norms) by one tape per example."""
    total, squared = None, []
    for i in range(0, len(x), k):
        with tf.GradientTape() as tape:
            loss = LOSS(y[i:i + k], model(x[i:i + k], training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        squared.append(sum(np.sum(g.numpy() ** 2) for g in grads))
        clipped = [g.numpy() * min(1.0, clip / np.sqrt(squared[-1])) for g in grads]
        total = clipped if total is None else [t + c for t, c in zip(total, clipped)]
    return total, np.array(squared)


def _data(shape, examples, k, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(examples * k,) + shape).astype(np.float32)
    y = np.repeat(rng.integers(0, 3, examples), k)
    return tf.constant(x), tf.constant(y)


@pytest.mark.parametrize("method", ["layerwise", "vmap"])
@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("k", [1, 3])
def test_engine_equals_the_definition(method, name, k):
    build, shape = MODELS[name]
    keras.utils.set_random_seed(0)
    model = build()
    assert not layerwise_unsupported(model)
    x, y = _data(shape, 5, k)
    clip = 0.5
    result = make_clipper(model, LOSS, method=method).clipped_sum(x, y, l2_norm_clip=clip, multiplicity=k)
    expected, squared = _reference(model, x.numpy(), y.numpy(), clip, k)
    for ours, ref in zip(result.sums, expected):
        np.testing.assert_allclose(ours.numpy(), ref, atol=1e-5, rtol=1e-3)
    if result.squared_norms is not None:  # the norms themselves, also where clipping does not bind
        np.testing.assert_allclose(result.squared_norms.numpy(), squared, rtol=1e-3)
    assert result.losses.shape == (5 * k,)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "elu"])
def test_activations_fused_into_layers(activation):
    """∂L/∂z from the output (relu, tanh, sigmoid) or from the recomputed pre-activation (elu; WS conv always)."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((7, 7, 2))
    h = keras.layers.Conv2D(4, 3, activation=activation)(inputs)
    h = WSConv2D(3, 3, activation=activation)(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(5, activation=activation)(h)
    model = keras.Model(inputs, keras.layers.Dense(3)(h))
    x, y = _data((7, 7, 2), 6, 1, seed=3)
    result = make_clipper(model, LOSS, method="layerwise").clipped_sum(x, y, l2_norm_clip=0.1)
    for ours, ref in zip(result.sums, _reference(model, x.numpy(), y.numpy(), 0.1, 1)[0]):
        np.testing.assert_allclose(ours.numpy(), ref, atol=1e-6, rtol=1e-3)


def test_layerwise_refuses_unsupported_layers_and_auto_falls_back():
    inputs = keras.Input((4,))
    h = keras.layers.Embedding(10, 3)(keras.layers.Lambda(lambda t: tf.cast(t, tf.int32))(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(h)))
    assert any("Embedding" in p for p in layerwise_unsupported(model))
    with pytest.raises(ValueError, match="Embedding"):
        LayerwiseClipper(model, LOSS)
    assert type(make_clipper(model, LOSS)).__name__ == "VmapClipper"
    with pytest.raises(ValueError, match="unknown method"):
        make_clipper(model, LOSS, method="ghost")


@pytest.mark.parametrize("method", ["layerwise", "vmap"])
def test_sensitivity_with_augmentation_multiplicity(method):
    """Removing an example (all K of its copies) moves the sum by ≤ C; a huge one by exactly C."""
    build, shape = MODELS["mixed"]
    keras.utils.set_random_seed(0)
    model = build()
    k, clip = 2, 0.3
    x, y = _data(shape, 6, k)
    clipper = make_clipper(model, LOSS, method=method)

    def total(xx, yy):
        r = clipper.clipped_sum(xx, yy, l2_norm_clip=clip, multiplicity=k)
        return np.concatenate([s.numpy().ravel() for s in r.sums])

    full = total(x, y)
    for i in (0, 2, 5):  # each a new batch shape: the vmap engine retraces per call (≈ 6 s each)
        keep = np.repeat(np.arange(6) != i, k)
        assert np.linalg.norm(full - total(x[keep], y[keep])) <= clip * (1 + 1e-4)
    huge = tf.constant(np.full((k,) + shape, 1e3, np.float32))
    added = total(tf.concat([x, huge], 0), tf.concat([y, tf.zeros(k, y.dtype)], 0))
    assert np.linalg.norm(added - full) == pytest.approx(clip, rel=1e-3)


def test_a_new_layer_type_is_one_registered_rule():
    """The layer registry: an unregistered subclass is refused (its math may differ); one registration adds it."""
    from tfdpfair.privacy import per_example

    class TiedDense(keras.layers.Dense):  # same computation as Dense, a different class
        pass

    inputs = keras.Input((5,))
    model = keras.Model(inputs, TiedDense(3)(keras.layers.Dense(4, activation="relu")(inputs)))
    assert any("TiedDense" in p for p in layerwise_unsupported(model))
    assert {"Dense", "Conv2D", "WSConv2D", "GroupNormalization"} <= set(per_example.registered_layer_types())
    per_example.register_layer_rule(TiedDense)(per_example._dense_terms)
    try:
        assert not layerwise_unsupported(model)
        x, y = _data((5,), 6, 1)
        result = make_clipper(model, LOSS, method="layerwise").clipped_sum(x, y, l2_norm_clip=0.3)
        for ours, ref in zip(result.sums, _reference(model, x.numpy(), y.numpy(), 0.3, 1)[0]):
            np.testing.assert_allclose(ours.numpy(), ref, atol=1e-5, rtol=1e-3)
    finally:
        per_example._RULES.pop(TiedDense)
    assert "TiedDense" not in per_example.registered_layer_types()
