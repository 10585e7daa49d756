"""Training engines: DP (and non-private) classifier training, early stopping on a held-out split, DP-GAN training,
adversarial training (``tfdpfair.training.adversarial``: PGD, PGD-AT, TRADES, DeMem).

The configs import no TensorFlow; the engines are loaded on first use.
"""
from tfdpfair.training.config import GANTrainConfig, TrainConfig

_LAZY = {"TrainingRun": "tfdpfair.training.classifier", "compile_for_training": "tfdpfair.training.classifier",
         "evaluate_accuracy": "tfdpfair.training.classifier", "train_classifier": "tfdpfair.training.classifier",
         "train_gan": "tfdpfair.training.gan", "DPGAN": "tfdpfair.training.gan",
         "EarlyStopping": "tfdpfair.training.early_stopping"}


def __getattr__(name):  # the engines import TensorFlow: load them on first use
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfdpfair.training' has no attribute {name!r}")


__all__ = ["DPGAN", "EarlyStopping", "GANTrainConfig", "TrainConfig", "TrainingRun", "compile_for_training", "evaluate_accuracy",
           "train_classifier", "train_gan"]
