import numpy as np
import pytest

from tfdpfair import models
from tfdpfair.privacy import DPConfig, compute_epsilon
from tfdpfair.privacy.callbacks import BudgetExhaustedError, PrivacyBudget
from tfdpfair.training import TrainConfig, train_classifier
from tfdpfair.compat import keras

N, BATCH = 200, 10  # 20 steps per epoch, q = 0.05


def _data():
    rng = np.random.default_rng(0)
    return rng.uniform(size=(N, 4, 4, 1)).astype(np.float32), rng.integers(0, 3, size=N)


def _train(dp, epochs=3):
    keras.utils.set_random_seed(0)
    model = models.get("logistic", input_shape=(4, 4, 1), num_classes=3)
    x, y = _data()
    return train_classifier(model, x, y, dp=dp, train=TrainConfig(batch_size=BATCH, epochs=epochs,
                                                                   learning_rate=0.1), verbose=0)


def _first_step_over(target, dp, q):
    t = 0
    while compute_epsilon(sampling_rate=q, noise_multiplier=dp.noise_multiplier, steps=t + 1, delta=dp.delta,
                          conversion=dp.budget_conversion) <= target:
        t += 1
    return t  # the last step inside the budget


@pytest.mark.parametrize("conversion", ["tight", "classic"])
def test_training_stops_at_the_last_step_within_the_target_and_never_overshoots(conversion):
    base = DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0, delta=1e-5, budget_conversion=conversion)
    q = BATCH / N
    # a target between ε(27) and ε(28): mid-way through the second epoch
    kw = dict(sampling_rate=q, noise_multiplier=1.0, delta=1e-5, conversion=conversion)
    target = 0.5 * (compute_epsilon(steps=27, **kw) + compute_epsilon(steps=28, **kw))
    dp = DPConfig(**{**base.__dict__, "target_epsilon": target})
    run = _train(dp)
    assert _first_step_over(target, dp, q) == 27
    assert run.steps == 27 == run.privacy.steps
    assert run.stopped_by_budget
    spent = run.privacy.epsilon_classic if conversion == "classic" else run.privacy.epsilon
    assert spent <= target
    assert run.history["dp_steps"] == [20.0, 27.0]


def test_epsilon_is_recorded_every_epoch():
    run = _train(DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0), epochs=3)
    expected = [compute_epsilon(sampling_rate=BATCH / N, noise_multiplier=1.0, steps=20 * e, delta=1e-5)
                for e in (1, 2, 3)]
    np.testing.assert_allclose(run.history["epsilon"], expected)
    assert len(run.history["epsilon_classic"]) == 3
    assert run.steps == 60 == run.privacy.steps
    assert not run.stopped_by_budget


def test_a_spent_budget_refuses_to_train():
    budget = PrivacyBudget(dp=DPConfig(noise_multiplier=1.0, target_epsilon=1.0), sampling_rate=0.05,
                           initial_steps=10**6)
    model = models.get("logistic", input_shape=(4, 4, 1), num_classes=3)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = _data()
    with pytest.raises(BudgetExhaustedError, match="allows"):
        model.fit(x, y, batch_size=BATCH, epochs=1, callbacks=[budget], verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 0


def test_steps_per_execution_above_one_is_refused():
    budget = PrivacyBudget(dp=DPConfig(noise_multiplier=1.0), sampling_rate=0.05)
    model = models.get("logistic", input_shape=(4, 4, 1), num_classes=3)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", steps_per_execution=4)
    x, y = _data()
    with pytest.raises(ValueError, match="steps_per_execution"):
        model.fit(x, y, batch_size=BATCH, epochs=1, callbacks=[budget], verbose=0)
