"""One model of a generalization-technique study (Hassanpour et al. 2025): train it, then measure utility, privacy, bias.

``Techniques`` names the techniques of one model, one field per technique (normalisation,
batch size, weight standardization, augmentation multiplicity, weight averaging, SAM /
DP-SAT), so that ``tfdpfair.ablation.ladder`` can build the paper's BL → +GN → +OBS → +WS →
+AM → +PA → +SAT with one changed field per rung. ``TradeoffData`` holds the splits one
model needs: training images, a validation split carved from them (early stopping and
the generalization gap; never the test set), the test domains (``test``, or ``color`` and
``gray`` for CIFAR-10S) and the membership-inference non-members (held-out images in the
training distribution).

``train_and_measure`` trains a fresh model and returns a ``TechniqueRun``: accuracy per
test domain, training and validation accuracy (GGap = validation − training), the AUC of
each of TF Privacy's attacks on equally many members and non-members, Eq. 1's bias (two
domains), the harmonic score, and optionally every training example's membership score by
one attack (the onion effect's ranking) and a training curve with the attack's AUC and the
members' privacy-risk scores over training (the paper's Figure 2).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from tfdpfair.compat import keras
from tfdpfair.data.dataset import Dataset
from tfdpfair.errors import InputError
from tfdpfair.evaluation.learning_curves import StepCurve
from tfdpfair.evaluation.tradeoffs import domain_bias, generalization_gap, harmonic_score
from tfdpfair.privacy import DPConfig
from tfdpfair.randomness import RunStreams
from tfdpfair.training.classifier import TrainConfig, TrainingRun, evaluate_accuracy, train_classifier

NORMS = ("batch", "group", "none")


@dataclasses.dataclass(frozen=True)
class Techniques:
    """The generalization techniques of one model (Hassanpour et al. §2.2), one field each.

    Attributes:
      norm: the network's normalisation: ``batch`` (the non-private baseline), ``none``
        (the private baseline: BatchNorm mixes examples, which per-example clipping
        cannot bound) or ``group`` (+GN).
      batch_size: examples per (logical) step, ≥ 1 (+OBS sets the paper's "optimal" batch).
      weight_standardization: standardized convolution kernels (+WS).
      augmentation_multiplicity: K ≥ 1 random crop + flip copies per example, gradients
        averaged over the K before clipping (+AM); 1 = off.
      ema_decay: evaluate an exponential moving average of the weights, decay in (0, 1)
        (+PA, "parameter averaging"); None = off.
      sam_radius: ρ ≥ 0 of SAM (non-private) / DP-SAT (private) (+SAT); 0 = (DP-)SGD.
    """

    norm: str = "batch"
    batch_size: int = 32
    weight_standardization: bool = False
    augmentation_multiplicity: int = 1
    ema_decay: Optional[float] = None
    sam_radius: float = 0.0

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise InputError(f"unknown norm {self.norm!r}; choose one of {', '.join(NORMS)}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise InputError(f"batch_size must be an integer >= 1, got {self.batch_size!r}")
        if not isinstance(self.augmentation_multiplicity, int) or self.augmentation_multiplicity < 1:
            raise InputError(f"augmentation_multiplicity must be an integer >= 1, got {self.augmentation_multiplicity!r}")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise InputError(f"ema_decay must be None or in (0, 1), got {self.ema_decay}")
        if not self.sam_radius >= 0:
            raise InputError(f"sam_radius must be >= 0, got {self.sam_radius}")

    def train_config(self, base: TrainConfig) -> TrainConfig:
        """``base`` (epochs, learning rate, optimizer, physical batch) with this model's techniques."""
        return dataclasses.replace(base, batch_size=self.batch_size,
                                   augmentation_multiplicity=self.augmentation_multiplicity,
                                   ema_decay=self.ema_decay, sam_radius=float(self.sam_radius))


@dataclasses.dataclass(frozen=True)
class TradeoffData:
    """The splits one model of the study needs (images uint8; labels integers).

    Attributes:
      train: the training set (the members).
      validation: held out from the training data: early stopping and GGap.
      tests: test domain → test set, e.g. {"test": ...} or {"color": ..., "gray": ...}
        (the same images in two domains: Eq. 1's bias needs exactly these two).
      non_members: images never trained on, in the training distribution (the MIA's non-members).
    """

    train: Dataset
    validation: Dataset
    tests: Dict[str, Dataset]
    non_members: Dataset

    def __post_init__(self) -> None:
        if not self.tests:
            raise InputError("tests must name at least one test set")
        for name, data in {"train": self.train, "validation": self.validation, "non_members": self.non_members,
                           **self.tests}.items():
            if data.y is None or len(data) == 0:
                raise InputError(f"{name} needs images with class labels, got {len(data)} images")

    @property
    def domains(self) -> bool:
        """Whether the tests are the COLOR / GRAY pair of a domain-skewed dataset."""
        return set(self.tests) == {"color", "gray"}

    def downsample(self, factor: int) -> "TradeoffData":
        """Every split's images shrunk by the integer ``factor`` (``Dataset.downsample``)."""
        return TradeoffData(train=self.train.downsample(factor), validation=self.validation.downsample(factor),
                            tests={k: v.downsample(factor) for k, v in self.tests.items()},
                            non_members=self.non_members.downsample(factor))


def _rows(data: Dataset, idx: np.ndarray) -> Dataset:
    return dataclasses.replace(data, x=data.x[idx], y=data.y[idx],
                               attrs=None if data.attrs is None else data.attrs[idx])


def tradeoff_data(train: Dataset, test: Dataset, *, validation_fraction: float = 0.1, skew: Optional[float] = None,
                  train_size: Optional[int] = None, test_size: Optional[int] = None,
                  validation_size: Optional[int] = None, seed: int = 0) -> TradeoffData:
    """The splits of one dataset for the study, seeded.

    ``validation_fraction`` of each class of ``train`` (in (0, 1)) is held out as the
    validation split, or ``validation_size`` class-balanced images when given (a small
    training set need not be validated on thousands of images every epoch); of the rest, ``train_size`` images (class-balanced, all when None)
    are the training set. ``test_size`` class-balanced test images (all when None). With
    ``skew`` (in [0.5, 1]), the training set is domain-skewed
    (``tfdpfair.data.skewed_domains``; the validation split too, with its own draw), the tests
    are COLOR and GRAY, and the non-members are the test images skewed the same way (so
    members and non-members differ only in membership); without it, the tests and the
    non-members are the test set.
    """
    from tfdpfair.data.skewed_domains import skewed_domains

    if not 0 < validation_fraction < 1:
        raise InputError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    rng = np.random.default_rng([int(seed), 0x5E1])
    classes = int(max(train.num_classes, test.num_classes))

    def per_class(data: Dataset, n: Optional[int], fraction: Optional[float] = None):
        picked, rest = [], []
        for c in range(classes):
            idx = rng.permutation(np.flatnonzero(data.y == c))
            k = int(round(fraction * len(idx))) if fraction is not None else (
                len(idx) if n is None else n // classes + (c < n % classes))
            if k > len(idx):
                raise InputError(f"{data.name}/{data.split} has {len(idx)} images of class {c}; {k} asked for")
            picked.append(idx[:k])
            rest.append(idx[k:])
        return np.sort(np.concatenate(picked)), np.sort(np.concatenate(rest))

    if validation_size is not None:
        held_out = per_class(train, validation_size)[0]
        remaining = np.setdiff1d(np.arange(len(train)), held_out)
    else:
        held_out, remaining = per_class(train, None, validation_fraction)
    validation = _rows(train, held_out)
    pool = _rows(train, remaining)
    training = _rows(pool, per_class(pool, train_size)[0])
    test = _rows(test, per_class(test, test_size)[0])
    if skew is None:
        return TradeoffData(train=training, validation=validation, tests={"test": test}, non_members=test)
    split = skewed_domains(training, test, skew=skew, seed=seed)
    return TradeoffData(train=split.train,
                        validation=skewed_domains(validation, test, skew=skew, seed=seed + 1).train,
                        tests={"color": split.test_color, "gray": split.test_gray},
                        non_members=skewed_domains(test, test, skew=skew, seed=seed + 2).train)


@dataclasses.dataclass(frozen=True)
class TechniqueRun:
    """What ``train_and_measure`` returns (JSON-able through ``to_stored`` / ``from_stored``).

    Attributes:
      accuracy: test domain → top-1 accuracy in [0, 1]; ``mean_accuracy`` their mean.
      train_accuracy / validation_accuracy: of the final (evaluated) weights; ``ggap`` =
        validation − training (the paper's definition; negative when the model overfits).
      auc: attack → AUC on the balanced members / non-members (0.5 = chance).
      reported_attack: the attack whose AUC the tables report.
      bias: Eq. 1 (predictions on COLOR ∪ GRAY), in [0, 0.5]; None without two domains.
      bias_se: the bias's bootstrap standard error over the test images (200 resamples of
        the images, each in both domains), or None.
      harmonic: HS (Eq. 3) from mean accuracy, the reported AUC and the bias; None without bias.
      training: the ``TrainingRun`` (history, ε spent, steps, seconds, sampling).
      stopped_epoch: epoch (1-based) where early stopping ended training, or None.
      curve: Figure 2's records (``step``, ``train_accuracy``, ``test_accuracy``, ``auc``), or [].
      attack_members: members attacked per side; test_examples: images per test domain.
      member_scores: every training example's membership score by the ranking attack, in
        ``data.train``'s order (higher = more exposed), or None.
    """

    accuracy: Dict[str, float]
    train_accuracy: float
    validation_accuracy: float
    auc: Dict[str, float]
    reported_attack: str
    bias: Optional[float]
    training: TrainingRun
    stopped_epoch: Optional[int] = None
    curve: List[dict] = dataclasses.field(default_factory=list)
    attack_members: int = 0
    test_examples: int = 0
    bias_se: Optional[float] = None
    member_scores: Optional[List[float]] = None

    @property
    def mean_accuracy(self) -> float:
        return float(np.mean(list(self.accuracy.values())))

    @property
    def ggap(self) -> float:
        return generalization_gap(train_accuracy=self.train_accuracy, validation_accuracy=self.validation_accuracy)

    @property
    def reported_auc(self) -> float:
        return self.auc[self.reported_attack]

    @property
    def harmonic(self) -> Optional[float]:
        if self.bias is None:
            return None
        return harmonic_score(accuracy=self.mean_accuracy, auc=self.reported_auc, bias=self.bias)

    def to_stored(self) -> dict:
        return to_stored(self)

    @classmethod
    def from_stored(cls, stored: dict) -> "TechniqueRun":
        return from_stored(cls, stored)


def to_stored(run) -> dict:
    """A run dataclass holding a ``training: TrainingRun`` as a JSON-able dict (``from_stored`` inverts it)."""
    stored = dataclasses.asdict(run)
    stored["training"] = dataclasses.asdict(run.training)  # its PrivacySpend (or None) becomes a dict (or None)
    return stored


def from_stored(cls, stored: dict):
    """``cls(**stored)`` with its ``training`` (and that run's privacy spend) rebuilt."""
    from tfdpfair.privacy.accounting import PrivacySpend

    stored, training = dict(stored), dict(stored["training"])
    training["privacy"] = PrivacySpend(**training["privacy"]) if training["privacy"] else None
    return cls(**{**stored, "training": TrainingRun(**training)})


class MembershipCurve(StepCurve):
    """Figure 2: train / test accuracy, an attack's AUC and every attacked member's risk score during training.

    Every ``every_steps`` optimizer steps (and at the end) the model's outputs on the
    attacked members and non-members give: accuracy on each side, the ``attack``'s AUC
    (TF Privacy, seeded) and Song & Mittal's privacy-risk score of each member (TF
    Privacy's membership-probability analysis). Reading the model spends no privacy.
    """

    def __init__(self, members, non_members, *, every_steps: int, attack: str = "threshold", seed: int = 0):
        super().__init__(every_steps=every_steps)
        self.members, self.non_members = members, non_members
        self.attack, self.seed = attack, seed
        self.risk: List[List[float]] = []

    def _network(self):
        return getattr(self.model, "model", self.model)

    def _record(self) -> None:
        from tfdpfair.evaluation.membership import membership_attacks, model_outputs, privacy_risk_scores

        data = model_outputs(self._network(), members=self.members, non_members=self.non_members)
        report = membership_attacks(data=data, attacks=(self.attack,), balance=False, seed=self.seed)
        train_acc, test_acc = data.correct()
        member_risk, _ = privacy_risk_scores(data)
        self.records.append({"step": self.step, "train_accuracy": float(np.mean(train_acc)),
                             "test_accuracy": float(np.mean(test_acc)), "auc": report.auc(self.attack)})
        self.risk.append([float(v) for v in member_risk])

    def checkpoint_state(self) -> dict:
        return {**super().checkpoint_state(), "risk": self.risk}

    def restore_checkpoint_state(self, state: dict) -> None:
        super().restore_checkpoint_state(state)
        self.risk = [list(r) for r in state["risk"]]

    def tracked(self) -> List[dict]:
        """The records, each with ``risk``: the member with the highest final risk score, over training."""
        if not self.risk:
            return []
        top = int(np.argmax(self.risk[-1]))
        return [dict(r, risk=self.risk[i][top], tracked_member=top) for i, r in enumerate(self.records)]


def _bootstrap_bias_se(predictions: Dict[str, np.ndarray], classes: int, seed: int, resamples: int = 200) -> float:
    """Standard error of Eq. 1's bias over resamples of the test images (an image keeps both its domains)."""
    rng = np.random.default_rng([int(seed), 0xB1A5])
    n = len(predictions["gray"])
    values = []
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        values.append(domain_bias(predictions_gray=predictions["gray"][idx], predictions_color=predictions["color"][idx],
                                  num_classes=classes))
    return float(np.std(values, ddof=1))


def _predict_labels(model, x: np.ndarray) -> np.ndarray:
    return np.argmax(model.predict(x, batch_size=500, verbose=0), axis=-1)


def _attack_sides(data: TradeoffData, limit: Optional[int], seed: int):
    rng = np.random.default_rng([int(seed), 0x0A71])
    n = min(len(data.train), len(data.non_members), limit or len(data.train))
    pick_m = np.sort(rng.choice(len(data.train), size=n, replace=False))
    pick_n = np.sort(rng.choice(len(data.non_members), size=n, replace=False))
    return ((data.train.as_float()[pick_m], data.train.y[pick_m]),
            (data.non_members.as_float()[pick_n], data.non_members.y[pick_n]))


def train_and_measure(
    build_model: Callable[[Techniques], keras.Model],
    data: TradeoffData,
    *,
    techniques: Techniques,
    dp: DPConfig,
    train: TrainConfig,
    early_stopping_patience: Optional[int] = None,
    attacks: Sequence[str] = ("threshold", "threshold_entropy", "mlp", "rf"),
    reported_attack: str = "mlp",
    attack_examples: Optional[int] = None,
    curve_points: int = 0,
    curve_attack: str = "threshold",
    rank_members_by: Optional[str] = None,
    seed: int = 0,
    streams: Optional[RunStreams] = None,
    checkpoint_dir: Optional[Path] = None,
    resume: bool = False,
    verbose: Optional[int] = None,
) -> TechniqueRun:
    """Train ``build_model(techniques)`` on ``data.train`` and measure it (see the module docstring).

    Args:
      build_model: returns a new, uncompiled logits model for the techniques (called after seeding).
      techniques / dp / train: the model's techniques, the mechanism (``dp.disabled()`` for a
        non-private model) and the rest of the optimisation (epochs, learning rate, ...).
      early_stopping_patience: epochs without validation improvement before stopping
        (non-private models only; None = train all epochs).
      attacks / reported_attack: TF Privacy attacks on at most ``attack_examples`` members
        and as many non-members; the one the tables report.
      curve_points: about this many Figure 2 evaluations over training (0 = none), each
        with ``curve_attack`` on the attacked members / non-members.
      rank_members_by: an attack that scores every training example (``member_scores``:
        the onion effect's ranking), or None.
      seed: the initial weights and the attacks' sampling; ``streams``: noise and batches.
    """
    from tfdpfair.evaluation.membership import attack_summary
    from tfdpfair.training.early_stopping import EarlyStopping

    if reported_attack not in attacks:
        raise InputError(f"reported_attack {reported_attack!r} must be one of the attacks {list(attacks)}")
    if early_stopping_patience is not None and dp.enabled:
        raise InputError("early stopping reads the validation split without privacy: non-private models only")
    keras.utils.set_random_seed(seed)
    model = build_model(techniques)
    config = techniques.train_config(train)
    members, non_members = _attack_sides(data, attack_examples, seed)
    callbacks: list = []
    stopper = None
    if early_stopping_patience is not None:
        stopper = EarlyStopping(data.validation.as_float(), data.validation.y, patience=early_stopping_patience,
                                restore_best=techniques.ema_decay is None)
        callbacks.append(stopper)
    curve = None
    if curve_points:
        steps = config.epochs * max(1, len(data.train) // config.batch_size)
        curve = MembershipCurve(members, non_members, every_steps=max(1, steps // curve_points), attack=curve_attack,
                                seed=seed)
        callbacks.append(curve)
    run = train_classifier(model, data.train.as_float(), data.train.y, dp=dp, train=config,
                           streams=streams if streams is not None else RunStreams(), checkpoint_dir=checkpoint_dir,
                           resume=resume, callbacks=callbacks, verbose=verbose)
    predictions = {name: _predict_labels(model, test.as_float()) for name, test in data.tests.items()}
    accuracy = {name: float(np.mean(predictions[name] == data.tests[name].y)) for name in data.tests}
    bias = bias_se = None
    if data.domains:
        classes = int(max(t.num_classes for t in data.tests.values()))
        bias = domain_bias(predictions_gray=predictions["gray"], predictions_color=predictions["color"],
                           num_classes=classes)
        bias_se = _bootstrap_bias_se(predictions, classes, seed)
    summary = attack_summary(model, members=members, non_members=non_members, attacks=attacks, seed=seed)
    return TechniqueRun(
        accuracy=accuracy,
        train_accuracy=evaluate_accuracy(model, data.train.as_float(), data.train.y),
        validation_accuracy=evaluate_accuracy(model, data.validation.as_float(), data.validation.y),
        auc=dict(summary["auc"]), reported_attack=reported_attack, bias=bias, bias_se=bias_se, training=run,
        stopped_epoch=None if stopper is None or stopper.stopped_epoch is None else int(stopper.stopped_epoch) + 1,
        curve=curve.tracked() if curve is not None else [], attack_members=int(summary["members"]),
        test_examples=min(len(t) for t in data.tests.values()),
        member_scores=None if rank_members_by is None else
        [float(v) for v in membership_ranking(model, data, attack=rank_members_by, seed=seed)])


def membership_ranking(model, data: TradeoffData, *, attack: str = "mlp", seed: int = 0) -> np.ndarray:
    """Every training example's membership score by ``attack`` (higher = more exposed), in ``data.train``'s order.

    The onion effect's ranking (Carlini et al. 2022; Hassanpour et al. §4.4 rank by the MLP
    attack): all training examples against all non-members, unbalanced, so that every
    member is scored (TF Privacy's trained attacks score each example by a model that did
    not train on it).
    """
    from tfdpfair.evaluation.membership import membership_attacks

    report = membership_attacks(model=model, members=(data.train.as_float(), data.train.y),
                                non_members=(data.non_members.as_float(), data.non_members.y), attacks=(attack,),
                                balance=False, seed=seed)
    return np.asarray(report.scores[attack][0], dtype=np.float64)
