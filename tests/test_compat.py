"""The stack-compatibility layer: the same answers on Keras 2 (pinned) and Keras 3 (current)."""
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfdpfair import compat, models
from tfdpfair.compat import keras


def test_the_stack_follows_the_tensorflow_version():
    assert compat.STACK == ("current" if sys.version_info >= (3, 12) else "pinned")
    legacy = compat._legacy_keras_requested()  # TF_USE_LEGACY_KERAS=1: Keras 2 (tf-keras) on the current stack
    assert compat.KERAS3 is (compat.STACK == "current" and not legacy)
    assert compat.describe().startswith(f"{compat.STACK} stack: Python {sys.version_info.major}.")
    assert keras.Model is tf.keras.Model  # the Keras users import is the one TensorFlow uses


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)


def test_is_functional_sublayers_and_call_counts():
    inputs = keras.Input((3,))
    shared = keras.layers.Dense(3)
    functional = keras.Model(inputs, keras.layers.Dense(2)(shared(shared(inputs))))
    sequential = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    subclassed = _Subclassed()
    subclassed(np.zeros((1, 3), np.float32))
    assert compat.is_functional(functional) and compat.is_functional(sequential)
    assert not compat.is_functional(subclassed)
    assert compat.call_count(shared) == 2 and compat.input_rank(shared) == 2
    outer = keras.Model(inputs, sequential(inputs))
    names = {type(layer).__name__ for layer in compat.sublayers(outer)}
    assert {"Sequential", "Dense"} <= names


def test_steps_per_execution():
    model = models.get("logistic", input_shape=(2, 2, 1), num_classes=2)
    model.compile(optimizer="sgd", loss="mse")
    assert compat.steps_per_execution(model) == 1
    model.compile(optimizer="sgd", loss="mse", steps_per_execution=3)
    assert compat.steps_per_execution(model) == 3


def test_a_checkpoint_with_the_extras_restores_non_trainable_weights_and_optimizer_slots(tmp_path):
    """EMA averages and momentum slots come back on both stacks (Keras 3 alone would lose them)."""
    def build():
        keras.utils.set_random_seed(0)
        model = models.get("logistic", input_shape=(2, 2, 1), num_classes=2)
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9, use_ema=True, ema_momentum=0.5),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    x, y = np.random.default_rng(0).normal(size=(8, 2, 2, 1)).astype(np.float32), np.arange(8) % 2
    model = build()
    for _ in range(3):
        model.train_on_batch(x, y)
    saved = [v.numpy().copy() for v in model.optimizer.variables]
    path = tf.train.Checkpoint(model=model, optimizer=model.optimizer, **compat.checkpoint_extras(model)).save(
        str(tmp_path / "c"))
    fresh = build()
    fresh.optimizer.build(fresh.trainable_variables)
    ckpt = tf.train.Checkpoint(model=fresh, optimizer=fresh.optimizer, **compat.checkpoint_extras(fresh))
    ckpt.restore(path).assert_existing_objects_matched()
    restored = [v.numpy() for v in fresh.optimizer.variables]
    assert len(saved) == len(restored) >= 4  # iterations, momentum slots, EMA averages (and the learning rate)
    for a, b in zip(saved, restored):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.concatenate([w.ravel() for w in fresh.get_weights()]),
                                  np.concatenate([w.ravel() for w in model.get_weights()]))


def _unnamed_mlp(hidden: int):
    """A named network of unnamed layers: Keras names them from a per-process counter (dense, dense_1, ...)."""
    inputs = keras.Input((3,))
    x = keras.layers.Dense(hidden)(inputs)
    x = keras.layers.Dense(hidden + 1)(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x), name="net")
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


def _extras_checkpoint(model):
    return tf.train.Checkpoint(model=model, optimizer=model.optimizer, **compat.checkpoint_extras(model))


def test_a_checkpoint_restores_into_the_same_network_in_a_process_that_built_no_other_layers(tmp_path):
    """The killed process built other models first; the resumed one builds only this one: other layer names."""
    keras.backend.clear_session()
    keras.layers.Dense(5), keras.layers.Dense(7)  # earlier models of the killed process took dense, dense_1
    model = _unnamed_mlp(4)
    model.train_on_batch(np.ones((2, 3), np.float32), np.zeros((2, 2), np.float32))
    path = _extras_checkpoint(model).save(str(tmp_path / "c"))
    keras.backend.clear_session()  # the resumed process
    fresh = _unnamed_mlp(4)
    names = lambda m: [layer.name for layer in m.layers]  # noqa: E731
    assert names(fresh) != names(model)  # the situation under test: dense_2 is another layer now
    _extras_checkpoint(fresh).restore(path).assert_existing_objects_matched()
    for a, b in zip(model.variables + model.optimizer.variables, fresh.variables + fresh.optimizer.variables,
                    strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_checkpoint_of_another_architecture_is_refused(tmp_path):
    path = _extras_checkpoint(_unnamed_mlp(4)).save(str(tmp_path / "c"))
    with pytest.raises((AssertionError, ValueError)):
        _extras_checkpoint(_unnamed_mlp(6)).restore(path).assert_existing_objects_matched()


def test_update_compiled_metrics_from_a_custom_train_step():
    class Custom(keras.Model):
        def train_step(self, data):
            x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
            return compat.update_compiled_metrics(self, y, self(x, training=True))

    inputs = keras.Input((2,))
    model = Custom(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    logs = model.train_on_batch(np.ones((4, 2), np.float32), np.array([0, 1, 0, 1]), return_dict=True)
    assert set(logs) >= {"loss", "accuracy"} and logs["accuracy"] == pytest.approx(0.5)


def _count_step_traces(monkeypatch, cls) -> list:
    traces = []
    step = cls.train_step

    def counted(self, data):
        traces.append(1)  # runs once per trace of the step (graph mode), not once per batch
        return step(self, data)

    monkeypatch.setattr(cls, "train_step", counted)
    return traces


@pytest.mark.parametrize("built", [False, True], ids=["unbuilt", "built"])
def test_build_for_fit_makes_fit_trace_the_step_once(monkeypatch, built):
    """Adam's slots and the accuracy's counters, created inside the first trace, make tf.function trace twice."""
    from tfdpfair.privacy import DPConfig, make_private

    x, y = np.random.default_rng(0).random((16, 4, 4, 1), np.float32), np.arange(16) % 2
    model = make_private(models.get("mlp", input_shape=(4, 4, 1), num_classes=2, hidden_units=(8,)),
                         DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0))
    model.compile(optimizer=keras.optimizers.Adam(0.01), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    traces = _count_step_traces(monkeypatch, type(model))
    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    if built:
        before = len(model.optimizer.variables) + sum(len(m.variables) for m in model.metrics)
        compat.build_for_fit(model, *batches.element_spec)
        after = len(model.optimizer.variables) + sum(len(m.variables) for m in model.metrics)
        assert after >= before + 2 * len(model.trainable_variables)  # at least Adam's two slots per weight
    model.fit(batches, epochs=2, verbose=0)
    assert len(traces) == (1 if built else 2)
    logs = model.evaluate(batches, verbose=0, return_dict=True)
    assert set(logs) >= {"loss", "accuracy"}
