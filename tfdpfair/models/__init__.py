"""Keras model zoo: ``get(name, **kwargs) -> keras.Model`` and ``names()``. Builders only, no training."""
from tfdpfair.models import classifiers, gans, resnets  # noqa: F401  (registers the builders)
from tfdpfair.models.registry import get, names, register

__all__ = ["get", "names", "register"]
