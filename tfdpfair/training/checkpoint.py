"""Per-epoch checkpoints of model, optimizer, epoch, DP step count and history, for ``--resume``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Tuple

import tensorflow as tf


class EpochCheckpoint(tf.keras.callbacks.Callback):
    """Saves ``model`` (with its optimizer), the epoch, the DP step count and the history each epoch.

    ``restore()`` puts them back, so that a resumed run charges the accountant only
    for the steps it has not taken yet.
    """

    def __init__(self, directory: Path, *, budget=None, history: Optional[dict] = None):
        super().__init__()
        self.directory = Path(directory)
        self.budget = budget
        self.history = {k: list(v) for k, v in (history or {}).items()}
        self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._dp_steps = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._manager = None

    def _checkpoint_manager(self, model) -> tf.train.CheckpointManager:
        if self._manager is None:
            ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer, epoch=self._epoch,
                                       dp_steps=self._dp_steps)
            self._manager = tf.train.CheckpointManager(ckpt, str(self.directory), max_to_keep=1)
        return self._manager

    def restore(self, model) -> Tuple[int, int, dict]:
        """Load the latest checkpoint into ``model``; returns (epochs done, DP steps taken, history)."""
        manager = self._checkpoint_manager(model)
        if manager.latest_checkpoint is None:
            raise FileNotFoundError(f"--resume: no checkpoint in {self.directory}")
        manager.checkpoint.restore(manager.latest_checkpoint).expect_partial()
        history_file = self.directory / "history.json"
        self.history = json.loads(history_file.read_text()) if history_file.exists() else {}
        return int(self._epoch.numpy()), int(self._dp_steps.numpy()), {k: list(v) for k, v in self.history.items()}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self._epoch.assign(epoch + 1)
        self._dp_steps.assign(self.budget.steps if self.budget is not None else 0)
        self._checkpoint_manager(self.model).save()
        (self.directory / "history.json").write_text(json.dumps(self.history))
