"""Training engines: DP (and non-private) classifier training; GAN and adversarial training come later."""
from tfdpfair.training.classifier import TrainConfig, TrainingRun, compile_for_training, evaluate_accuracy, train_classifier

__all__ = ["TrainConfig", "TrainingRun", "compile_for_training", "evaluate_accuracy", "train_classifier"]
