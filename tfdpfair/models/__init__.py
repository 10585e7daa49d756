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


def load(path):
    """A ``.keras`` model from a file, in Keras's safe mode (no Lambda deserialization: files are data, not code).

    Our zoo's custom layers are registered first. A missing, wrong-format or unreadable
    file raises ``InputError`` with one line saying why.
    """
    from pathlib import Path

    from tfdpfair.errors import InputError

    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"{path} is not a file; want a model saved with model.save('name.keras')")
    if path.suffix != ".keras":
        raise InputError(f"{path}: only Keras v3 '.keras' files are read (safe mode); re-save the model with "
                         "model.save('name.keras')")
    _load_builders()
    from tfdpfair.compat import keras

    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # Keras raises many types for a bad file
        raise InputError(f"{path} cannot be loaded as a Keras model ({type(err).__name__}: {err})") from None


__all__ = ["ZOO", "UnknownModelError", "check_name", "get", "known_names", "load", "names", "register"]
