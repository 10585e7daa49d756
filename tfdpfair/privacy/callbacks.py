"""``PrivacyBudget``: a Keras callback that counts DP steps, logs ε and enforces a target ε."""
from __future__ import annotations

from typing import Optional


from tfdpfair.errors import InputError
from tfdpfair.privacy import accounting
from tfdpfair.privacy.config import DPConfig
from tfdpfair.compat import keras, steps_per_execution


class BudgetExhaustedError(InputError, RuntimeError):
    """Training was asked to continue although the next step would exceed the target ε."""


class PrivacyBudget(keras.callbacks.Callback):
    """Counts noisy steps, records ε (tight and classic) in the history, stops before overspending.

    Every training batch is ``steps_per_batch`` DP steps (usually one) at sampling rate q,
    charged at each ``on_train_batch_end``. When ``dp.target_epsilon`` is
    set, training stops after the last step T with ε(T) ≤ target (the conversion is
    ``dp.budget_conversion``): it never takes a step that would exceed the target.
    Each epoch's logs gain ``epsilon``, ``epsilon_classic`` and ``dp_steps``.

    Args:
      dp: the mechanism (σ, δ, target ε, accounting).
      sampling_rate: q = batch size / number of training examples.
      initial_steps: steps already taken (when resuming from a checkpoint).
      steps_per_batch: DP steps in one ``fit`` batch (a GAN taking k discriminator steps,
        each on its own slice of real data, per batch); training stops before the batch
        whose steps would exceed the target.
    """

    def __init__(self, *, dp: DPConfig, sampling_rate: float, initial_steps: int = 0, steps_per_batch: int = 1):
        super().__init__()
        if steps_per_batch < 1:
            raise ValueError(f"steps_per_batch must be >= 1, got {steps_per_batch}")
        self.dp = dp
        self.sampling_rate = float(sampling_rate)
        self.steps = int(initial_steps)
        self.steps_per_batch = int(steps_per_batch)
        self.stopped_by_budget = False
        self.max_steps: Optional[int] = None
        if dp.target_epsilon is not None:
            self.max_steps = accounting.max_steps_within_budget(
                sampling_rate=self.sampling_rate, noise_multiplier=dp.noise_multiplier,
                target_epsilon=dp.target_epsilon, delta=dp.delta, accounting=dp.accounting,
                conversion=dp.budget_conversion,
            )

    def remaining_steps(self) -> Optional[int]:
        """Steps still allowed by the target ε (None when there is no target)."""
        return None if self.max_steps is None else max(self.max_steps - self.steps, 0)

    def spend(self) -> accounting.PrivacySpend:
        """ε (tight and classic) of the steps taken so far."""
        return accounting.privacy_spend(
            sampling_rate=self.sampling_rate, noise_multiplier=self.dp.noise_multiplier, steps=self.steps,
            delta=self.dp.delta, accounting=self.dp.accounting,
        )

    def on_train_begin(self, logs=None):
        if steps_per_execution(self.model) != 1:
            raise ValueError("PrivacyBudget counts one DP step per batch: compile with steps_per_execution=1")
        if self.remaining_steps() is not None and self.remaining_steps() < self.steps_per_batch:
            raise BudgetExhaustedError(
                f"the target epsilon {self.dp.target_epsilon} allows {self.max_steps} steps and "
                f"{self.steps} were taken; raise target_epsilon or the noise multiplier"
            )

    def on_train_batch_end(self, batch, logs=None):
        self.steps += self.steps_per_batch
        if self.max_steps is not None and self.steps + self.steps_per_batch > self.max_steps:
            self.model.stop_training = True
            self.stopped_by_budget = True

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            spend = self.spend()
            logs["epsilon"] = spend.epsilon
            logs["epsilon_classic"] = spend.epsilon_classic
            logs["dp_steps"] = self.steps
