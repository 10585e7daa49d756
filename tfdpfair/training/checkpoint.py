"""Per-epoch checkpoints for ``--resume``: everything a resumed run needs to equal an uninterrupted one.

One TensorFlow checkpoint per epoch holds, as one unit (``tf.train.CheckpointManager``
switches to a new checkpoint only once it is completely written, so a kill at any
moment leaves the previous one intact):

* the model and its optimizer — for a ``PrivateModel`` / ``DPGAN`` that includes the
  noise keys and the DP step counter, so the noise stream continues, never restarts;
* the epoch, the DP steps charged to the accountant, the training seconds so far;
* the Keras history and the state of callbacks that keep some (``checkpoint_state()``
  / ``restore_checkpoint_state(state)``), e.g. learning curves and per-epoch samples;
* the root of the run's random streams when it was drawn from the OS (``seed=None``).
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Optional, Sequence

import tensorflow as tf

from tfdpfair import serialization
from tfdpfair.compat import checkpoint_extras, keras, variables_signature
from tfdpfair.errors import InputError


class CheckpointMismatchError(InputError):
    """The checkpoint was written for another network (or by an older tfdpfair): it cannot be resumed."""


@dataclasses.dataclass(frozen=True)
class Restored:
    """What ``EpochCheckpoint.restore`` returns.

    Attributes:
      epoch: epochs completed.
      dp_steps: DP steps charged to the accountant.
      history: Keras history so far (metric → per-epoch values).
      seconds: training seconds spent before this process.
      entropy: the random streams' root (``RunStreams.entropy``) when it came from the OS, else None.
    """

    epoch: int
    dp_steps: int
    history: dict
    seconds: float
    entropy: Optional[int]


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the model (with its optimizer and streams), epoch, DP step count, history and callback state each epoch.

    Args:
      directory: where the checkpoints go (created on the first save).
      budget: the run's ``PrivacyBudget`` (its step count is saved), or None.
      stateful: callbacks whose ``checkpoint_state()`` is saved and given back to their
        ``restore_checkpoint_state`` on restore (in order).
      entropy: the streams' OS-drawn root to keep (``RunStreams.entropy`` when ``seed`` is None).
    """

    def __init__(self, directory: Path, *, budget=None, stateful: Sequence = (), entropy: Optional[int] = None):
        super().__init__()
        self.directory = Path(directory)
        self.budget = budget
        self.stateful = list(stateful)
        self.entropy = entropy
        self.history: dict = {}
        self.seconds_before = 0.0
        self._started = None
        self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._dp_steps = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._state = tf.Variable("", dtype=tf.string, trainable=False)
        self._arrays = tf.Variable(b"", dtype=tf.string, trainable=False)
        self._manager = None

    def _checkpoint_manager(self, model) -> tf.train.CheckpointManager:
        if self._manager is None:
            ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer, epoch=self._epoch,
                                       dp_steps=self._dp_steps, state=self._state, arrays=self._arrays,
                                       **checkpoint_extras(model))
            self._manager = tf.train.CheckpointManager(ckpt, str(self.directory), max_to_keep=1)
        return self._manager

    def exists(self) -> bool:
        """True when ``directory`` holds a checkpoint to resume from."""
        return tf.train.latest_checkpoint(str(self.directory)) is not None

    def restore(self, model) -> Restored:
        """Load the latest checkpoint into ``model`` (build its weights and optimizer slots first)."""
        manager = self._checkpoint_manager(model)
        if manager.latest_checkpoint is None:
            raise FileNotFoundError(f"--resume: no checkpoint in {self.directory}")
        def mismatch(why: str) -> CheckpointMismatchError:
            return CheckpointMismatchError(
                f"the checkpoint in {self.directory} does not fit this model ({why}): it was written for another "
                "network or by an older tfdpfair; start a new run instead of --resume")

        try:  # every variable this run has (weights, optimizer slots, noise keys, step counters) must come back
            manager.checkpoint.restore(manager.latest_checkpoint).expect_partial().assert_existing_objects_matched()
        except (AssertionError, ValueError) as err:  # unmatched variables; a saved tensor of another shape
            raise mismatch(str(err).splitlines()[0][:200]) from err
        state = serialization.unpack(self._state.numpy().decode(), self._arrays.numpy())
        saved = state.get("signature")  # absent in checkpoints of tfdpfair before 2026-11-27
        if saved is not None and list(saved) != variables_signature(model):
            raise mismatch(f"{len(saved)} saved variables, {len(model.variables)} here, or other shapes")
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.seconds_before = float(state["seconds"])
        if len(state["callbacks"]) != len(self.stateful):  # states pair with callbacks by position
            raise mismatch(f"{len(state['callbacks'])} saved callback states, {len(self.stateful)} callbacks keep "
                           "state here")
        for callback, callback_state in zip(self.stateful, state["callbacks"]):
            callback.restore_checkpoint_state(callback_state)
        entropy = state.get("entropy")
        if entropy is not None:  # later checkpoints keep the run's original OS root, not this process's
            self.entropy = int(entropy)
        return Restored(epoch=int(self._epoch.numpy()), dp_steps=int(self._dp_steps.numpy()),
                        history={k: list(v) for k, v in self.history.items()}, seconds=self.seconds_before,
                        entropy=None if entropy is None else int(entropy))

    @property
    def seconds(self) -> float:
        """Training seconds so far, earlier processes included."""
        return self.seconds_before + (time.perf_counter() - self._started if self._started is not None else 0.0)

    def on_train_begin(self, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        state = {"history": self.history, "seconds": self.seconds,
                 "callbacks": [c.checkpoint_state() for c in self.stateful],
                 "entropy": None if self.entropy is None else str(self.entropy),
                 "signature": variables_signature(self.model)}
        text, arrays = serialization.pack(state)
        self._state.assign(text)
        self._arrays.assign(arrays)
        self._epoch.assign(epoch + 1)
        self._dp_steps.assign(self.budget.steps if self.budget is not None else 0)
        self._checkpoint_manager(self.model).save()

    def on_train_end(self, logs=None):
        self.seconds_before = self.seconds
        self._started = None
