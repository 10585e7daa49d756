import numpy as np
import pytest

from tfdpfair.compat import keras
from tfdpfair.training.checkpoint import CheckpointMismatchError, EpochCheckpoint


def _mlp(*widths):
    """Unnamed layers (Keras numbers their names per process), SGD with momentum slots, built."""
    inputs = keras.Input((3,))
    x = inputs
    for width in widths:
        x = keras.layers.Dense(width)(x)
    model = keras.Model(inputs, x)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    model.train_on_batch(np.ones((2, 3), np.float32), np.zeros((2, widths[-1]), np.float32))
    return model


def _save_one_epoch(model, directory):
    callback = EpochCheckpoint(directory)
    callback.set_model(model)
    callback.on_train_begin()
    callback.on_epoch_end(0, {"loss": 0.5})
    return callback


def test_the_same_network_resumes_with_its_weights_epoch_and_history(tmp_path):
    model = _mlp(4, 2)
    _save_one_epoch(model, tmp_path)
    fresh = _mlp(4, 2)
    restored = EpochCheckpoint(tmp_path).restore(fresh)
    assert restored.epoch == 1 and restored.history == {"loss": [0.5]}
    for a, b in zip(model.get_weights(), fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("saved, resumed", [((4, 5, 2), (4, 5)), ((4, 2), (6, 2)), ((4, 2), (4, 5, 2))],
                         ids=["shorter", "wider", "longer"])
def test_a_checkpoint_of_another_network_is_refused_in_one_line(tmp_path, saved, resumed):
    """The shorter network's variables are a prefix of the saved ones: only the saved signature tells them apart."""
    _save_one_epoch(_mlp(*saved), tmp_path)
    with pytest.raises(CheckpointMismatchError, match="does not fit this model") as err:
        EpochCheckpoint(tmp_path).restore(_mlp(*resumed))
    assert "\n" not in str(err.value) and "start a new run" in str(err.value)


class _Kept(keras.callbacks.Callback):
    """A callback with state, as EpochMeasures or GeneratedSamples."""

    def __init__(self, value=0):
        super().__init__()
        self.value = value

    def checkpoint_state(self):
        return {"value": self.value}

    def restore_checkpoint_state(self, state):
        self.value = state["value"]


def test_callback_states_come_back_and_a_checkpoint_with_other_stateful_callbacks_is_refused(tmp_path):
    model = _mlp(4, 2)
    callback = EpochCheckpoint(tmp_path, stateful=[_Kept(7)])
    callback.set_model(model)
    callback.on_train_begin()
    callback.on_epoch_end(0, {"loss": 0.5})
    kept = _Kept()
    EpochCheckpoint(tmp_path, stateful=[kept]).restore(_mlp(4, 2))
    assert kept.value == 7
    # a run that added a stateful callback since (its state would pair with another's, or be lost)
    with pytest.raises(CheckpointMismatchError, match="1 saved callback states, 2 callbacks keep state here"):
        EpochCheckpoint(tmp_path, stateful=[_Kept(), _Kept()]).restore(_mlp(4, 2))
