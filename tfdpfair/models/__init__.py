"""Keras model zoo: ``get(name, **kwargs) -> keras.Model`` and ``names()``. Builders only, no training.

Importing this package is cheap: the builders (and TensorFlow) load on the first ``get``
or ``names``; ``check_name`` validates a name without them.
"""
from tfdpfair.models import registry
from tfdpfair.models.registry import ZOO, UnknownModelError, check_name, known_names, register


def _load_builders() -> None:
    from tfdpfair.models import classifiers, gans, resnets  # noqa: F401  (registers the builders)


def get(name: str, **kwargs):
    """Build the zoo model ``name`` with ``kwargs``; unknown names raise ``UnknownModelError`` listing the known ones."""
    _load_builders()
    return registry.get(name, **kwargs)


def names() -> list:
    """Registered model names, sorted."""
    _load_builders()
    return registry.names()


__all__ = ["ZOO", "UnknownModelError", "check_name", "get", "known_names", "names", "register"]
