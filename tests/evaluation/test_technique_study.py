"""A technique study: σ calibrated per model, each model trained once and stored, the onion effect's removals."""
import dataclasses

import numpy as np
import pytest

from tfdpfair.data.dataset import Dataset
from tfdpfair.evaluation import technique_study
from tfdpfair.evaluation.technique_runs import TechniqueRun, Techniques, tradeoff_data
from tfdpfair.evaluation.technique_study import (StudySettings, TechniqueStudy, calibrated_mechanism, model_name)
from tfdpfair.experiment import RunContext
from tfdpfair.privacy import privacy_spend
from tfdpfair.training.classifier import TrainConfig, TrainingRun

SETTINGS = StudySettings(train=TrainConfig(epochs=1), dp_train=TrainConfig(epochs=3), early_stopping_patience=None,
                         l2_norm_clip=1.0, delta=1e-5, attacks=("threshold",), reported_attack="threshold",
                         attack_examples=None, curve_points=0)


def test_each_dp_model_spends_exactly_its_epsilon_over_its_own_steps():
    t = Techniques(norm="group", batch_size=50)
    dp, (q, steps) = calibrated_mechanism(SETTINGS, t, examples=1000, epsilon=2.0)
    assert q == 0.05 and steps == 60  # 1000 / 50 = 20 steps per epoch, 3 epochs
    spend = privacy_spend(sampling_rate=q, noise_multiplier=dp.noise_multiplier, steps=steps, delta=1e-5)
    assert spend.epsilon == pytest.approx(2.0, rel=1e-3) and spend.epsilon_classic > 2.0
    bigger, _ = calibrated_mechanism(SETTINGS, dataclasses.replace(t, batch_size=100), examples=1000, epsilon=2.0)
    assert bigger.noise_multiplier > dp.noise_multiplier  # q doubles, steps halve: more noise for the same ε
    off, plan = calibrated_mechanism(SETTINGS, t, examples=1000, epsilon=None)
    assert not off.enabled and plan is None


def test_model_names_differ_in_every_part_of_the_key():
    t = Techniques()
    names = {model_name("plain", t, None), model_name("plain", t, 0.5), model_name("plain", t, 0.7),
             model_name("skew0.95", t, 0.5), model_name("plain", dataclasses.replace(t, ema_decay=0.99), 0.5),
             model_name("plain", t, 0.5, removed=20)}
    assert len(names) == 6


def _data(n=40):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(2), n // 2)
    x = rng.integers(0, 255, size=(n, 4, 4, 3)).astype(np.uint8)
    return tradeoff_data(Dataset("cifar10", "train", x, y, "test:random"),
                         Dataset("cifar10", "test", x[:10], y[:10], "test:random"), validation_size=4, seed=0)


def _fake_train_and_measure(calls):
    """Records each training and returns a run whose member scores are the examples' first pixel."""
    def fake(build, data, *, techniques, dp, rank_members_by=None, **kwargs):
        calls.append({"examples": len(data.train), "dp": dp.enabled, "first_pixels": data.train.x[:, 0, 0, 0].copy()})
        scores = None if rank_members_by is None else [float(v) for v in data.train.x[:, 0, 0, 0]]
        return TechniqueRun(accuracy={"test": 0.5}, train_accuracy=0.5, validation_accuracy=0.5,
                            auc={"threshold": 0.5}, reported_attack="threshold", bias=None,
                            training=TrainingRun(history={}, privacy=None, steps=1, stopped_by_budget=False,
                                                 seconds=0.0), member_scores=scores)
    return fake


def test_a_model_is_trained_once_and_then_loaded_from_the_run_folder(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(technique_study, "train_and_measure", _fake_train_and_measure(calls))
    ctx = RunContext(slug="toy", preset="smoke", out=tmp_path, data_dir=None, seed=0, resume=False)
    study = TechniqueStudy(SETTINGS, ctx, {"plain": _data()}, build=lambda t: None)
    first = study.model("plain", Techniques(), 2.0)
    again = study.model("plain", Techniques(), 2.0)
    assert len(calls) == 1 and calls[0]["dp"] and again == first
    fresh = TechniqueStudy(SETTINGS, ctx, {"plain": _data()}, build=lambda t: None)  # a resumed process
    assert fresh.model("plain", Techniques(), 2.0) == first and len(calls) == 1
    fresh.model("plain", Techniques(), None)
    assert len(calls) == 2 and not calls[1]["dp"] and len(fresh.runs) == 2


def test_each_onion_round_removes_the_examples_ranked_most_exposed(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(technique_study, "train_and_measure", _fake_train_and_measure(calls))
    ctx = RunContext(slug="toy", preset="smoke", out=tmp_path, data_dir=None, seed=0, resume=False)
    data = _data()
    study = TechniqueStudy(SETTINGS, ctx, {"plain": data}, build=lambda t: None)
    rounds = study.onion("plain", Techniques(), None, rounds=2, fraction=0.25)
    assert [removed for removed, _ in rounds] == [0, 9, 18]  # 25 % of the 36 training images per round
    pixels = np.sort(data.train.x[:, 0, 0, 0])
    for r, call in enumerate(calls):
        assert call["examples"] == 36 - 9 * r
        assert np.max(call["first_pixels"]) <= pixels[len(pixels) - 1 - 9 * r]  # the highest scores went first
    assert rounds[1][1].member_scores is not None and rounds[2][1].member_scores is None  # the last round ranks none
