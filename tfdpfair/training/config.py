"""Training configs: frozen dataclasses, validated on construction (no TensorFlow here, so scripts can check
their flags before importing it)."""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from tfdpfair import validation
from tfdpfair.privacy.config import POLICIES

OPTIMIZERS = ("sgd", "adam")
BACKENDS = ("tfdpfair", "dp_model", "dp_optimizer")  # the last two: TF Privacy (tfdpfair.privacy.tfp)
SAMPLINGS = ("shuffle", "poisson")
LOSSES = ("categorical", "binary")  # one class per example (integer labels) / several binary attributes (0/1 rows)


def _check_int(value, name: str, minimum: int) -> None:
    validation.integer(value, name, minimum=minimum)


def _check_float(value, name: str) -> None:
    validation.number(value, name)


def _check_positive(value, name: str) -> None:
    validation.number(value, name, positive=True)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by private and non-private runs.

    Attributes:
      batch_size: examples per step — the logical batch, and the expected batch size of
        the accounting (q = batch_size / N); ≥ 1.
      epochs: passes over the training set; ≥ 1 (a target ε may stop earlier).
      learning_rate: optimizer step size, > 0.
      optimizer: ``sgd`` or ``adam``.
      backend: ``tfdpfair`` (default), or TF Privacy's ``dp_model`` / ``dp_optimizer``
        (these two support none of the options below).
      physical_batch_size: examples per vectorized chunk of a logical batch (memory
        bound); None = the whole batch at once.
      augmentation_multiplicity: K > 1 trains on K random crop + flip copies per example,
        gradients averaged per example before clipping; 1 = off.
      sam_radius: ρ ≥ 0 of SAM (non-private) / DP-SAT (private); 0 = off.
      ema_decay: if set, in (0, 1): keep an exponential moving average of the weights
        and evaluate (and save) the averaged weights after training.
      sampling: ``shuffle`` (reshuffled fixed-size batches) or ``poisson`` (each example
        in each step independently with probability q, as the accountant assumes).
      loss: ``categorical`` (integer labels, softmax cross-entropy on logits) or ``binary``
        (multi-label: 0/1 rows, sigmoid cross-entropy on each logit, averaged per example).
      momentum: SGD momentum in [0, 1) (0 = plain SGD; ``sgd`` only).
      weight_decay: ≥ 0; each step also shrinks every weight by learning rate × weight_decay
        (Keras' decoupled decay; data-independent, so it costs no privacy). 0 = off.
      lr_decay_at: fractions of training in (0, 1), ascending, at which the learning rate is
        multiplied by ``lr_decay_factor`` (e.g. ``(0.75,)`` with 0.1: × 0.1 after 75 % of the
        epochs); () = constant.
      lr_decay_factor: in (0, 1].
    """

    batch_size: int = 250
    epochs: int = 15
    learning_rate: float = 0.25
    optimizer: str = "sgd"
    backend: str = "tfdpfair"
    physical_batch_size: Optional[int] = None
    augmentation_multiplicity: int = 1
    sam_radius: float = 0.0
    ema_decay: Optional[float] = None
    sampling: str = "shuffle"
    loss: str = "categorical"
    momentum: float = 0.0
    weight_decay: float = 0.0
    lr_decay_at: Tuple[float, ...] = ()
    lr_decay_factor: float = 0.1

    def __post_init__(self) -> None:
        _check_int(self.batch_size, "batch_size", 1)
        _check_int(self.epochs, "epochs", 1)
        _check_positive(self.learning_rate, "learning_rate")
        _check_float(self.sam_radius, "sam_radius")
        for value, allowed, what in ((self.optimizer, OPTIMIZERS, "optimizer"), (self.backend, BACKENDS, "backend"),
                                     (self.sampling, SAMPLINGS, "sampling"), (self.loss, LOSSES, "loss")):
            if value not in allowed:
                raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")
        if self.physical_batch_size is not None and self.physical_batch_size < 1:
            raise ValueError(f"physical_batch_size must be None or >= 1, got {self.physical_batch_size}")
        if self.augmentation_multiplicity < 1 or self.sam_radius < 0:
            raise ValueError("augmentation_multiplicity must be >= 1 and sam_radius >= 0")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ValueError(f"ema_decay must be None or in (0, 1), got {self.ema_decay}")
        _check_float(self.momentum, "momentum")
        _check_float(self.weight_decay, "weight_decay")
        _check_float(self.lr_decay_factor, "lr_decay_factor")
        if not 0 <= self.momentum < 1 or (self.momentum and self.optimizer != "sgd"):
            raise ValueError(f"momentum must be in [0, 1), and only with optimizer 'sgd'; got {self.momentum} "
                             f"with {self.optimizer!r}")
        if self.weight_decay < 0 or not 0 < self.lr_decay_factor <= 1:
            raise ValueError(f"weight_decay must be >= 0 and lr_decay_factor in (0, 1]; got {self.weight_decay}, "
                             f"{self.lr_decay_factor}")
        decay = tuple(self.lr_decay_at)
        if not all(isinstance(f, (int, float)) and 0 < f < 1 for f in decay) or list(decay) != sorted(set(decay)):
            raise ValueError(f"lr_decay_at must be ascending fractions in (0, 1), got {self.lr_decay_at}")
        if self.backend != "tfdpfair" and (self.physical_batch_size or self.augmentation_multiplicity > 1
                                           or self.sam_radius or self.ema_decay or self.sampling != "shuffle"
                                           or self.momentum or self.weight_decay or decay):
            raise ValueError(f"backend {self.backend!r} supports none of physical_batch_size, "
                             "augmentation_multiplicity, sam_radius, ema_decay, poisson sampling, momentum, "
                             "weight_decay, lr_decay_at; use 'tfdpfair'")



@dataclasses.dataclass(frozen=True)
class GANTrainConfig:
    """How a (DP-)GAN is trained.

    Attributes:
      batch_size: real (and fake) examples per discriminator step; q = batch_size / N.
      max_steps: generator steps at most (the target ε may stop training earlier).
      d_steps: discriminator steps per generator step, each on fresh real data.
      learning_rate / learning_rate_after / decay_step: SGD learning rate of both networks,
        ``learning_rate`` until discriminator step ``decay_step``, then ``learning_rate_after``
        (DP-CGAN: 0.15 → 0.052 at 10K).
      g_optimizer: ``sgd`` (same schedule as the discriminator) or ``adam``.
      g_learning_rate / g_beta_1: Adam's step size and β1 for the generator (2e-4 and 0.5, the
        DCGAN tutorial's; DP-CGAN's code uses Keras' defaults 1e-3 and 0.9).
      policy: discriminator policy, see ``tfdpfair.privacy.discriminator``.
      latent_dim: size of the generator's noise input.
    """

    batch_size: int = 600
    max_steps: int = 30000
    d_steps: int = 1
    learning_rate: float = 0.15
    learning_rate_after: float = 0.052
    decay_step: int = 10000
    g_optimizer: str = "sgd"
    g_learning_rate: float = 2e-4
    g_beta_1: float = 0.5
    policy: str = "separate"
    latent_dim: int = 100

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_steps", "d_steps", "latent_dim"):
            _check_int(getattr(self, name), name, 1)
        _check_int(self.decay_step, "decay_step", 0)
        for name in ("learning_rate", "learning_rate_after", "g_learning_rate"):
            _check_positive(getattr(self, name), name)
        _check_float(self.g_beta_1, "g_beta_1")
        if self.policy not in POLICIES:
            raise ValueError(f"unknown discriminator policy {self.policy!r}; choose one of {', '.join(POLICIES)}")
        if self.g_optimizer not in ("sgd", "adam"):
            raise ValueError(f"g_optimizer must be 'sgd' or 'adam', got {self.g_optimizer!r}")
        if not self.g_learning_rate > 0 or not 0 <= self.g_beta_1 < 1:
            raise ValueError(f"g_learning_rate must be > 0 and g_beta_1 in [0, 1), got {self.g_learning_rate}, "
                             f"{self.g_beta_1}")
