"""``DPConfig``: the frozen description of one DP-SGD mechanism (no TensorFlow here)."""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

from tfdpfair.privacy.accounting import ACCOUNTINGS, CONVERSIONS, PrivacyConfigError

# The DP-GAN discriminator's policies (``tfdpfair.privacy.discriminator``).
POLICIES = ("separate", "real_only", "joint")


@dataclasses.dataclass(frozen=True)
class DPConfig:
    """How per-example gradients are privatised, and the budget they may spend.

    Attributes:
      l2_norm_clip: C, the L2 norm every per-example (or per-microbatch) gradient is
        clipped to; > 0.
      noise_multiplier: σ; Gaussian noise of std σ·C is added once per step to the
        clipped sum; ≥ 0 (0 means clipping without noise: not private).
      num_microbatches: None = one microbatch per example (per-example clipping, the
        setting the accounting assumes); an integer splits each batch into that many
        microbatches whose mean gradients are clipped.
      delta: δ of the (ε, δ) guarantee, in (0, 1).
      target_epsilon: if set, training stops before the step that would exceed it.
      accounting: ``"rdp"`` (default) or ``"pld"``; the tight ε uses it.
      budget_conversion: which ε ``target_epsilon`` is compared against:
        ``"tight"`` (default) or ``"classic"`` (how most papers stated their ε).
      enabled: False for the non-private baseline (see ``disabled()``).
    """

    l2_norm_clip: float = 1.0
    noise_multiplier: float = 1.1
    num_microbatches: Optional[int] = None
    delta: float = 1e-5
    target_epsilon: Optional[float] = None
    accounting: str = "rdp"
    budget_conversion: str = "tight"
    enabled: bool = True

    def __post_init__(self) -> None:
        for name in ("l2_norm_clip", "noise_multiplier", "delta"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise PrivacyConfigError(f"{name} must be a finite number, got {value!r}.")
        if not self.l2_norm_clip > 0:
            raise PrivacyConfigError(f"l2_norm_clip must be > 0, got {self.l2_norm_clip}.")
        if self.noise_multiplier < 0:
            raise PrivacyConfigError(f"noise_multiplier must be >= 0, got {self.noise_multiplier}.")
        if self.num_microbatches is not None and self.num_microbatches < 1:
            raise PrivacyConfigError(f"num_microbatches must be None or >= 1, got {self.num_microbatches}.")
        if not 0 < self.delta < 1:
            raise PrivacyConfigError(f"delta must be in (0, 1), got {self.delta}.")
        if self.target_epsilon is not None and not (self.target_epsilon > 0 and math.isfinite(self.target_epsilon)):
            raise PrivacyConfigError(f"target_epsilon must be None or a finite number > 0, got {self.target_epsilon}.")
        if self.accounting not in ACCOUNTINGS:
            raise PrivacyConfigError(f"accounting must be one of {ACCOUNTINGS}, got {self.accounting!r}.")
        if self.budget_conversion not in CONVERSIONS:
            raise PrivacyConfigError(
                f"budget_conversion must be one of {CONVERSIONS}, got {self.budget_conversion!r}."
            )

    def disabled(self) -> "DPConfig":
        """The same config with DP switched off: the non-private baseline."""
        return dataclasses.replace(self, enabled=False)
