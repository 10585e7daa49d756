"""The model-zoo registry: ``register`` builders by name, ``get`` fails loudly on unknown names."""
from __future__ import annotations

from typing import Callable, Dict

_BUILDERS: Dict[str, Callable] = {}


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
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(names())}") from None
    return builder(**kwargs)
