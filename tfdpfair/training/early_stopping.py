"""Early stopping on a held-out split carved from the training data (never the test set).

``EarlyStopping(x_val, y_val, patience=...)`` measures accuracy on the held-out split after
every epoch (logged as ``heldout_accuracy``), stops when it has not improved by more than
``min_delta`` for ``patience`` epochs, and at the end puts back the weights of the best
epoch. Its state (best accuracy and epoch, epochs waited, best weights, whether it
stopped) goes into ``train_classifier``'s checkpoints, so a resumed run stops exactly where
an uninterrupted one would, and a run that had stopped is not trained further.

For non-private training only: the held-out accuracy is a function of the data and the
early-stopping decision is not privatized.
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from tfdpfair.compat import keras
from tfdpfair.errors import InputError


class EarlyStopping(keras.callbacks.Callback):
    """Stop when held-out accuracy stalls; restore the best epoch's weights (see the module docstring).

    Args:
      x, y: the held-out split (float images in [0, 1], integer labels).
      patience: epochs without improvement before stopping, ≥ 1.
      min_delta: the accuracy gain (in [0, 1)) that counts as an improvement.
      restore_best: put back the best epoch's weights when training ends (not with an
        optimizer weight average, which it would discard).
      batch_size: evaluation batch size.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, *, patience: int = 5, min_delta: float = 0.0,
                 restore_best: bool = True, batch_size: int = 1000):
        super().__init__()
        if patience < 1 or not 0 <= min_delta < 1:
            raise InputError(f"patience must be >= 1 and min_delta in [0, 1), got {patience} and {min_delta}")
        if len(x) == 0 or len(x) != len(y):
            raise InputError(f"the held-out split needs as many labels as images, and at least one; got {len(x)} "
                             f"images and {len(y)} labels")
        self.x, self.y = x, np.asarray(y).reshape(-1)
        self.patience, self.min_delta, self.restore_best, self.batch_size = patience, min_delta, restore_best, batch_size
        self.best: float = -np.inf
        self.best_epoch: Optional[int] = None
        self.wait = 0
        self.stopped_epoch: Optional[int] = None
        self.best_weights: Optional[List[np.ndarray]] = None

    @property
    def finished(self) -> bool:
        """Whether training has been stopped by this callback (a resumed run then trains no further)."""
        return self.stopped_epoch is not None

    def _network(self):
        return getattr(self.model, "model", self.model)  # make_private's wrapper shares the wrapped model's weights

    def accuracy(self) -> float:
        """Accuracy of the current weights on the held-out split, in [0, 1]."""
        logits = self._network().predict(self.x, batch_size=self.batch_size, verbose=0)
        return float(np.mean(np.argmax(logits, axis=-1) == self.y))

    def on_train_begin(self, logs=None):
        if self.restore_best and getattr(self.model.optimizer, "use_ema", False):
            raise InputError("early stopping would restore one epoch's raw weights and discard the weight average: "
                             "pass restore_best=False when training with ema_decay")

    def on_epoch_end(self, epoch, logs=None):
        accuracy = self.accuracy()
        if logs is not None:
            logs["heldout_accuracy"] = accuracy
        if accuracy > self.best + self.min_delta:
            self.best, self.best_epoch, self.wait = accuracy, epoch, 0
            if self.restore_best:
                self.best_weights = [np.array(w) for w in self._network().get_weights()]
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best and self.best_weights is not None:
            self._network().set_weights(self.best_weights)

    def checkpoint_state(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def restore_checkpoint_state(self, state: dict) -> None:
        self.best, self.best_epoch, self.wait = float(state["best"]), state["best_epoch"], int(state["wait"])
        self.stopped_epoch = state["stopped_epoch"]
        weights = state["best_weights"]
        self.best_weights = None if weights is None else [np.asarray(w) for w in weights]
