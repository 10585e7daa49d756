"""One run of a disparate-impact study: train a classifier on a ``GroupSplit``, then measure it per group.

``train_and_assess`` trains (privately when ``dp.enabled``) on the split's training set,
records per-group learning curves on its evaluation set, and returns the fairness
report (accuracy, per-group accuracy, accuracy gap, ΔDemP, ΔEO, bootstrap intervals)
of the final model on the evaluation set; with ``attacks``, also TF Privacy's
membership-inference attacks (training examples vs evaluation examples), overall and
per group (``tfdpfair.evaluation.membership.attack_summary``).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from tfdpfair.data.subsets import GroupSplit
from tfdpfair.evaluation.fairness import FairnessReport, fairness_report
from tfdpfair.evaluation.learning_curves import GroupAccuracyCurve
from tfdpfair.privacy import DPConfig
from tfdpfair.privacy.accounting import PrivacySpend
from tfdpfair.randomness import RunStreams
from tfdpfair.training.classifier import TrainConfig, TrainingRun, train_classifier
from tfdpfair.compat import keras


@dataclasses.dataclass(frozen=True)
class GroupRun:
    """What ``train_and_assess`` returns.

    Attributes:
      fairness: metrics of the final model on the evaluation set, with intervals.
      curve: learning-curve records (``step``, ``accuracy``, ``accuracy[<group name>]``).
      training: the ``TrainingRun`` (history, ε spent, steps, seconds).
      membership: ``attack_summary``'s dict (AUC per attack, best, per group, audit bound), or None.
    """

    fairness: FairnessReport
    curve: List[dict]
    training: TrainingRun
    membership: Optional[dict] = None

    def to_stored(self) -> dict:
        """A JSON-able dict (``from_stored`` inverts it): how a reproduction keeps a finished run."""
        training = dataclasses.asdict(self.training)
        training["privacy"] = dataclasses.asdict(self.training.privacy) if self.training.privacy else None
        return {"fairness": dataclasses.asdict(self.fairness), "curve": self.curve, "training": training,
                "membership": self.membership}

    @classmethod
    def from_stored(cls, stored: dict) -> "GroupRun":
        fairness = dict(stored["fairness"])
        fairness["intervals"] = {k: tuple(v) for k, v in fairness["intervals"].items()}
        training = dict(stored["training"])
        training["privacy"] = PrivacySpend(**training["privacy"]) if training["privacy"] else None
        return cls(fairness=FairnessReport(**fairness), curve=list(stored["curve"]), training=TrainingRun(**training),
                   membership=stored.get("membership"))


def train_and_assess(
    build_model: Callable[[], keras.Model],
    split: GroupSplit,
    *,
    dp: DPConfig,
    train: TrainConfig,
    group_names: Dict[int, str],
    curve_points: int = 20,
    bootstrap_resamples: int = 1000,
    seed: int = 0,
    streams: Optional[RunStreams] = None,
    checkpoint_dir: Optional[Path] = None,
    resume: bool = False,
    verbose: Optional[int] = None,
    attacks: Sequence[str] = (),
    attack_examples: Optional[int] = None,
) -> GroupRun:
    """Train a fresh ``build_model()`` on ``split.train`` and assess it on ``split.eval``.

    Args:
      build_model: returns a new, uncompiled logits model (called after seeding).
      split: training subset and balanced evaluation set (images uint8, scaled to [0, 1] here).
      dp / train: the mechanism and the optimisation settings.
      group_names: display name per group value, e.g. {0: "female", 1: "male"}.
      curve_points: about this many learning-curve evaluations over the run (≥ 1).
      bootstrap_resamples: resamples of the evaluation set for the intervals (0 = none).
      seed: seeds the initial weights and the bootstrap.
      streams: the run's DP noise and batch streams (``RunStreams(seed=..., name=...)``: one
        name per run of a sweep); None draws a fresh key from the OS.
      attacks: membership-inference attacks to run (members: training examples; non-members:
        the evaluation set), each side at most ``attack_examples``, balanced; () for none.
    """
    keras.utils.set_random_seed(seed)
    model = build_model()
    x_eval, y_eval, g_eval = split.eval.as_float(), split.eval.y, split.groups("eval")
    steps = train.epochs * (len(split.train) // train.batch_size)
    curve = GroupAccuracyCurve(x_eval, y_eval, g_eval, every_steps=max(1, steps // max(1, curve_points)),
                               group_names=group_names)
    run = train_classifier(model, split.train.as_float(), split.train.y, dp=dp, train=train,
                           streams=streams if streams is not None else RunStreams(), checkpoint_dir=checkpoint_dir,
                           resume=resume, callbacks=[curve], verbose=verbose)
    logits = model.predict(x_eval, batch_size=500, verbose=0)
    y_pred = np.argmax(logits, axis=-1)
    names = np.array([group_names.get(int(g), str(g)) for g in g_eval])
    report = fairness_report(y_true=y_eval, y_pred=y_pred, sensitive_features=names,
                             majority=group_names.get(split.majority_value, str(split.majority_value)),
                             n_resamples=bootstrap_resamples, seed=seed)
    membership = None
    if attacks:
        from tfdpfair.evaluation.membership import attack_summary

        membership = attack_summary(model, members=(split.train.as_float(), split.train.y),
                                    non_members=(x_eval, y_eval), attacks=attacks, max_examples=attack_examples,
                                    member_groups=np.array([group_names.get(int(g), str(g))
                                                            for g in split.groups("train")]),
                                    non_member_groups=names, seed=seed)
    return GroupRun(fairness=report, curve=list(curve.records), training=run, membership=membership)
