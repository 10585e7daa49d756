"""Checks for config fields, raising ``ValueError`` with the field's name (no TensorFlow here).

Config dataclasses call them in ``__post_init__``; ``--set`` turns the message into one
line and exit status 2.
"""
from __future__ import annotations

import math
from typing import Iterable, Optional, Sequence


def integer(value, name: str, *, minimum: int = 1, optional: bool = False) -> None:
    """An int ≥ ``minimum`` (or None when ``optional``)."""
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be {'None or ' if optional else ''}an integer >= {minimum}, got {value!r}")


def number(value, name: str, *, positive: bool = False, at_most: Optional[float] = None) -> None:
    """A finite number (> 0 when ``positive``; ≤ ``at_most`` when given)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if at_most is not None and value > at_most:
        raise ValueError(f"{name} must be <= {at_most}, got {value!r}")


def numbers(values, name: str, *, positive: bool = False, at_most: Optional[float] = None,
            nonempty: bool = True) -> None:
    """A tuple of finite numbers."""
    if not isinstance(values, (tuple, list)) or (nonempty and not values):
        raise ValueError(f"{name} must be a non-empty list of numbers, got {values!r}")
    for v in values:
        number(v, f"every value of {name}", positive=positive, at_most=at_most)


def choice(value, allowed: Iterable, name: str) -> None:
    allowed = list(allowed)
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(map(str, allowed))}")


def subset(values: Sequence, allowed: Iterable, name: str) -> None:
    """A non-empty tuple whose every element is one of ``allowed``."""
    allowed = list(allowed)
    if not isinstance(values, (tuple, list)) or not values:
        raise ValueError(f"{name} must be a non-empty list drawn from {', '.join(map(str, allowed))}")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"unknown {name} {unknown}; choose from {', '.join(map(str, allowed))}")


def distinct(values: Sequence, name: str) -> None:
    """No two values that print alike (``:g``): runs are named by them, and two runs must not share a name."""
    labels = [f"{v:g}" if isinstance(v, float) else str(v) for v in values]
    if len(set(labels)) != len(labels):
        raise ValueError(f"{name} has values that repeat (to 6 significant digits): {list(values)}")
