"""Membership-inference attacks: TF Privacy's suite on a Keras model or on its outputs.

``membership_attacks`` runs TF Privacy's ``run_attacks`` (threshold on the loss,
threshold on Song & Mittal's modified entropy, and the trained logistic-regression,
MLP, random-forest and k-NN attacks) over members (training examples) and
non-members, per slice (the whole set, each class, correct vs wrong predictions,
and each demographic group), and returns a ``MembershipReport``: a DataFrame with
AUC, attacker advantage, PPV and TF Privacy's ε lower bound per attack and slice,
the sizes, per-example membership scores and ROC curves.

How TF Privacy's attacks work (read before quoting an AUC): the trained attacks are
not shadow-model attacks; each example's score comes from a 2-fold cross-validation
over the target's own member / non-member outputs (features: logits and loss), so an
attack model never scores an example it was trained on. Their randomness is numpy's
global generator; ``seed=`` seeds it for the call and restores it afterwards.

``tf_privacy_tests()`` is the one place TF Privacy's privacy-test modules are imported
(``tfdpfair.evaluation.lira`` and ``tfdpfair.evaluation.audit`` get them from here), with
the compatibility fixes for our stacks:

* they are imported by ``tfdpfair.privacy.tfp.import_tf_privacy``, which skips TF
  Privacy's top-level ``__init__`` (it fails on TF ≥ 2.16) and shims
  ``sklearn.utils.parallel_backend`` (removed in scikit-learn 1.7) with joblib's identical function;
* tensorflow-empirical-privacy 0.1.0 searches the random forest's ``max_features`` over
  ``['auto', 'sqrt']``. scikit-learn ≥ 1.3 rejects ``'auto'``: measured on our pinned
  1.6.1, 108 of the 216 grid fits fail, each failure raises a ``FitFailedWarning`` and a
  non-finite-score ``UserWarning``, and the search silently runs over the ``'sqrt'`` half.
  For classifiers ``'auto'`` *was* ``'sqrt'``, so we search ``['sqrt']`` only: the same
  forests, half the fits, no warnings.
* ``AttackInputData.get_loss_test()`` evaluates ``bool(logits_test)`` (an error for
  arrays) unless ``loss_function_using_logits`` is set: we always set it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import types
import warnings
from typing import Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from tfdpfair.errors import InputError

ATTACKS = {
    "threshold": "THRESHOLD_ATTACK",
    "threshold_entropy": "THRESHOLD_ENTROPY_ATTACK",
    "lr": "LOGISTIC_REGRESSION",
    "mlp": "MULTI_LAYERED_PERCEPTRON",
    "rf": "RANDOM_FOREST",
    "knn": "K_NEAREST_NEIGHBORS",
}
"""Our attack names → TF Privacy's ``AttackType`` names."""

PAPER_ATTACKS = ("threshold", "threshold_entropy", "mlp", "rf")
"""The four attacks Hassanpour et al. (2025) report."""

SLICES = ("entire", "class", "correctness", "group")
MIN_TRAINED_ATTACK_EXAMPLES = 10
"""Per side, for the trained attacks (their nested cross-validation fails below this)."""
COLUMNS = ("attack", "slice", "slice_value", "members", "non_members", "auc", "advantage", "ppv",
           "epsilon_lower_bound")

_MODULES: Optional[types.SimpleNamespace] = None


RF_GRID = {"n_estimators": [100], "max_features": ["sqrt"], "max_depth": [5, 10, 20, None],
           "min_samples_split": [2, 5, 10], "min_samples_leaf": [1, 2, 4]}
"""The random-forest attack's grid search: TF Privacy 0.1.0's without ``max_features='auto'`` (= ``'sqrt'``)."""


def _rf_train_model(self, input_features, is_training_labels, sample_weight=None):
    """TF Privacy 0.1.0's random-forest attack training on ``RF_GRID``."""
    from sklearn import ensemble, model_selection

    with self.ctx_mgr:
        model = model_selection.GridSearchCV(ensemble.RandomForestClassifier(n_jobs=self.n_jobs),
                                             param_grid=RF_GRID, cv=3, n_jobs=self.n_jobs, verbose=0)
        model.fit(input_features, is_training_labels, sample_weight=sample_weight)
    self.model = model


def tf_privacy_tests() -> types.SimpleNamespace:
    """TF Privacy's privacy-test modules, imported once with our stack fixes.

    Returns a namespace with ``mia`` (``membership_inference_attack``), ``data`` (its
    ``data_structures``), ``models``, ``advanced_mia`` and ``elb`` (``epsilon_lower_bound``), and
    ``tf_privacy_rf_train_model``, TF Privacy's own random-forest search (for comparisons).
    """
    global _MODULES
    if _MODULES is not None:
        return _MODULES
    from tfdpfair.privacy.tfp import import_tf_privacy

    tests = import_tf_privacy("privacy.privacy_tests.epsilon_lower_bound",
                              "privacy.privacy_tests.membership_inference_attack.advanced_mia",
                              "privacy.privacy_tests.membership_inference_attack.data_structures",
                              "privacy.privacy_tests.membership_inference_attack.membership_inference_attack",
                              "privacy.privacy_tests.membership_inference_attack.models")
    models = tests.models
    original_rf = models.RandomForestAttacker.train_model
    if original_rf is not _rf_train_model:
        models.RandomForestAttacker.train_model = _rf_train_model
    _MODULES = types.SimpleNamespace(mia=tests.membership_inference_attack, data=tests.data_structures, models=models,
                                     advanced_mia=tests.advanced_mia, elb=tests.epsilon_lower_bound,
                                     tf_privacy_rf_train_model=original_rf)
    return _MODULES


@contextlib.contextmanager
def seeded_numpy(seed: int):
    """Seed numpy's global generator (which scikit-learn's attack models draw from) and restore it afterwards."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


@contextlib.contextmanager
def _quiet():
    """Silence the divisions by zero of TF Privacy's ratio bounds (fpr = 0) and scikit-learn's convergence chatter."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # scipy's L-BFGS-B options used by scikit-learn, pandas'
        # newer scipy (the current stack) warns about the same option scikit-learn 1.6 still passes
        warnings.filterwarnings("ignore", message="Unknown solver options")
        yield


# %% Inputs: the target's outputs on members and non-members
@dataclasses.dataclass(frozen=True, kw_only=True)
class AttackData:
    """A target model's outputs on members and non-members (what every attack sees).

    Attributes:
      member_logits / non_member_logits: (n, classes) logits, or probabilities when ``probabilities``.
      member_labels / non_member_labels: (n,) integer labels.
      probabilities: the outputs are softmax probabilities (rows sum to 1), not logits.
      member_groups / non_member_groups: optional (n,) group values (a custom slice per group).
    """

    member_logits: np.ndarray
    member_labels: np.ndarray
    non_member_logits: np.ndarray
    non_member_labels: np.ndarray
    probabilities: bool = False
    member_groups: Optional[np.ndarray] = None
    non_member_groups: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        for side in ("member", "non_member"):
            logits, labels = getattr(self, f"{side}_logits"), getattr(self, f"{side}_labels")
            if logits.ndim != 2 or labels.ndim != 1 or len(logits) != len(labels):
                raise InputError(f"{side}s: outputs of shape {logits.shape} do not match labels of shape "
                                 f"{labels.shape}; want (n, classes) and (n,)")
            if len(labels) == 0:
                raise InputError(f"{side}s: no examples")
            if not np.all(np.isfinite(logits)):
                raise InputError(f"{side}s: the model's outputs contain NaN or infinity")
            if labels.min() < 0 or labels.max() >= logits.shape[1]:
                raise InputError(f"{side}s: labels must lie in [0, {logits.shape[1] - 1}], the model's classes")
            groups = getattr(self, f"{side}_groups")
            if groups is not None and len(groups) != len(labels):
                raise InputError(f"{side}_groups has {len(groups)} values for {len(labels)} {side}s")
        if self.member_logits.shape[1] != self.non_member_logits.shape[1]:
            raise InputError("members and non-members have outputs with different numbers of classes")
        if (self.member_groups is None) != (self.non_member_groups is None):
            raise InputError("give groups for both members and non-members, or for neither")

    @property
    def sizes(self) -> Tuple[int, int]:
        return len(self.member_labels), len(self.non_member_labels)

    def balanced(self, seed: int) -> "AttackData":
        """Both sides subsampled (without replacement, seeded) to the smaller side's size."""
        n = min(self.sizes)
        rng = np.random.default_rng(seed)
        picks = {}
        for side, size in zip(("member", "non_member"), self.sizes):
            keep = np.sort(rng.choice(size, size=n, replace=False)) if size > n else slice(None)
            for field in ("logits", "labels", "groups"):
                value = getattr(self, f"{side}_{field}")
                picks[f"{side}_{field}"] = None if value is None else value[keep]
        return dataclasses.replace(self, **picks)

    def correct(self) -> Tuple[np.ndarray, np.ndarray]:
        """Whether the target classifies each member / non-member correctly."""
        return (np.argmax(self.member_logits, axis=1) == self.member_labels,
                np.argmax(self.non_member_logits, axis=1) == self.non_member_labels)


def looks_like_probabilities(outputs: np.ndarray) -> bool:
    """True when every row of (n, classes) ``outputs`` lies in [0, 1] and sums to 1 (a softmax output)."""
    outputs = np.asarray(outputs)
    return bool(outputs.size and outputs.min() >= 0 and outputs.max() <= 1
                and np.allclose(outputs.sum(axis=-1), 1, atol=1e-3))


def _log(probabilities: np.ndarray) -> np.ndarray:
    return np.log(np.clip(probabilities, 1e-300, 1.0))


def as_logits(outputs: np.ndarray) -> np.ndarray:
    """Logits of a classifier's outputs: probabilities become log-probabilities (softmax(log p) = p); logits stay."""
    outputs = np.asarray(outputs, dtype=np.float64)
    return _log(outputs) if looks_like_probabilities(outputs) else outputs


def model_outputs(model, *, members: Tuple[np.ndarray, np.ndarray], non_members: Tuple[np.ndarray, np.ndarray],
                  member_groups: Optional[np.ndarray] = None, non_member_groups: Optional[np.ndarray] = None,
                  batch_size: int = 1000) -> AttackData:
    """Query a Keras classifier on members and non-members; ``members`` / ``non_members`` are (x, y).

    Outputs that are already probabilities (a softmax last layer) are detected and marked.
    """
    parts = []
    for name, (x, y) in (("members", members), ("non_members", non_members)):
        x, y = np.asarray(x), np.asarray(y)
        if len(x) != len(y):
            raise InputError(f"{name}: {len(x)} inputs but {len(y)} labels")
        parts.append((np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64),
                      y.astype(np.int64)))
    (member_out, member_y), (non_member_out, non_member_y) = parts
    if member_out.ndim != 2:
        raise InputError(f"the model's outputs have shape {member_out.shape}; membership attacks need a classifier "
                         "with (n, classes) outputs")
    probabilities = looks_like_probabilities(member_out) and looks_like_probabilities(non_member_out)
    return AttackData(member_logits=member_out, member_labels=member_y, non_member_logits=non_member_out,
                      non_member_labels=non_member_y, probabilities=probabilities,
                      member_groups=None if member_groups is None else np.asarray(member_groups),
                      non_member_groups=None if non_member_groups is None else np.asarray(non_member_groups))


def attack_input(data: AttackData):
    """TF Privacy's ``AttackInputData`` for ``data``.

    Probabilities are passed as log-probabilities in the logits fields (softmax(log p) = p, so
    losses and entropies are those of p): TF Privacy's entropy attack reads logits only.
    """
    tfp = tf_privacy_tests()
    to_logits = _log if data.probabilities else (lambda v: v)
    return tfp.data.AttackInputData(logits_train=to_logits(data.member_logits),
                                    logits_test=to_logits(data.non_member_logits),
                                    labels_train=data.member_labels, labels_test=data.non_member_labels,
                                    loss_function_using_logits=True)


def check_attacks(attacks: Sequence[str]) -> Tuple[str, ...]:
    """``attacks`` as a tuple, or an InputError naming the known attacks."""
    attacks = tuple(attacks)
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown or not attacks:
        raise InputError(f"unknown attack(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
                         f"choose from {', '.join(ATTACKS)}")
    return attacks


def check_slices(slices: Sequence[str]) -> Tuple[str, ...]:
    """``slices`` as a tuple, or an InputError naming the known slices."""
    unknown = [s for s in slices if s not in SLICES]
    if unknown:
        raise InputError(f"unknown slice(s) {', '.join(map(repr, unknown))}; choose from {', '.join(SLICES)}")
    return tuple(slices)


def _slicing_spec(data: AttackData, slices: Sequence[str]):
    tfp = tf_privacy_tests()
    check_slices(slices)
    custom = {}
    if "group" in slices:
        if data.member_groups is None:
            raise InputError("slice 'group' needs member_groups and non_member_groups")
        values = sorted(set(np.unique(data.member_groups)) | set(np.unique(data.non_member_groups)), key=str)
        index = {v: i for i, v in enumerate(values)}
        custom = dict(all_custom_train_indices=[np.array([index[g] for g in data.member_groups])],
                      all_custom_test_indices=[np.array([index[g] for g in data.non_member_groups])],
                      custom_slices_names={i: str(v) for v, i in index.items()})
    return tfp.data.SlicingSpec(entire_dataset="entire" in slices, by_class="class" in slices,
                                by_classification_correctness="correctness" in slices, **custom)


_SLICE_NAMES = {"Entire dataset": "entire", "class": "class", "correctly_classified": "correctness", "custom": "group"}
_ATTACK_NAMES = {v: k for k, v in ATTACKS.items()}


# %% Results
@dataclasses.dataclass(frozen=True, kw_only=True)
class MembershipReport:
    """What ``membership_attacks`` returns.

    Attributes:
      table: one row per attack × slice: ``attack``, ``slice`` (entire / class / correctness /
        group), ``slice_value``, ``members``, ``non_members``, ``auc`` (in [0, 1]; 0.5 = chance),
        ``advantage`` (max TPR − FPR), ``ppv``, ``epsilon_lower_bound`` (TF Privacy's Bailey bound
        at 95 % maximised over thresholds: optimistic, see ``tfdpfair.evaluation.audit``).
      members / non_members: examples attacked (after balancing).
      scores: attack → (member scores, non-member scores) on the whole set; higher = "member".
      roc: attack → (fpr, tpr) on the whole set.
      seed: the seed of the attack models and of the balancing.
    """

    table: pd.DataFrame
    members: int
    non_members: int
    scores: Mapping[str, Tuple[np.ndarray, np.ndarray]]
    roc: Mapping[str, Tuple[np.ndarray, np.ndarray]]
    seed: int

    def entire(self) -> pd.DataFrame:
        """The whole-set rows, one per attack."""
        return self.table[self.table["slice"] == "entire"].reset_index(drop=True)

    @property
    def best(self) -> pd.Series:
        """The whole-set row of the attack with the highest AUC."""
        entire = self.entire()
        if entire.empty:
            raise ValueError("no whole-set results: run with slices including 'entire'")
        return entire.loc[entire["auc"].idxmax()]

    def auc(self, attack: str, *, slice: str = "entire", value: str = "") -> float:
        rows = self.table[(self.table["attack"] == attack) & (self.table["slice"] == slice)
                          & (self.table["slice_value"] == str(value))]
        if rows.empty:
            raise KeyError(f"no result for attack {attack!r}, slice {slice!r} {value!r}")
        return float(rows["auc"].iloc[0])

    def best_by_slice(self, slice: str) -> pd.DataFrame:
        """Per value of ``slice``: the highest AUC over attacks and the attack that reached it."""
        rows = self.table[self.table["slice"] == slice]
        best = rows.loc[rows.groupby("slice_value")["auc"].idxmax()]
        return best[["slice_value", "attack", "auc", "members", "non_members"]].reset_index(drop=True)

    def to_text(self) -> str:
        shown = self.table.copy()
        for column in ("auc", "advantage", "ppv", "epsilon_lower_bound"):
            shown[column] = shown[column].map(lambda v: f"{v:.3f}")
        return shown.to_string(index=False)


def _table(results) -> pd.DataFrame:
    rows = []
    for result in results.single_attack_results:
        spec = result.slice_spec
        if spec.entire_dataset:
            slice_name, value = "entire", ""
        else:
            slice_name = _SLICE_NAMES.get(spec.feature.value, spec.feature.value)
            value = spec.value[3] if slice_name == "group" else spec.value
        bounds = result.get_epsilon_lower_bound()
        rows.append({"attack": _ATTACK_NAMES[result.attack_type.name], "slice": slice_name, "slice_value": str(value),
                     "members": int(result.data_size.ntrain), "non_members": int(result.data_size.ntest),
                     "auc": float(result.get_auc()), "advantage": float(result.get_attacker_advantage()),
                     "ppv": float(result.get_ppv()),
                     "epsilon_lower_bound": max(0.0, float(np.max(bounds))) if len(bounds) else 0.0})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def run_tf_privacy_attacks(data: AttackData, *, attacks: Sequence[str] = PAPER_ATTACKS,
                           slices: Sequence[str] = ("entire",), seed: int = 0):
    """TF Privacy's ``run_attacks`` on ``data`` as given (no balancing); returns its ``AttackResults``."""
    tfp = tf_privacy_tests()
    types_ = [getattr(tfp.data.AttackType, ATTACKS[a]) for a in check_attacks(attacks)]
    with seeded_numpy(seed), _quiet():
        return tfp.mia.run_attacks(attack_input(data), _slicing_spec(data, slices), attack_types=types_)


def membership_attacks(*, model=None, members: Optional[Tuple[np.ndarray, np.ndarray]] = None,
                       non_members: Optional[Tuple[np.ndarray, np.ndarray]] = None, data: Optional[AttackData] = None,
                       attacks: Sequence[str] = PAPER_ATTACKS, slices: Sequence[str] = ("entire",),
                       member_groups: Optional[np.ndarray] = None, non_member_groups: Optional[np.ndarray] = None,
                       balance: bool = True, seed: int = 0, batch_size: int = 1000) -> MembershipReport:
    """TF Privacy's membership-inference attacks on a Keras classifier, or on its precomputed outputs.

    Give either ``model`` with ``members=(x, y)`` and ``non_members=(x, y)``, or ``data``
    (an ``AttackData``: logits and labels). ``slices`` from ``entire``, ``class``,
    ``correctness`` and ``group`` (``group`` needs ``member_groups`` / ``non_member_groups``
    with one value per example: a slice per demographic group). ``balance``: subsample
    the larger side to the smaller's size first (seeded), so that an AUC of 0.5 means
    chance and PPV is not inflated by the base rate.
    """
    if (model is None) == (data is None):
        raise InputError("give either model= (with members= and non_members=) or data=")
    if data is None:
        if members is None or non_members is None:
            raise InputError("model= needs members=(x, y) and non_members=(x, y)")
        data = model_outputs(model, members=members, non_members=non_members, member_groups=member_groups,
                             non_member_groups=non_member_groups, batch_size=batch_size)
    elif member_groups is not None or non_member_groups is not None:
        if member_groups is None or non_member_groups is None:
            raise InputError("give both member_groups and non_member_groups, or neither")
        data = dataclasses.replace(data, member_groups=np.asarray(member_groups),
                                   non_member_groups=np.asarray(non_member_groups))
    if balance:
        data = data.balanced(seed)
    attacks = check_attacks(attacks)
    trained = [a for a in attacks if a not in ("threshold", "threshold_entropy")]
    if trained and min(data.sizes) < MIN_TRAINED_ATTACK_EXAMPLES:
        raise InputError(f"the trained attacks ({', '.join(trained)}) need at least {MIN_TRAINED_ATTACK_EXAMPLES} "
                         f"members and non-members (2-fold cross-validation, each fold a 3-fold grid search); got "
                         f"{data.sizes[0]} and {data.sizes[1]}")
    slices = tuple(dict.fromkeys(("entire",) + tuple(slices)))  # the whole set always, for .best and .scores
    results = run_tf_privacy_attacks(data, attacks=attacks, slices=slices, seed=seed)
    scores, roc = {}, {}
    for result in results.single_attack_results:
        if result.slice_spec.entire_dataset:
            name = _ATTACK_NAMES[result.attack_type.name]
            scores[name] = (np.asarray(result.membership_scores_train), np.asarray(result.membership_scores_test))
            roc[name] = (np.asarray(result.roc_curve.fpr), np.asarray(result.roc_curve.tpr))
    if not scores:
        raise InputError(f"no attack produced a result on {data.sizes[0]} members and {data.sizes[1]} non-members: "
                         "the trained attacks need at least a few examples of each per cross-validation fold")
    members_n, non_members_n = data.sizes
    return MembershipReport(table=_table(results), members=members_n, non_members=non_members_n, scores=scores,
                            roc=roc, seed=seed)


def privacy_risk_scores(data: AttackData) -> Tuple[np.ndarray, np.ndarray]:
    """Song & Mittal's privacy risk score of every member and non-member, via TF Privacy.

    The posterior probability of membership given the example's loss, estimated from the
    member and non-member loss histograms (TF Privacy's 15 log-spaced bins); in [0, 1].
    Returns (member scores, non-member scores). Not balanced: pass the sets you want scored.
    """
    tfp = tf_privacy_tests()
    with _quiet():
        results = tfp.mia.run_membership_probability_analysis(attack_input(data),
                                                               tfp.data.SlicingSpec(entire_dataset=True))
    whole = results.membership_prob_results[0]
    return np.asarray(whole.train_membership_probs), np.asarray(whole.test_membership_probs)


# %% What a reproduction stores per trained model
def _matched_sample(member_groups: Optional[np.ndarray], non_member_groups: Optional[np.ndarray], *, sizes,
                    max_examples: Optional[int], rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Indices of equally many members and non-members, with the same number from every group when groups are given.

    Without matching, a group that is rare among members but common among non-members (an
    imbalanced training set against a balanced test set) would make the whole-set AUC
    measure group composition instead of membership.
    """
    limit = min(sizes) if max_examples is None else min(min(sizes), max_examples)
    if member_groups is None:
        return tuple(np.sort(rng.choice(n, size=limit, replace=False)) for n in sizes)
    member_groups, non_member_groups = np.asarray(member_groups), np.asarray(non_member_groups)
    values = sorted(set(member_groups.tolist()) | set(non_member_groups.tolist()), key=str)
    common = {g: min(int(np.sum(member_groups == g)), int(np.sum(non_member_groups == g))) for g in values}
    scale = min(1.0, limit / max(1, sum(common.values())))
    picks = ([], [])
    for g in values:
        k = int(np.floor(common[g] * scale))
        for pick, groups in zip(picks, (member_groups, non_member_groups)):
            pick.append(rng.choice(np.flatnonzero(groups == g), size=k, replace=False))
    return tuple(np.sort(np.concatenate(p)) for p in picks)


def attack_summary(model, *, members: Tuple[np.ndarray, np.ndarray], non_members: Tuple[np.ndarray, np.ndarray],
                   attacks: Sequence[str] = PAPER_ATTACKS, max_examples: Optional[int] = None, seed: int = 0,
                   member_groups: Optional[np.ndarray] = None, non_member_groups: Optional[np.ndarray] = None,
                   confidence: float = 0.95) -> dict:
    """Attack ``model`` and audit it: a JSON-able dict for a reproduction's stored run.

    Equally many members and non-members are attacked (at most ``max_examples`` each,
    seeded); with groups, the same number from each group on both sides (so the whole-set
    AUC is not driven by group composition). Keys: ``members``, ``non_members``, ``auc``
    (attack → AUC on the whole set), ``best`` ({attack, auc}), ``by_group`` (group → best
    attack, its AUC and the group's sizes; only with groups), ``audit``
    (``tfdpfair.evaluation.audit.attack_audit_bound``: {epsilon, attack, confidence}) and
    ``roc`` (attack → [fpr, tpr]), ``seconds`` (wall time of the attacks and the bound).
    """
    import time

    from tfdpfair.evaluation.audit import attack_audit_bound

    start = time.perf_counter()
    if (member_groups is None) != (non_member_groups is None):
        raise InputError("give both member_groups and non_member_groups, or neither")
    rng = np.random.default_rng([int(seed), 0x3A7])
    (xm, ym), (xn, yn) = members, non_members
    pick_m, pick_n = _matched_sample(member_groups, non_member_groups, sizes=(len(ym), len(yn)),
                                     max_examples=max_examples, rng=rng)
    member_g = None if member_groups is None else np.asarray(member_groups)[pick_m]
    non_member_g = None if non_member_groups is None else np.asarray(non_member_groups)[pick_n]
    slices = ("entire", "group") if member_g is not None else ("entire",)
    report = membership_attacks(model=model, members=(xm[pick_m], ym[pick_m]), non_members=(xn[pick_n], yn[pick_n]),
                                attacks=attacks, slices=slices, member_groups=member_g,
                                non_member_groups=non_member_g, balance=False, seed=seed)
    audit = attack_audit_bound(report.scores, confidence=confidence, seed=seed)
    entire = report.entire()
    out = {"members": report.members, "non_members": report.non_members,
           "auc": {row.attack: float(row.auc) for row in entire.itertuples()},
           "best": {"attack": str(report.best["attack"]), "auc": float(report.best["auc"])},
           "audit": {"epsilon": audit.epsilon, "attack": audit.attack, "confidence": audit.confidence},
           "roc": {name: [fpr, tpr] for name, (fpr, tpr) in report.roc.items()},
           "seconds": time.perf_counter() - start}
    if member_g is not None:
        out["by_group"] = {row.slice_value: {"attack": row.attack, "auc": float(row.auc), "members": int(row.members),
                                             "non_members": int(row.non_members)}
                           for row in report.best_by_slice("group").itertuples()}
    return out
