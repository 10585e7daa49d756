"""Early stopping on a held-out split: when it stops, which weights it keeps, and resume."""
import numpy as np
import pytest

from tfdpfair import data, models
from tfdpfair.compat import keras
from tfdpfair.errors import InputError
from tfdpfair.privacy import DPConfig
from tfdpfair.training import TrainConfig, train_classifier
from tfdpfair.training.early_stopping import EarlyStopping

# held-out accuracy after epochs 0, 1, …: best at epoch 1, then three epochs without a gain
SCRIPT = [0.50, 0.60, 0.55, 0.58, 0.60, 0.90, 0.95]


class Scripted(EarlyStopping):
    """Reports SCRIPT[epoch] instead of measuring, so the stopping rule is tested exactly."""

    def on_epoch_end(self, epoch, logs=None):
        self._epoch = epoch
        super().on_epoch_end(epoch, logs)

    def accuracy(self):
        return SCRIPT[self._epoch]


class WeightsPerEpoch(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch] = [np.array(w) for w in self.model.get_weights()]


@pytest.fixture(scope="module")
def digits():
    d = data.load("digits", "train")
    return d.as_float(), d.y


def _fit(digits, callbacks, *, epochs=7, **kw):
    x, y = digits
    keras.utils.set_random_seed(0)
    model = models.get("mlp", input_shape=(8, 8, 1), num_classes=10, hidden_units=(16,))
    run = train_classifier(model, x, y, dp=DPConfig().disabled(), seed=0, callbacks=callbacks, verbose=0,
                           train=TrainConfig(batch_size=128, epochs=epochs, learning_rate=0.1), **kw)
    return model, run


def test_stops_after_patience_epochs_without_gain_and_keeps_the_best_weights(digits):
    stopper, record = Scripted(*digits, patience=3), WeightsPerEpoch()
    model, run = _fit(digits, [stopper, record])
    assert stopper.stopped_epoch == 4 and stopper.best_epoch == 1 and stopper.best == 0.60  # 0.60 is no gain
    assert run.history["heldout_accuracy"] == SCRIPT[:5]
    for ours, best in zip(model.get_weights(), record.weights[1]):
        np.testing.assert_array_equal(ours, best)
    assert not all(np.array_equal(a, b) for a, b in zip(record.weights[4], record.weights[1]))


def test_resumed_run_stops_where_an_uninterrupted_one_does(digits, tmp_path):
    straight, _ = _fit(digits, [Scripted(*digits, patience=3)])
    _fit(digits, [Scripted(*digits, patience=3)], epochs=3, checkpoint_dir=tmp_path)  # killed after epoch 2
    stopper = Scripted(*digits, patience=3)
    resumed, run = _fit(digits, [stopper], checkpoint_dir=tmp_path, resume=True)
    assert stopper.stopped_epoch == 4 and len(run.history["heldout_accuracy"]) == 5
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    # resuming a run that had stopped trains no further and still ends on the best weights
    again, rerun = _fit(digits, [Scripted(*digits, patience=3)], checkpoint_dir=tmp_path, resume=True)
    assert rerun.steps == run.steps
    for a, b in zip(straight.get_weights(), again.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_measures_accuracy_on_the_held_out_split(digits):
    x, y = digits
    stopper = EarlyStopping(x[:200], y[:200], patience=1)
    model, _ = _fit(digits, [stopper], epochs=1)
    assert stopper.best == pytest.approx(np.mean(np.argmax(model.predict(x[:200], verbose=0), -1) == y[:200]))


def test_errors(digits):
    x, y = digits
    with pytest.raises(InputError, match="patience"):
        EarlyStopping(x, y, patience=0)
    with pytest.raises(InputError, match="as many labels"):
        EarlyStopping(x, y[:3])
    x_small, y_small = x[:256], y[:256]
    keras.utils.set_random_seed(0)
    model = models.get("mlp", input_shape=(8, 8, 1), num_classes=10, hidden_units=(4,))
    with pytest.raises(InputError, match="weight average"):
        train_classifier(model, x_small, y_small, dp=DPConfig().disabled(), seed=0, verbose=0,
                         callbacks=[EarlyStopping(x_small, y_small)],
                         train=TrainConfig(batch_size=128, epochs=1, learning_rate=0.1, ema_decay=0.9))
