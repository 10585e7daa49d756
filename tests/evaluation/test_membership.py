import warnings

import numpy as np
import pytest
from sklearn import model_selection

from tfdpfair import data, models
from tfdpfair.errors import InputError
from tfdpfair.evaluation.membership import (ATTACKS, RF_GRID, AttackData, attack_input, membership_attacks,
                                            model_outputs, privacy_risk_scores, seeded_numpy, tf_privacy_tests)
from tfdpfair.privacy import DPConfig
from tfdpfair.training import TrainConfig, train_classifier
from tfdpfair.compat import keras


def _synthetic(n_members=60, n_non_members=60, *, gap=2.0, seed=0, groups=False):
    """Members' true-class logit raised by ``gap`` (a leaky model); non-members plain noise."""
    rng = np.random.default_rng(seed)
    ym, yn = rng.integers(0, 3, n_members), rng.integers(0, 3, n_non_members)
    return AttackData(member_logits=rng.normal(size=(n_members, 3)) + gap * np.eye(3)[ym], member_labels=ym,
                      non_member_logits=rng.normal(size=(n_non_members, 3)), non_member_labels=yn,
                      member_groups=rng.integers(0, 2, n_members) if groups else None,
                      non_member_groups=rng.integers(0, 2, n_non_members) if groups else None)


def _one_cell_per_max_features(searched: list):
    """A stand-in for GridSearchCV that searches the first value of every parameter but ``max_features`` (kept
    whole) and records each grid it is given in ``searched``.

    TF Privacy's random-forest grid (72 cells, each fitted 3 times per search) made the comparison below take about
    100 s. What it checks needs only the ``max_features`` values: our grid drops ``'auto'``, whose fits fail before
    drawing a random number, so both searches draw the same numbers. That no cell of our whole grid fails is
    checked without fitting (test_every_cell_of_our_random_forest_grid_is_valid)."""
    grid_search_cv = model_selection.GridSearchCV  # scikit-learn's, before the test puts this one in its place

    def grid_search(estimator, *, param_grid, **kwargs):
        searched.append(param_grid)
        return grid_search_cv(estimator, param_grid={k: (v if k == "max_features" else v[:1])
                                                     for k, v in param_grid.items()}, **kwargs)

    return grid_search


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_each_attack_equals_a_direct_tf_privacy_call(attack, monkeypatch):
    """Our wrapper = TF Privacy's run_attacks on the same inputs and seed (for RF, its grid with 'auto' against
    ours without). Our RF search also runs without a warning or a failed fit (errors here), and finds the leak."""
    sample = _synthetic(40, 40, gap=3.0) if attack == "rf" else _synthetic()
    searched = []
    if attack == "rf":
        monkeypatch.setattr(model_selection, "GridSearchCV", _one_cell_per_max_features(searched))
    with warnings.catch_warnings():
        if attack == "rf":
            warnings.simplefilter("error")
        ours = membership_attacks(data=sample, attacks=(attack,), balance=False, seed=3)
    tfp = tf_privacy_tests()
    direct_input = tfp.data.AttackInputData(logits_train=sample.member_logits, logits_test=sample.non_member_logits,
                                            labels_train=sample.member_labels, labels_test=sample.non_member_labels)
    ours_rf = tfp.models.RandomForestAttacker.train_model
    tfp.models.RandomForestAttacker.train_model = tfp.tf_privacy_rf_train_model  # TF Privacy's grid, 'auto' included
    try:
        with seeded_numpy(3), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            direct = tfp.mia.run_attacks(direct_input, tfp.data.SlicingSpec(entire_dataset=True),
                                         attack_types=[getattr(tfp.data.AttackType, ATTACKS[attack])])
    finally:
        tfp.models.RandomForestAttacker.train_model = ours_rf
    assert ours.auc(attack) == pytest.approx(direct.single_attack_results[0].get_auc(), abs=1e-12)
    np.testing.assert_allclose(ours.scores[attack][0], direct.single_attack_results[0].membership_scores_train)
    if attack == "rf":
        assert ours.auc("rf") > 0.7
        half = len(searched) // 2  # ours, then TF Privacy's, one search per cross-validation fold each
        assert half and [tuple(g["max_features"]) for g in searched] == [("sqrt",)] * half + [("auto", "sqrt")] * half


def test_every_cell_of_our_random_forest_grid_is_valid():
    """No fit of the RF attack's search fails (scikit-learn validates parameters before drawing or fitting)."""
    from sklearn.ensemble import RandomForestClassifier

    cells = list(model_selection.ParameterGrid(RF_GRID))
    assert len(cells) == 36
    for cell in cells:
        RandomForestClassifier(**cell)._validate_params()
    with pytest.raises(Exception, match="max_features"):  # what TF Privacy's 'auto' cells do on this scikit-learn
        RandomForestClassifier(max_features="auto")._validate_params()


def test_loss_of_non_members_can_be_read_first():
    """TF Privacy's AttackInputData.get_loss_test() fails when called before get_loss_train() unless the loss
    kind is set, which attack_input does."""
    loss = attack_input(_synthetic()).get_loss_test()
    assert loss.shape == (60,) and np.all(loss > 0)


def test_balancing_subsamples_the_larger_side_with_the_seed():
    sample = _synthetic(50, 120)
    a, b = sample.balanced(1), sample.balanced(1)
    assert a.sizes == (50, 50)
    np.testing.assert_array_equal(a.non_member_logits, b.non_member_logits)
    assert not np.array_equal(a.non_member_logits, sample.balanced(2).non_member_logits)
    report = membership_attacks(data=sample, attacks=("threshold",), seed=1)
    assert (report.members, report.non_members) == (50, 50)


def test_group_class_and_correctness_slices():
    sample = _synthetic(80, 80, groups=True)
    report = membership_attacks(data=sample, attacks=("threshold", "lr"), slices=("class", "correctness", "group"))
    groups = report.table[report.table["slice"] == "group"]
    assert sorted(groups["slice_value"].unique()) == ["0", "1"]
    for value in ("0", "1"):
        rows = groups[groups["slice_value"] == value]
        assert rows["members"].iloc[0] == int(np.sum(sample.member_groups == int(value)))
        assert rows["non_members"].iloc[0] == int(np.sum(sample.non_member_groups == int(value)))
    assert set(report.table[report.table["slice"] == "class"]["slice_value"]) == {"0", "1", "2"}
    assert set(report.table["slice"]) == {"entire", "class", "correctness", "group"}
    best = report.best_by_slice("group")
    assert len(best) == 2 and set(best["attack"]) <= {"threshold", "lr"}
    assert report.best["auc"] == report.entire()["auc"].max()


@pytest.mark.parametrize("bad, match", [
    (dict(attacks=("bogus",)), "unknown attack"),
    (dict(attacks=()), "unknown attack"),
    (dict(slices=("bogus",)), "unknown slice"),
    (dict(slices=("group",)), "member_groups"),
])
def test_bad_arguments_are_input_errors(bad, match):
    with pytest.raises(InputError, match=match):
        membership_attacks(data=_synthetic(), **bad)


def test_bad_outputs_are_input_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match="do not match"):
        AttackData(member_logits=rng.normal(size=(5, 3)), member_labels=np.zeros(4, int),
                   non_member_logits=rng.normal(size=(5, 3)), non_member_labels=np.zeros(5, int))
    with pytest.raises(InputError, match="labels must lie"):
        AttackData(member_logits=rng.normal(size=(5, 3)), member_labels=np.full(5, 3),
                   non_member_logits=rng.normal(size=(5, 3)), non_member_labels=np.zeros(5, int))
    with pytest.raises(InputError, match="NaN"):
        AttackData(member_logits=np.full((5, 3), np.nan), member_labels=np.zeros(5, int),
                   non_member_logits=rng.normal(size=(5, 3)), non_member_labels=np.zeros(5, int))
    with pytest.raises(InputError, match="either model"):
        membership_attacks()


# --- on trained Keras models -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    train, test = data.load("digits", "train"), data.load("digits", "test")
    return np.concatenate([train.as_float(), test.as_float()]), np.concatenate([train.y, test.y])


def _train(x, y, *, epochs, seed=0, dp=None, hidden=(64,), lr=0.5):
    keras.utils.set_random_seed(seed)
    model = models.get("mlp", input_shape=x.shape[1:], num_classes=10, hidden_units=hidden)
    train_classifier(model, x, y, dp=dp or DPConfig().disabled(), seed=seed, run_name="target", verbose=0,
                     train=TrainConfig(batch_size=32, epochs=epochs, learning_rate=lr))
    return model


def test_auc_is_chance_when_the_model_saw_neither_side(digits):
    """Members and non-members from one distribution, both unseen: every attack's AUC within 0.5 ± 0.1.
    (With 300 per side the AUC's standard deviation under the null is about 0.024; 0.1 is four of them.)"""
    x, y = digits
    model = _train(x[:600], y[:600], epochs=5)
    report = membership_attacks(model=model, members=(x[600:900], y[600:900]), non_members=(x[900:1200], y[900:1200]),
                                attacks=("threshold", "threshold_entropy", "lr", "knn"), seed=0)
    assert report.members == report.non_members == 300
    for attack in ("threshold", "threshold_entropy", "lr", "knn"):
        assert abs(report.auc(attack) - 0.5) < 0.1, (attack, report.auc(attack))


def test_auc_is_near_one_on_a_model_that_memorised_random_labels(digits):
    x, _ = digits
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 400)
    model = _train(x[:200], y[:200], epochs=150, hidden=(256,), lr=0.3)
    report = membership_attacks(model=model, members=(x[:200], y[:200]), non_members=(x[200:400], y[200:400]),
                                attacks=("threshold", "threshold_entropy", "lr"))
    assert report.auc("threshold") > 0.95
    assert report.best["auc"] > 0.95
    members, non_members = privacy_risk_scores(model_outputs(model, members=(x[:200], y[:200]),
                                                             non_members=(x[200:400], y[200:400])))
    assert members.shape == non_members.shape == (200,)
    assert np.all((members >= 0) & (members <= 1)) and members.mean() > non_members.mean() + 0.5


def test_model_outputs_detects_probabilities_and_every_attack_reads_them(digits):
    """A softmax model gets the same AUCs as its logits model, for every attack (TF Privacy's entropy attack reads
    logits only: probabilities are passed as log-probabilities)."""
    x, y = digits
    keras.utils.set_random_seed(0)
    logits_model = models.get("mlp", input_shape=x.shape[1:], num_classes=10, hidden_units=(8,))
    probs_model = keras.Sequential([logits_model, keras.layers.Softmax()])
    sets = dict(members=(x[:60], y[:60]), non_members=(x[60:120], y[60:120]))
    assert not model_outputs(logits_model, **sets).probabilities
    assert model_outputs(probs_model, **sets).probabilities
    attacks = ("threshold", "threshold_entropy", "lr", "knn")
    from_logits = membership_attacks(model=logits_model, attacks=attacks, **sets)
    from_probs = membership_attacks(model=probs_model, attacks=attacks, **sets)
    for attack in ("threshold", "threshold_entropy"):  # functions of the probabilities alone
        assert from_probs.auc(attack) == pytest.approx(from_logits.auc(attack), abs=1e-6), attack
    # the trained attacks see the output vector itself: probabilities are read as log-probabilities
    logits = model_outputs(logits_model, **sets)
    from scipy.special import log_softmax

    as_log_probs = AttackData(member_logits=log_softmax(logits.member_logits, axis=1), member_labels=logits.member_labels,
                              non_member_logits=log_softmax(logits.non_member_logits, axis=1),
                              non_member_labels=logits.non_member_labels)
    reference = membership_attacks(data=as_log_probs, attacks=("lr", "knn"))
    for attack in ("lr", "knn"):
        assert from_probs.auc(attack) == pytest.approx(reference.auc(attack), abs=1e-6), attack
    members, non_members = privacy_risk_scores(model_outputs(probs_model, **sets))
    reference = privacy_risk_scores(model_outputs(logits_model, **sets))
    np.testing.assert_allclose(members, reference[0], atol=1e-6)


def test_groups_must_come_in_pairs_and_empty_results_are_input_errors():
    sample = _synthetic()
    with pytest.raises(InputError, match="both"):
        membership_attacks(data=sample, member_groups=np.zeros(60))
    tiny = _synthetic(4, 4)
    with pytest.raises(InputError, match="need at least 10"):
        membership_attacks(data=tiny, attacks=("threshold", "lr"))
    assert membership_attacks(data=tiny, attacks=("threshold",)).members == 4  # threshold attacks need no training
