"""The multi-attribute CelebA run: splits, per-attribute measures, Table 7's aggregates, on a tiny synthetic pool."""
import json

import numpy as np
import pytest

from tfdpfair.data import Dataset
from tfdpfair.errors import InputError
from tfdpfair.evaluation.attribute_runs import (AttributeRun, attribute_attack_aucs, attribute_data,
                                                train_and_measure_attributes)
from tfdpfair.evaluation.technique_runs import Techniques
from tfdpfair.privacy import DPConfig
from tfdpfair.randomness import RunStreams
from tfdpfair.training import TrainConfig
from tfdpfair.training.classifier import TrainingRun
from tfdpfair.compat import keras

NAMES = ("Bald", "Male", "Smiling", "Young")


def _pool(n=600, seed=0):
    """Attributes drawn at random (Bald mostly men); each visible as a bright row of the 4 × 4 image."""
    rng = np.random.default_rng(seed)
    male = rng.random(n) < 0.5
    attrs = np.stack([(rng.random(n) < np.where(male, 0.4, 0.05)), male, rng.random(n) < 0.5,
                      rng.random(n) < 0.6], axis=1).astype(np.int8)
    x = rng.integers(0, 40, size=(n, 4, 4, 3)).astype(np.uint8)
    for j in range(4):
        x[attrs[:, j] == 1, j, :, :] = 230
    return Dataset("celeb_a", "train", x, np.arange(n), "test:synthetic", attrs=attrs, attr_names=NAMES)  # y: ids


def test_attribute_data_splits_and_keeps_the_scorable_attributes():
    data = attribute_data(_pool(), validation_size=100, test_size=120, train_size=300, seed=1)
    assert (len(data.train), len(data.validation), len(data.test)) == (300, 100, 120)
    assert data.task.attributes == ("Bald", "Smiling", "Young") and "Male" not in data.task.dropped
    ids = [set(d.y.tolist()) for d in (data.train, data.validation, data.test)]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    again = attribute_data(_pool(), validation_size=100, test_size=120, train_size=300, seed=1)
    np.testing.assert_array_equal(again.test.x, data.test.x)
    with pytest.raises(InputError):
        attribute_data(_pool(), validation_size=300, test_size=300)


def _stored_run(bias, women_majority, skew, auc):
    return AttributeRun(attributes=[f"a{i}" for i in range(len(bias))], ap_validation=[0.5] * len(bias),
                        ap_test=[0.4, float("nan")] + [0.6] * (len(bias) - 2), bias=bias, skew=skew,
                        women_majority=women_majority, auc=auc, attack="mlp", attack_members=10,
                        training=TrainingRun(history={}, privacy=None, steps=1, stopped_by_budget=False, seconds=0.1))


def test_table7_aggregates_by_hand():
    run = _stored_run(bias=[0.1, 0.2, -0.3], women_majority=[True, False, False], skew=[0.9, 0.6, 0.85],
                      auc=[0.7, 0.5, 0.6])
    assert run.amplification == pytest.approx((0.1 - 0.2 + 0.3) / 3)  # signed towards the majority gender
    assert run.mean_auc() == pytest.approx(0.6) and run.mean_auc(min_skew=0.8) == pytest.approx(0.65)
    assert np.isnan(run.mean_auc(min_skew=0.95))
    assert run.map_test == pytest.approx(0.5)  # NaN attributes left out
    assert AttributeRun.from_stored(json.loads(json.dumps(run.to_stored()))).bias == run.bias


def test_per_attribute_attack_sees_the_overconfident_members():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 2, size=(200, 2)).astype(np.float32)
    member_logits = np.where(targets == 1, 6.0, -6.0) + rng.normal(0, 0.5, targets.shape)  # confident, right
    non_member_logits = rng.normal(0, 1.0, targets.shape)  # unsure
    aucs = attribute_attack_aucs(member_logits=member_logits, member_targets=targets,
                                 non_member_logits=non_member_logits, non_member_targets=targets[::-1].copy(),
                                 attack="threshold")
    assert len(aucs) == 2 and min(aucs) > 0.9
    same = attribute_attack_aucs(member_logits=non_member_logits, member_targets=targets,
                                 non_member_logits=non_member_logits[::-1].copy(),
                                 non_member_targets=targets[::-1].copy(), attack="threshold")
    assert max(abs(a - 0.5) for a in same) < 0.1


def _build(techniques, outputs):
    inputs = keras.Input((4, 4, 3))
    return keras.Model(inputs, keras.layers.Dense(outputs)(keras.layers.Flatten()(inputs)))


@pytest.mark.parametrize("private", [False, True])
def test_train_and_measure_attributes_learns_the_visible_attributes(private):
    data = attribute_data(_pool(), validation_size=100, test_size=120, seed=0)
    dp = DPConfig(l2_norm_clip=1.0, noise_multiplier=0.5)
    run = train_and_measure_attributes(
        _build, data, techniques=Techniques(norm="none", batch_size=20), dp=dp if private else dp.disabled(),
        train=TrainConfig(epochs=5, learning_rate=0.5), attack="threshold", attack_examples=100, seed=0,
        streams=RunStreams(seed=0, name=f"attribute_run/{private}"), verbose=0)
    assert run.attributes == ["Bald", "Smiling", "Young"]
    assert run.map_test > 0.8 and run.map_validation > 0.8  # the attributes are visible
    assert len(run.bias) == len(run.skew) == len(run.auc) == 3 and run.attack_members == 100
    assert run.women_majority[0] is False and run.skew[0] > 0.75  # Bald: mostly men
    assert (run.training.privacy is not None) == private
