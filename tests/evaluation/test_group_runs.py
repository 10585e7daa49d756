"""train_and_assess: one run of the disparate-impact study, on a tiny synthetic CelebA-like pool."""
import json

import numpy as np
import pytest

from tfdpfair.data import Dataset, imbalanced_split
from tfdpfair.evaluation import fairness
from tfdpfair.evaluation.group_runs import GroupRun, train_and_assess
from tfdpfair.privacy import DPConfig
from tfdpfair.randomness import RunStreams
from tfdpfair.training import TrainConfig
from tfdpfair.compat import keras


def _split(seed=0, n=1000):
    rng = np.random.default_rng(seed)
    attrs = np.stack([rng.random(n) < 0.5, rng.random(n) < 0.5], axis=1).astype(np.int8)  # Male, Smiling
    x = rng.integers(0, 60, size=(n, 8, 8, 1)).astype(np.uint8)
    x[attrs[:, 1] == 1, :4] += 120  # smiling is visible in the top half
    pool = Dataset("celeb_a", "train", x, None, "test:pool", attrs=attrs, attr_names=("Male", "Smiling"))
    return imbalanced_split(pool, target="Smiling", group="Male", train_size=320, majority_share=0.9,
                            eval_size=160, seed=seed)


def _build():
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])


@pytest.mark.parametrize("private", [False, True])
def test_train_and_assess_reports_the_final_models_metrics(private):
    split = _split()
    dp = DPConfig(l2_norm_clip=1.0, noise_multiplier=0.7, delta=1e-5)
    out = train_and_assess(_build, split, dp=dp if private else dp.disabled(), group_names={0: "female", 1: "male"},
                           train=TrainConfig(batch_size=32, epochs=3, learning_rate=0.05, optimizer="sgd"),
                           curve_points=5, bootstrap_resamples=100, verbose=0,
                           streams=RunStreams(seed=0, name=f"group_run/{private}"))
    v = out.fairness.values
    assert v["accuracy"] > 0.8  # learnable task
    assert set(v) >= {"accuracy[female]", "accuracy[male]", "accuracy_gap", "demographic_parity_difference"}
    assert v["accuracy_gap"] == pytest.approx(v["accuracy[female]"] - v["accuracy[male]"])
    assert out.curve[0]["step"] == 0 and out.curve[-1]["step"] == 30
    assert out.curve[-1]["accuracy"] == pytest.approx(v["accuracy"])  # the curve ends at the assessed model
    assert (out.training.privacy is not None) == private
    if private:
        assert out.training.privacy.steps == 30
    assert set(out.fairness.intervals) == set(v)
    assert GroupRun.from_stored(json.loads(json.dumps(out.to_stored()))) == out  # how a reproduction stores it
