"""Empirical lower bounds on ε: hand computations, score-based bounds, and one-run audits of real training.

The last two tests train small MLPs (a few seconds each on 2 cores; no custom marker is
registered in pytest.ini, so they run in the default ``pytest -q``).
"""
import math

import numpy as np
import pytest

from tfdpfair.errors import InputError
from tfdpfair.evaluation.audit import (DIRECTIONS, METHODS, EpsilonBound, OneRunAudit, epsilon_lower_bound,
                                       label_log_likelihood, one_run_audit, one_run_epsilon_bound, one_run_guesses)
from tfdpfair.evaluation.membership import tf_privacy_tests


def _logit(q):
    return math.log(q / (1 - q))


# %% Steinke et al.'s one-run bound
@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_one_run_bound_all_correct_matches_hand_computation(confidence):
    # δ = 0 and v = r: the p-value is q^r, so the bound is the ε with q^10 = 1 − confidence.
    q = (1 - confidence) ** (1 / 10)
    bound = one_run_epsilon_bound(canaries=1000, guesses=10, correct=10, delta=0.0, confidence=confidence)
    assert bound == pytest.approx(_logit(q), abs=1e-4)
    assert math.isclose(_logit(0.05 ** 0.1), 1.0519, abs_tol=1e-4)


def test_one_run_bound_is_zero_at_chance():
    assert one_run_epsilon_bound(canaries=1000, guesses=10, correct=0) == 0.0
    assert one_run_epsilon_bound(canaries=1000, guesses=100, correct=50) == 0.0
    assert one_run_epsilon_bound(canaries=0, guesses=0, correct=0) == 0.0


def test_one_run_bound_grows_with_correct_guesses_and_falls_with_delta():
    bounds = [one_run_epsilon_bound(canaries=1000, guesses=100, correct=v) for v in range(60, 101, 5)]
    assert bounds[0] > 0
    assert all(a < b for a, b in zip(bounds, bounds[1:]))
    by_delta = [one_run_epsilon_bound(canaries=1000, guesses=100, correct=95, delta=d) for d in (0.0, 1e-5, 1e-4, 1e-3)]
    assert all(a > b for a, b in zip(by_delta, by_delta[1:]))
    assert by_delta[-1] > 0


def test_one_run_bound_with_delta_matches_its_p_value_definition():
    # At the bound the p-value crosses 1 − confidence; recompute it with a plain loop (the paper's code).
    from scipy.stats import binom

    def p_value(eps, m=500, r=60, v=55, delta=1e-4):
        q = 1 / (1 + math.exp(-eps))
        alpha, total = 0.0, 0.0
        for i in range(1, v + 1):
            total += binom.pmf(v - i, r, q)
            alpha = max(alpha, total / i)
        return min(binom.sf(v - 1, r, q) + alpha * delta * 2 * m, 1.0)

    bound = one_run_epsilon_bound(canaries=500, guesses=60, correct=55, delta=1e-4)
    assert p_value(bound) < 0.05 <= p_value(bound + 1e-5)


@pytest.mark.parametrize("kwargs", [
    dict(canaries=10, guesses=5, correct=6), dict(canaries=10, guesses=11, correct=1),
    dict(canaries=10, guesses=5, correct=-1), dict(canaries=10.5, guesses=5, correct=1),
    dict(canaries=True, guesses=1, correct=1), dict(canaries=10, guesses=5, correct=1, delta=1.5),
    dict(canaries=10, guesses=5, correct=1, delta=-0.1), dict(canaries=10, guesses=5, correct=1, confidence=1.0),
    dict(canaries=10, guesses=5, correct=1, confidence=0.0), dict(canaries=10, guesses=5, correct=1, confidence=95),
])
def test_one_run_bound_rejects_bad_input(kwargs):
    with pytest.raises(InputError):
        one_run_epsilon_bound(**kwargs)


def test_one_run_guesses_counts_by_hand():
    scores = np.array([0.9, 0.1, 0.5, 0.8, 0.2, 0.3])
    included = np.array([True, False, False, False, True, False])
    # "in": 0.9 (right), 0.8 (wrong); "out": 0.1 (right), 0.2 (wrong), 0.3 (right)
    assert one_run_guesses(scores=scores, included=included, k_positive=2, k_negative=3) == (5, 3)
    assert one_run_guesses(scores=scores, included=included, k_positive=1, k_negative=1) == (2, 2)
    assert one_run_guesses(scores=scores, included=included, k_positive=0, k_negative=0) == (0, 0)


@pytest.mark.parametrize("kwargs", [dict(k_positive=4, k_negative=3), dict(k_positive=-1, k_negative=1),
                                    dict(k_positive=1, k_negative=1, included=[True, False])])
def test_one_run_guesses_rejects_bad_input(kwargs):
    args = dict(scores=np.arange(6.0), included=np.arange(6) % 2 == 0)
    with pytest.raises(InputError):
        one_run_guesses(**{**args, **kwargs})


def test_label_log_likelihood_reads_logits_and_probabilities_alike():
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(20, 5)) * 3, rng.integers(0, 5, size=20)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = np.log(probs[np.arange(20), labels])
    np.testing.assert_allclose(label_log_likelihood(logits, labels), expected, rtol=1e-9)
    np.testing.assert_allclose(label_log_likelihood(probs, labels), expected, rtol=1e-9)
    with pytest.raises(InputError):
        label_log_likelihood(logits, labels + 5)


# %% Bounds from member / non-member scores
def _normal_scores(seed, member_mean=0.0, n=2000):
    rng = np.random.default_rng(seed)
    return rng.normal(member_mean, 1.0, size=n), rng.normal(0.0, 1.0, size=n)


def test_scores_from_one_distribution_give_a_small_split_bound():
    for seed in range(5):
        members, non_members = _normal_scores(seed)
        bound = epsilon_lower_bound(member_scores=members, non_member_scores=non_members, seed=seed)
        assert bound.selection == "split" and bound.members == bound.non_members == 1000
        assert 0 <= bound.epsilon < 0.3


@pytest.mark.parametrize("method", list(METHODS))
def test_separated_scores_give_a_large_bound_either_way_round(method):
    members, non_members = _normal_scores(0, member_mean=3.0)
    bound = epsilon_lower_bound(member_scores=members, non_member_scores=non_members, method=method)
    assert bound.epsilon > 1 and bound.direction in ("tpr/fpr", "tnr/fnr")
    swapped = epsilon_lower_bound(member_scores=-members, non_member_scores=non_members, method=method)
    assert swapped.epsilon > 1 and swapped.direction in ("fpr/tpr", "fnr/tnr")


def test_split_bound_keeps_its_confidence_and_all_thresholds_does_not():
    """Under the null (one distribution for both sides) a 95 % bound is > 0 in at most 5 % of the draws, up to
    sampling error; TF Privacy's maximum over every threshold (Bailey's bound) exceeds 0 far more often (measured:
    in all 60 of 60 null draws of 300 per side)."""
    rng = np.random.default_rng(0)
    draws = [(rng.normal(size=300), rng.normal(size=300)) for _ in range(200)]
    split = [epsilon_lower_bound(member_scores=m, non_member_scores=n, seed=i).epsilon > 0
             for i, (m, n) in enumerate(draws)]
    every = [epsilon_lower_bound(member_scores=m, non_member_scores=n, selection="all", method="bailey").epsilon > 0
             for m, n in draws[:50]]  # what TF Privacy's run_attacks reports
    assert np.mean(split) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 200)  # ≤ 9.6 %
    assert np.mean(every) > 0.5


@pytest.mark.parametrize("method", list(METHODS))
def test_all_thresholds_equals_tf_privacy_on_a_hand_case(method):
    members, non_members = np.linspace(0.5, 1.0, 12), np.linspace(0.0, 0.6, 12)  # 3 overlap in [0.5, 0.6]
    elb = tf_privacy_tests().elb
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = elb.EpsilonLowerBound(members, non_members, alpha=0.1, two_sided_threshold=True)
        expected = max(float(np.max(direct.compute_epsilon_lower_bound(getattr(elb.BoundMethod, METHODS[method])))),
                       0.0)
    bound = epsilon_lower_bound(member_scores=members, non_member_scores=non_members, confidence=0.9, method=method,
                                selection="all")
    assert bound.epsilon == pytest.approx(expected, rel=1e-12)
    assert bound.epsilon > 0


def test_split_bound_is_the_ratio_bound_of_its_held_out_counts():
    members, non_members = _normal_scores(2, member_mean=1.0, n=801)
    bound = epsilon_lower_bound(member_scores=members, non_member_scores=non_members, method="bailey", seed=3)
    assert isinstance(bound, EpsilonBound) and bound.direction in DIRECTIONS
    assert (bound.members, bound.non_members) == (401, 401)
    tp, fp, pos, neg = bound.true_positives, bound.false_positives, bound.members, bound.non_members
    args = {"tpr/fpr": (tp, fp, pos, neg), "tnr/fnr": (neg - fp, pos - tp, neg, pos),
            "fpr/tpr": (fp, tp, neg, pos), "fnr/tnr": (pos - tp, neg - fp, pos, neg)}[bound.direction]
    elb = tf_privacy_tests().elb
    ratio = elb.RatioBound(*args, alpha=0.05).compute_bound(elb.BoundMethod.BAILEY)
    assert bound.epsilon == pytest.approx(math.log(ratio)) and bound.epsilon > 0.5
    # Held-out counts are of the held-out half: at most its size, and the same for the same seed.
    assert 0 <= tp <= pos and 0 <= fp <= neg
    assert epsilon_lower_bound(member_scores=members, non_member_scores=non_members, method="bailey", seed=3) == bound


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="wilson"), "clopper_pearson, bailey, katz_log, adjusted_log, inv_sinh"),
    (dict(selection="best"), "split, all"), (dict(confidence=0.4), "confidence"), (dict(confidence=1.0), "confidence"),
    (dict(member_scores=[0.1, np.nan]), "NaN"), (dict(member_scores=[0.1]), "at least 2"),
    (dict(member_scores=np.ones((2, 2))), "1-dimensional"),
])
def test_epsilon_lower_bound_rejects_bad_input(kwargs, match):
    args = dict(member_scores=[0.1, 0.2, 0.3], non_member_scores=[0.0, 0.1, 0.2])
    with pytest.raises(InputError, match=match):
        epsilon_lower_bound(**{**args, **kwargs})


def test_scores_must_be_passed_by_keyword():
    with pytest.raises(TypeError):
        epsilon_lower_bound([0.1, 0.2], [0.0, 0.1])


# %% One-run audits
class _LookupModel:
    """Memorises its training set exactly: confident logits for the label of any input it saw, zeros otherwise."""

    def __init__(self, x, y):
        self.seen = {row.tobytes(): label for row, label in zip(x, y)}

    def predict(self, x, verbose=0):
        logits = np.zeros((len(x), 10))
        for i, row in enumerate(x):
            if row.tobytes() in self.seen:
                logits[i, self.seen[row.tobytes()]] = 20.0
        return logits


def _canaries(m, *, seed=123, shape=(8, 8, 1)):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, size=(m,) + shape).astype(np.float32), rng.integers(0, 10, size=m)


def test_one_run_audit_trains_on_the_included_canaries_only():
    canary_x, canary_y = _canaries(200)
    x, y = np.zeros((30, 8, 8, 1), np.float32), np.zeros(30, np.int64)
    trained = []

    def train_fn(x_train, y_train):
        trained.append((x_train, y_train))
        return _LookupModel(x_train, y_train)

    audit = one_run_audit(train_fn=train_fn, x=x, y=y, canary_x=canary_x, canary_y=canary_y, k_positive=30,
                          k_negative=30, seed=4)
    (x_train, y_train), = trained
    assert isinstance(audit, OneRunAudit) and audit.included.dtype == bool
    assert len(x_train) == 30 + audit.included.sum() and 60 < audit.included.sum() < 140
    seen = {row.tobytes() for row in x_train}
    assert all((row.tobytes() in seen) == inc for row, inc in zip(canary_x, audit.included))
    assert np.all(audit.scores[audit.included] > -1e-6) and np.all(audit.scores[~audit.included] < -2)
    assert (audit.guesses, audit.correct) == (60, 60)
    assert audit.epsilon == pytest.approx(one_run_epsilon_bound(canaries=200, guesses=60, correct=60), abs=1e-9)
    again = one_run_audit(train_fn=lambda a, b: _LookupModel(a, b), x=x, y=y, canary_x=canary_x, canary_y=canary_y,
                          k_positive=30, k_negative=30, seed=4)
    np.testing.assert_array_equal(again.included, audit.included)


def test_one_run_audit_rejects_bad_input_before_training():
    canary_x, canary_y = _canaries(10)

    def train_fn(*_):
        raise AssertionError("trained despite bad input")

    for kwargs in (dict(k_positive=6, k_negative=5), dict(delta=2.0), dict(confidence=1.5),
                   dict(canary_y=canary_y[:5]), dict(canary_x=canary_x[:, :4])):
        args = dict(train_fn=train_fn, x=np.zeros((3, 8, 8, 1)), y=np.zeros(3), canary_x=canary_x,
                    canary_y=canary_y, k_positive=2, k_negative=2)
        with pytest.raises(InputError):
            one_run_audit(**{**args, **kwargs})


@pytest.fixture(scope="module")
def audit_setting():
    """400 real digits, 300 canaries of uniform noise with random labels, and a trainer of small MLPs."""
    from tfdpfair.compat import keras

    from tfdpfair import data, models
    from tfdpfair.training import train_classifier

    digits = data.load("digits", "train").take(400)
    canary_x, canary_y = _canaries(300)

    def trainer(dp, train, seed, runs):
        def train_fn(x_train, y_train):
            keras.utils.set_random_seed(seed)
            model = models.get("mlp", input_shape=(8, 8, 1), num_classes=10, hidden_units=(128,))
            runs.append(train_classifier(model, x_train, y_train, dp=dp, train=train, seed=seed, run_name="audit",
                                         verbose=0))
            return model
        return train_fn

    return dict(x=digits.as_float(), y=digits.y, canary_x=canary_x, canary_y=canary_y, trainer=trainer)


def test_one_run_audit_catches_a_memorising_model(audit_setting):
    from tfdpfair.privacy import DPConfig
    from tfdpfair.training import TrainConfig

    s, runs = audit_setting, []
    train_fn = s["trainer"](DPConfig().disabled(), TrainConfig(batch_size=64, epochs=60, learning_rate=0.01,
                                                               optimizer="adam"), 0, runs)
    audit = one_run_audit(train_fn=train_fn, x=s["x"], y=s["y"], canary_x=s["canary_x"], canary_y=s["canary_y"],
                          k_positive=40, k_negative=40, seed=0)
    print(f"non-private: {audit.correct}/{audit.guesses} correct, ε ≥ {audit.epsilon:.3f}")
    assert runs[0].privacy is None and runs[0].history["accuracy"][-1] > 0.95  # it memorised the canaries
    assert audit.correct >= 75 and audit.epsilon > 1.5


def test_one_run_audit_of_dp_sgd_stays_below_the_accountant(audit_setting):
    from tfdpfair.privacy import DPConfig
    from tfdpfair.training import TrainConfig

    s = audit_setting
    dp = DPConfig(l2_norm_clip=1.0, noise_multiplier=1.5)
    for seed in range(3):
        runs = []
        train_fn = s["trainer"](dp, TrainConfig(batch_size=64, epochs=10, learning_rate=0.5), seed, runs)
        audit = one_run_audit(train_fn=train_fn, x=s["x"], y=s["y"], canary_x=s["canary_x"], canary_y=s["canary_y"],
                              k_positive=40, k_negative=40, delta=dp.delta, seed=seed)
        accountant = runs[0].privacy.epsilon
        print(f"DP seed {seed}: {audit.correct}/{audit.guesses} correct, ε ≥ {audit.epsilon:.3f}, "
              f"accountant ε = {accountant:.3f}")
        assert 0 < accountant < 10 and runs[0].history["accuracy"][-1] > 0.4  # private, and it learnt something
        assert audit.epsilon <= accountant


def test_attack_audit_bound_is_bonferroni_corrected_over_attacks():
    from tfdpfair.evaluation.audit import attack_audit_bound

    rng = np.random.default_rng(0)
    leaky = (rng.normal(3, 1, 1000), rng.normal(0, 1, 1000))
    chance = (rng.normal(0, 1, 1000), rng.normal(0, 1, 1000))
    combined = attack_audit_bound({"leaky": leaky, "chance": chance}, confidence=0.95)
    assert combined.attack == "leaky" and combined.epsilon > 1
    single = epsilon_lower_bound(member_scores=leaky[0], non_member_scores=leaky[1], confidence=0.975)
    assert combined.epsilon == pytest.approx(single.epsilon)  # each attack at 1 − 0.05/2
    assert combined.per_attack["leaky"].confidence == pytest.approx(0.975)
    assert attack_audit_bound({"chance": chance}).epsilon < 0.3
    with pytest.raises(InputError):
        attack_audit_bound({})
