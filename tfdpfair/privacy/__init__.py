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

_LAZY = {"make_private": "tfdpfair.privacy.private_model", "PrivateModel": "tfdpfair.privacy.private_model",
         "PrivacyBudget": "tfdpfair.privacy.callbacks"}


def __getattr__(name):  # the Keras pieces import TensorFlow: load them on first use
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfdpfair.privacy' has no attribute {name!r}")


__all__ = [
    "DPConfig",
    "PrivacyBudget",
    "PrivateModel",
    "make_private",
    "PrivacySpend",
    "compute_epsilon",
    "max_steps_within_budget",
    "noise_multiplier_for_epsilon",
    "privacy_spend",
    "steps_from_epochs",
]
