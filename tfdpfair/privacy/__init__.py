"""Privacy: accounting (ε, noise calibration), DP configs, DP Keras training, budget callbacks.

``accounting`` and ``config`` import no TensorFlow; the Keras pieces are loaded
on first use so that ``tfdpfair epsilon`` stays fast.
"""
from tfdpfair.privacy.accounting import (
    PrivacySpend,
    compute_epsilon,
    max_steps_within_budget,
    noise_multiplier_for_epsilon,
    privacy_spend,
    steps_from_epochs,
)
from tfdpfair.privacy.config import DPConfig

__all__ = [
    "DPConfig",
    "PrivacySpend",
    "compute_epsilon",
    "max_steps_within_budget",
    "noise_multiplier_for_epsilon",
    "privacy_spend",
    "steps_from_epochs",
]
