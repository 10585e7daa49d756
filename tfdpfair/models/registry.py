"""The model-zoo registry: ``register`` builders by name, ``get`` fails loudly on unknown names."""
from __future__ import annotations

from typing import Callable, Dict

from tfdpfair.errors import InputError

_BUILDERS: Dict[str, Callable] = {}
# The zoo's names, known without importing the builders (TensorFlow), so configs can check a name
# before a script imports TensorFlow; tests/models/test_registry.py keeps it equal to ``names()``.
ZOO = ("cgan_discriminator", "cgan_generator", "dcgan_discriminator", "dcgan_generator", "logistic", "mlp",
       "resnet18", "resnet50", "wincott_cnn", "wrn", "wrn16_4", "wrn28_10")


class UnknownModelError(InputError, KeyError):
    """A model name that is not in the zoo (the message lists the known ones)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def known_names() -> list:
    """The zoo's names plus any registered since (no TensorFlow import needed)."""
    return sorted(set(ZOO) | set(_BUILDERS))


def check_name(name: str) -> None:
    """Raise ``UnknownModelError`` unless ``name`` is a zoo (or registered) model."""
    if name not in known_names():
        raise UnknownModelError(f"unknown model {name!r}; known models: {', '.join(known_names())}")


def register(name: str) -> Callable[[Callable], Callable]:
    """Decorator: make ``builder(**kwargs) -> keras.Model`` available as ``get(name, **kwargs)``."""

    def decorate(builder: Callable) -> Callable:
        if name in _BUILDERS:
            raise ValueError(f"model {name!r} is already registered")
        _BUILDERS[name] = builder
        return builder

    return decorate


def names() -> list:
    """Registered model names, sorted."""
    return sorted(_BUILDERS)


def get(name: str, **kwargs):
    """Build the model ``name`` with ``kwargs``; unknown names raise ``KeyError`` listing the known ones."""
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise UnknownModelError(f"unknown model {name!r}; known models: {', '.join(names())}") from None
    return builder(**kwargs)
