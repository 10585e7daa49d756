"""One multi-attribute CelebA model of a generalization-technique study (Hassanpour et al. 2025, §5): train, measure.

``attribute_data`` splits a CelebA pool into training, validation and test sets and picks
the attributes both evaluation sets can score (``tfdpfair.data.attribute_task``).
``train_and_measure_attributes`` trains a fresh multi-label model (one logit per
attribute, sigmoid cross-entropy) and returns an ``AttributeRun``: per attribute, the
gender-weighted AP on validation and test (their means: mAP), Eq. 2's bias on the test set
(positive prediction: logit > 0), the training set's gender skew, and a membership-inference
AUC (training images vs test images, equally many; each attribute's output as a
two-class classifier), with their means over all attributes and over those with skew ≥ 0.8.

The single bias of Table 7 is the mean over attributes of Eq. 2 signed towards each
attribute's majority gender in training (> 0: the model amplifies the training set's gender
skew, as Wang et al. 2020 measure amplification); the paper does not say how it aggregates.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from tfdpfair.compat import keras
from tfdpfair.data.attribute_task import AttributeTask, attribute_task, is_woman
from tfdpfair.data.dataset import Dataset
from tfdpfair.errors import InputError
from tfdpfair.evaluation.technique_runs import Techniques, from_stored, to_stored
from tfdpfair.evaluation.tradeoffs import gender_bias, gender_skew, gender_weighted_average_precision
from tfdpfair.privacy import DPConfig
from tfdpfair.randomness import RunStreams
from tfdpfair.training.classifier import TrainConfig, TrainingRun, train_classifier

HIGH_SKEW = 0.8


@dataclasses.dataclass(frozen=True)
class AttributeData:
    """CelebA splits and the attributes predicted (see ``attribute_data``)."""

    train: Dataset
    validation: Dataset
    test: Dataset
    task: AttributeTask


def _rows(data: Dataset, idx: np.ndarray, split: str) -> Dataset:
    return dataclasses.replace(data, split=split, x=data.x[idx], attrs=data.attrs[idx],
                               y=None if data.y is None else data.y[idx])


def attribute_data(pool: Dataset, *, validation_size: int, test_size: int, train_size: Optional[int] = None,
                   min_per_gender: int = 1, seed: int = 0) -> AttributeData:
    """A seeded random split of ``pool`` (images with CelebA's attributes) into validation, test and training.

    ``train_size`` of the rest (all when None) train. Attributes: those the validation and
    the test set can score with at least ``min_per_gender`` positives and negatives per gender.
    """
    if pool.attrs is None:
        raise InputError(f"{pool.name} has no attributes; the multi-attribute task needs CelebA's")
    rng = np.random.default_rng([int(seed), 0xCE1])
    order = rng.permutation(len(pool))
    rest = len(pool) - validation_size - test_size
    if validation_size < 1 or test_size < 1 or rest < 1 or (train_size is not None and train_size > rest):
        raise InputError(f"{pool.name} has {len(pool)} images: cannot hold out {validation_size} + {test_size} and "
                         f"train on {train_size if train_size is not None else 'the rest'}")
    validation = _rows(pool, np.sort(order[:validation_size]), "validation")
    test = _rows(pool, np.sort(order[validation_size:validation_size + test_size]), "test")
    train_idx = order[validation_size + test_size:]
    train = _rows(pool, np.sort(train_idx if train_size is None else train_idx[:train_size]), "train")
    task = attribute_task(validation=validation, test=test, min_per_gender=min_per_gender)
    return AttributeData(train=train, validation=validation, test=test, task=task)


@dataclasses.dataclass(frozen=True)
class AttributeRun:
    """What ``train_and_measure_attributes`` returns (JSON-able; see the module docstring).

    Attributes:
      attributes: the attributes, in the order of every per-attribute list.
      ap_validation / ap_test: gender-weighted AP per attribute, in [0, 1] (NaN: cannot be scored).
      bias: Eq. 2 per attribute on the test set, in [−1, 1].
      skew: the training set's gender skew per attribute, in [0.5, 1].
      women_majority: per attribute, whether most of its training positives are women.
      auc: membership-inference AUC per attribute (``attack`` on that attribute's output).
      attack: the attack; attack_members: members (and non-members) attacked.
      training: the ``TrainingRun``.
    """

    attributes: List[str]
    ap_validation: List[float]
    ap_test: List[float]
    bias: List[float]
    skew: List[float]
    women_majority: List[bool]
    auc: List[float]
    attack: str
    attack_members: int
    training: TrainingRun

    @property
    def map_test(self) -> float:
        return float(np.nanmean(self.ap_test))

    @property
    def map_validation(self) -> float:
        return float(np.nanmean(self.ap_validation))

    @property
    def amplification(self) -> float:
        """Mean Eq. 2 bias signed towards each attribute's majority gender in training (see the module docstring)."""
        sign = np.where(np.asarray(self.women_majority, bool), 1.0, -1.0)
        return float(np.nanmean(np.asarray(self.bias, float) * sign))

    def mean_auc(self, *, min_skew: float = 0.5) -> float:
        """Mean AUC over the attributes with training skew ≥ ``min_skew`` (NaN if none)."""
        auc, skew = np.asarray(self.auc, float), np.asarray(self.skew, float)
        chosen = auc[skew >= min_skew]
        return float(np.mean(chosen)) if len(chosen) else float("nan")

    def to_stored(self) -> dict:
        return to_stored(self)

    @classmethod
    def from_stored(cls, stored: dict) -> "AttributeRun":
        return from_stored(cls, stored)


def _logits(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x, batch_size=500, verbose=0), np.float64)


def attribute_attack_aucs(*, member_logits: np.ndarray, member_targets: np.ndarray, non_member_logits: np.ndarray,
                          non_member_targets: np.ndarray, attack: str = "mlp", seed: int = 0) -> List[float]:
    """Per attribute, TF Privacy's ``attack`` on that attribute's output as a two-class classifier ([0, z] logits)."""
    from tfdpfair.evaluation.membership import AttackData, membership_attacks

    aucs = []
    for a in range(member_logits.shape[1]):
        def two_class(z):
            return np.stack([np.zeros_like(z[:, a]), z[:, a]], axis=1)

        data = AttackData(member_logits=two_class(member_logits), member_labels=member_targets[:, a].astype(np.int64),
                          non_member_logits=two_class(non_member_logits),
                          non_member_labels=non_member_targets[:, a].astype(np.int64))
        aucs.append(membership_attacks(data=data, attacks=(attack,), balance=False, seed=seed).auc(attack))
    return aucs


def train_and_measure_attributes(
    build_model: Callable[[Techniques, int], keras.Model],
    data: AttributeData,
    *,
    techniques: Techniques,
    dp: DPConfig,
    train: TrainConfig,
    attack: str = "mlp",
    attack_examples: Optional[int] = None,
    seed: int = 0,
    streams: Optional[RunStreams] = None,
    checkpoint_dir: Optional[Path] = None,
    resume: bool = False,
    verbose: Optional[int] = None,
) -> AttributeRun:
    """Train ``build_model(techniques, attributes)`` on ``data.train``'s attributes and measure it.

    ``train``'s loss is set to ``binary``; the membership attack uses at most
    ``attack_examples`` training and as many test images (seeded).
    """
    keras.utils.set_random_seed(seed)
    attributes = data.task.attributes
    model = build_model(techniques, len(attributes))
    config = dataclasses.replace(techniques.train_config(train), loss="binary")
    targets = {name: data.task.targets(part) for name, part in
               (("train", data.train), ("validation", data.validation), ("test", data.test))}
    run = train_classifier(model, data.train.as_float(), targets["train"], dp=dp, train=config,
                           streams=streams if streams is not None else RunStreams(), checkpoint_dir=checkpoint_dir,
                           resume=resume, verbose=verbose)
    scores = {"validation": _logits(model, data.validation.as_float()), "test": _logits(model, data.test.as_float())}
    ap = {split: gender_weighted_average_precision(y_true=targets[split], scores=scores[split],
                                                   is_woman=is_woman(getattr(data, split))) for split in scores}
    bias = gender_bias(y_true=targets["test"], y_pred=(scores["test"] > 0).astype(np.float64),
                       is_woman=is_woman(data.test))
    skew = gender_skew(y_true=targets["train"], is_woman=is_woman(data.train))
    women = is_woman(data.train).astype(bool)
    women_majority = targets["train"][women].sum(0) >= targets["train"][~women].sum(0)
    rng = np.random.default_rng([int(seed), 0xA77])
    n = min(len(data.train), len(data.test), attack_examples or len(data.train))
    pick_m = np.sort(rng.choice(len(data.train), size=n, replace=False))
    pick_n = np.sort(rng.choice(len(data.test), size=n, replace=False))
    aucs = attribute_attack_aucs(member_logits=_logits(model, data.train.as_float()[pick_m]),
                                 member_targets=targets["train"][pick_m], non_member_logits=scores["test"][pick_n],
                                 non_member_targets=targets["test"][pick_n], attack=attack, seed=seed)
    return AttributeRun(attributes=list(attributes), ap_validation=[float(v) for v in ap["validation"]],
                        ap_test=[float(v) for v in ap["test"]], bias=[float(v) for v in bias],
                        skew=[float(v) for v in skew], women_majority=[bool(v) for v in women_majority],
                        auc=[float(v) for v in aucs], attack=attack, attack_members=n, training=run)
