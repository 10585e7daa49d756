"""GroupAccuracyCurve records overall and per-group accuracy at the right steps, private models included."""
import numpy as np
import pytest

from tfdpfair.evaluation.learning_curves import GroupAccuracyCurve
from tfdpfair.privacy import DPConfig, make_private
from tfdpfair.compat import keras


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    g = (rng.random(n) < 0.3).astype("int64")
    return x, y, g


def _model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])


@pytest.mark.parametrize("private", [False, True])
def test_records_at_every_k_steps_and_at_the_end(private):
    x, y, g = _data()
    model = _model()
    if private:
        model = make_private(model, DPConfig(l2_norm_clip=1.0, noise_multiplier=0.5, delta=1e-5))
    model.compile(optimizer=keras.optimizers.SGD(0.5),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    curve = GroupAccuracyCurve(x, y, g, every_steps=3, group_names={0: "a", 1: "b"}, batch_size=50)
    model.fit(x, y, batch_size=12, epochs=1, verbose=0, callbacks=[curve])  # 10 steps
    assert [r["step"] for r in curve.records] == [0, 3, 6, 9, 10]
    pred = np.argmax(model(x, training=False), axis=-1)
    last = curve.records[-1]
    assert last["accuracy"] == pytest.approx(np.mean(pred == y))
    assert last["accuracy[a]"] == pytest.approx(np.mean(pred[g == 0] == y[g == 0]))
    assert last["accuracy[b]"] == pytest.approx(np.mean(pred[g == 1] == y[g == 1]))
    assert curve.series("accuracy")[-1] == last["accuracy"]
    assert curve.series("accuracy")[-1] > curve.series("accuracy")[0]  # it learned something


def test_bad_arguments():
    x, y, g = _data()
    with pytest.raises(ValueError, match="every_steps"):
        GroupAccuracyCurve(x, y, g, every_steps=0)
    with pytest.raises(ValueError, match="differ in length"):
        GroupAccuracyCurve(x, y[:-1], g, every_steps=1)


def test_curve_gap():
    from tfdpfair.evaluation.learning_curves import curve_gap

    records = [{"step": 0, "accuracy[f]": 0.5, "accuracy[m]": 0.5}, {"step": 5, "accuracy[f]": 0.9, "accuracy[m]": 0.7}]
    assert curve_gap(records, majority="f", minority="m") == [(0, 0.0), (5, pytest.approx(0.2))]
