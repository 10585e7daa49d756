"""Techniques, the study's splits and train_and_measure on a tiny learnable colour/grey task."""
import dataclasses
import json

import numpy as np
import pytest

from tfdpfair import ablation
from tfdpfair.data import Dataset
from tfdpfair.data.skewed_domains import GRAY_ATTRIBUTE, minority_count
from tfdpfair.errors import InputError
from tfdpfair.evaluation.technique_runs import (MembershipCurve, TechniqueRun, Techniques, TradeoffData,
                                                train_and_measure, tradeoff_data)
from tfdpfair.privacy import DPConfig
from tfdpfair.randomness import RunStreams
from tfdpfair.training import TrainConfig
from tfdpfair.compat import keras


def _images(per_class, classes=3, split="train", seed=0, size=4):
    """Class c has a bright patch in channel c: learnable, and still learnable in grey (position differs)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), per_class)
    x = rng.integers(0, 40, size=(len(y), size, size, 3)).astype(np.uint8)
    for c in range(classes):
        x[y == c, c % size, :, c % 3] = 250
    return Dataset("cifar10", split, x, y, "test:synthetic")


def test_techniques_check_their_fields_and_set_the_training_config():
    t = Techniques(norm="group", batch_size=64, weight_standardization=True, augmentation_multiplicity=4,
                   ema_decay=0.99, sam_radius=0.05)
    train = t.train_config(TrainConfig(batch_size=8, epochs=3, learning_rate=0.1))
    assert (train.batch_size, train.augmentation_multiplicity, train.ema_decay, train.sam_radius, train.epochs) == (
        64, 4, 0.99, 0.05, 3)
    for bad in (dict(norm="layer"), dict(batch_size=0), dict(augmentation_multiplicity=0), dict(ema_decay=1.0),
                dict(sam_radius=-0.1)):
        with pytest.raises(InputError):
            Techniques(**bad)


def test_the_ladder_over_techniques_changes_one_field_per_rung():
    steps = [("+GN", "norm", "group"), ("+OBS", "batch_size", 512), ("+WS", "weight_standardization", True),
             ("+AM", "augmentation_multiplicity", 4), ("+PA", "ema_decay", 0.99), ("+SAT", "sam_radius", 0.05)]
    rungs = ablation.ladder(Techniques(norm="none", batch_size=64), steps)
    assert [label for label, _ in rungs] == ["BL", "+GN", "+OBS", "+WS", "+AM", "+PA", "+SAT"]
    for (_, before), (_, after) in zip(rungs, rungs[1:]):
        assert len(ablation.changed_fields(before, after)) == 1
    assert rungs[-1][1] == Techniques(norm="group", batch_size=512, weight_standardization=True,
                                      augmentation_multiplicity=4, ema_decay=0.99, sam_radius=0.05)


def test_tradeoff_data_holds_out_validation_per_class_and_balances_the_training_set():
    train, test = _images(50, classes=4), _images(20, classes=4, split="test", seed=1)
    data = tradeoff_data(train, test, validation_fraction=0.2, train_size=120, test_size=40, seed=3)
    assert np.bincount(data.validation.y).tolist() == [10] * 4
    assert np.bincount(data.train.y).tolist() == [30] * 4 and np.bincount(data.tests["test"].y).tolist() == [10] * 4
    assert data.non_members is data.tests["test"] and not data.domains
    # no validation image is a training image (rows are distinct random images)
    rows = {r.tobytes() for r in data.train.x}
    assert not any(r.tobytes() in rows for r in data.validation.x)
    again = tradeoff_data(train, test, validation_fraction=0.2, train_size=120, test_size=40, seed=3)
    np.testing.assert_array_equal(again.train.x, data.train.x)
    other = tradeoff_data(train, test, validation_fraction=0.2, train_size=120, test_size=40, seed=4)
    assert not np.array_equal(other.train.x, data.train.x)
    with pytest.raises(InputError):
        tradeoff_data(train, test, train_size=400)
    with pytest.raises(InputError):
        tradeoff_data(train, test, validation_fraction=1.0)


def test_a_validation_size_holds_out_that_many_per_class_and_keeps_the_rest_for_training():
    train, test = _images(50, classes=4), _images(20, classes=4, split="test", seed=1)
    data = tradeoff_data(train, test, validation_size=20, train_size=180, seed=3)
    assert np.bincount(data.validation.y).tolist() == [5] * 4
    assert np.bincount(data.train.y).tolist() == [45] * 4  # all 200 − 20 remaining images are available
    rows = {r.tobytes() for r in data.train.x}
    assert not any(r.tobytes() in rows for r in data.validation.x)
    with pytest.raises(InputError):
        tradeoff_data(train, test, validation_size=20, train_size=184)


def test_skewed_tradeoff_data_skews_training_validation_and_non_members_alike():
    train, test = _images(100, classes=4), _images(40, classes=4, split="test", seed=1)
    data = tradeoff_data(train, test, validation_fraction=0.2, skew=0.9, seed=0)
    assert data.domains and set(data.tests) == {"color", "gray"}
    np.testing.assert_array_equal(data.tests["color"].y, data.tests["gray"].y)
    for part, per_class in ((data.train, 80), (data.validation, 20), (data.non_members, 40)):
        gray = part.attribute(GRAY_ATTRIBUTE)
        for c in range(4):
            minority = minority_count(per_class, 0.9)
            expected_gray = per_class - minority if c % 2 == 0 else minority  # even labels mostly grey
            assert int(gray[part.y == c].sum()) == expected_gray


def _build(techniques):
    inputs = keras.Input((4, 4, 3))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(h)))


@pytest.fixture(scope="module")
def skewed():
    return tradeoff_data(_images(80), _images(40, split="test", seed=1), validation_fraction=0.25, skew=0.9, seed=0)


@pytest.mark.parametrize("private", [False, True])
def test_train_and_measure_reports_the_final_models_measures(skewed, private):
    dp = DPConfig(l2_norm_clip=1.0, noise_multiplier=0.8, delta=1e-5)
    run = train_and_measure(
        _build, skewed, techniques=Techniques(norm="group", batch_size=20), dp=dp if private else dp.disabled(),
        train=TrainConfig(batch_size=1, epochs=4, learning_rate=0.2), attacks=("threshold", "lr"),
        reported_attack="lr", early_stopping_patience=None if private else 2, rank_members_by="threshold",
        curve_points=2, seed=0, streams=RunStreams(seed=0, name=f"technique_run/{private}"), verbose=0)
    assert set(run.accuracy) == {"color", "gray"} and run.mean_accuracy > 0.6  # learnable
    assert 0 <= run.bias <= 0.5 and 0 <= run.harmonic <= 1
    assert run.bias_se is not None and 0 <= run.bias_se < 0.25  # it reaches the run (the verdicts need it)
    assert run.ggap == pytest.approx(run.validation_accuracy - run.train_accuracy)
    assert set(run.auc) == {"threshold", "lr"} and run.reported_auc == run.auc["lr"]
    assert run.attack_members == 120 and run.test_examples == 120  # balanced: as many members as non-members
    assert len(run.member_scores) == len(skewed.train)
    assert (run.training.privacy is not None) == private
    assert len(run.curve) >= 2 and {"step", "train_accuracy", "test_accuracy", "auc", "risk"} <= set(run.curve[0])
    stored = json.loads(json.dumps(run.to_stored()))
    assert TechniqueRun.from_stored(stored) == run


def test_the_bias_standard_error_is_the_bootstraps_spread():
    from tfdpfair.evaluation.technique_runs import _bootstrap_bias_se

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 100)
    perfect = {"gray": y, "color": y}
    assert _bootstrap_bias_se(perfect, 3, seed=0) == 0.0  # every resample has bias 0
    noisy = {"gray": rng.integers(0, 3, 300), "color": np.where(rng.uniform(size=300) < 0.5, y, 0)}
    se = _bootstrap_bias_se(noisy, 3, seed=0)
    assert 0.005 < se < 0.1 and _bootstrap_bias_se(noisy, 3, seed=0) == se


def test_train_and_measure_refuses_early_stopping_under_dp_and_an_unknown_reported_attack(skewed):
    dp = DPConfig(l2_norm_clip=1.0, noise_multiplier=0.8)
    kw = dict(techniques=Techniques(), train=TrainConfig(epochs=1), verbose=0)
    with pytest.raises(InputError, match="non-private"):
        train_and_measure(_build, skewed, dp=dp, early_stopping_patience=2, **kw)
    with pytest.raises(InputError, match="reported_attack"):
        train_and_measure(_build, skewed, dp=dp.disabled(), attacks=("threshold",), reported_attack="mlp", **kw)


def test_membership_curve_tracks_the_member_with_the_highest_final_risk():
    curve = MembershipCurve((np.zeros((2, 1)), np.zeros(2)), (np.zeros((2, 1)), np.zeros(2)), every_steps=1)
    curve.records = [{"step": 1, "auc": 0.5}, {"step": 2, "auc": 0.6}]
    curve.risk = [[0.9, 0.1, 0.5], [0.2, 0.4, 0.8]]
    tracked = curve.tracked()
    assert [r["risk"] for r in tracked] == [0.5, 0.8] and tracked[0]["tracked_member"] == 2
    with pytest.raises(InputError):
        MembershipCurve(None, None, every_steps=0)


def test_tradeoff_data_needs_labelled_sets():
    d = _images(5)
    unlabelled = dataclasses.replace(d, y=None)
    with pytest.raises(InputError):
        TradeoffData(train=unlabelled, validation=d, tests={"test": d}, non_members=d)
    with pytest.raises(InputError):
        TradeoffData(train=d, validation=d, tests={}, non_members=d)
