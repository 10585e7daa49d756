"""Learning curves: measurements of a model every N optimizer steps during training.

``StepCurve`` is the Keras callback that counts steps (continuing across a resume) and
calls its ``_record`` every ``every_steps`` steps and at the end; subclasses say what a
record holds. ``GroupAccuracyCurve`` records overall and per-group accuracy on an
evaluation set (Farrand et al. 2020, Figures 3–4: the overall / female / male evaluation
sets vs training step). A curve only reads the model: evaluating on held-out data spends
no privacy budget.
"""
from __future__ import annotations

from typing import Dict, Hashable, List, Optional, Sequence

import numpy as np

from tfdpfair.compat import keras
from tfdpfair.errors import InputError
from tfdpfair.evaluation.fairness import group_accuracy


class StepCurve(keras.callbacks.Callback):
    """Calls ``_record`` every ``every_steps`` (≥ 1) optimizer steps, after the last step and, with
    ``at_start``, before the first; ``records`` (one dict per call, ``step`` included) and the
    step count survive a resume through ``checkpoint_state`` / ``restore_checkpoint_state``."""

    def __init__(self, *, every_steps: int, at_start: bool = False) -> None:
        super().__init__()
        if every_steps < 1:
            raise InputError(f"every_steps must be >= 1, got {every_steps}")
        self.every_steps, self.at_start = every_steps, at_start
        self.step = 0
        self.records: List[dict] = []

    def _record(self) -> None:
        raise NotImplementedError

    def on_train_begin(self, logs=None) -> None:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:  # a resumed run continues the step count
            self.step = int(optimizer.iterations.numpy())
        if self.at_start and not self.records and self.step == 0:
            self._record()

    def on_train_batch_end(self, batch, logs=None) -> None:
        self.step += 1
        if self.step % self.every_steps == 0:
            self._record()

    def on_train_end(self, logs=None) -> None:
        if not self.records or self.records[-1]["step"] != self.step:
            self._record()

    def checkpoint_state(self) -> dict:
        """What ``EpochCheckpoint`` saves, so that a resumed run keeps the curve recorded so far."""
        return {"step": self.step, "records": self.records}

    def restore_checkpoint_state(self, state: dict) -> None:
        self.step = int(state["step"])
        self.records = [dict(r) for r in state["records"]]

    def series(self, key: str) -> Sequence[float]:
        """One recorded quantity over the evaluations (e.g. ``"accuracy[male]"``)."""
        return [r[key] for r in self.records]


class GroupAccuracyCurve(StepCurve):
    """Record accuracy on (x, y) overall and per group every ``every_steps`` training steps.

    Args:
      x: evaluation inputs (float, as the model takes them).
      y: labels, integers (the model outputs logits or probabilities over classes).
      groups: group of each example (e.g. 0 = female, 1 = male).
      every_steps: evaluate after every this many optimizer steps (≥ 1); also after the
        last step of training and, with ``at_start``, before the first.
      group_names: display names per group value, e.g. {0: "female", 1: "male"}.
      batch_size: evaluation batch size.

    ``records`` holds one dict per evaluation: ``step``, ``accuracy`` and
    ``accuracy[<name>]`` per group, accuracies in [0, 1].
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray, *, every_steps: int,
                 group_names: Optional[Dict[Hashable, str]] = None, batch_size: int = 500,
                 at_start: bool = True) -> None:
        super().__init__(every_steps=every_steps, at_start=at_start)
        if not len(x) == len(y) == len(groups):
            raise ValueError(f"x, y and groups differ in length: {len(x)}, {len(y)}, {len(groups)}")
        self.x, self.y, self.groups = x, np.asarray(y), np.asarray(groups)
        self.group_names = dict(group_names or {})
        self.batch_size = batch_size

    def _predict(self) -> np.ndarray:
        out = [np.argmax(self.model(self.x[i:i + self.batch_size], training=False), axis=-1)
               for i in range(0, len(self.x), self.batch_size)]
        return np.concatenate(out)

    def _record(self) -> None:
        pred = self._predict()
        record = {"step": self.step, "accuracy": float(np.mean(pred == self.y))}
        for group, acc in group_accuracy(y_true=self.y, y_pred=pred, sensitive_features=self.groups).items():
            record[f"accuracy[{self.group_names.get(group, group)}]"] = acc
        self.records.append(record)


def curve_gap(records: Sequence[dict], *, majority: str, minority: str) -> List[tuple]:
    """[(step, accuracy[majority] − accuracy[minority])] from ``GroupAccuracyCurve.records``."""
    return [(r["step"], r[f"accuracy[{majority}]"] - r[f"accuracy[{minority}]"]) for r in records]
