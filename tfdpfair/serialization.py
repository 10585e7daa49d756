"""Nested results ↔ (strict JSON text, .npz bytes), for checkpoints and stored runs (no TensorFlow, no pickle).

``pack(obj)`` accepts dicts with string keys, lists, tuples (stored as lists), str,
bool, int, float (±inf and NaN kept, as tagged objects, so the JSON stays strict),
None, numpy scalars and numpy arrays (stored in the ``.npz`` part, read back with
``allow_pickle=False``). ``unpack`` inverts it.
"""
from __future__ import annotations

import io
import json
import math
from typing import Any, Dict, Tuple

import numpy as np

_ARRAY, _FLOAT = "__array__", "__float__"


def _encode(obj: Any, arrays: Dict[str, np.ndarray]) -> Any:
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError("object arrays cannot be stored without pickle")
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {_ARRAY: key}
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return {_FLOAT: repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError(f"dict keys must be strings, got {list(obj)[:5]}")
        return {k: _encode(v, arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v, arrays) for v in obj]
    raise TypeError(f"cannot store a {type(obj).__name__}")


def _decode(obj: Any, arrays) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_ARRAY}:
            return arrays[obj[_ARRAY]]
        if set(obj) == {_FLOAT}:
            return float(obj[_FLOAT])
        return {k: _decode(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    return obj


def pack(obj: Any) -> Tuple[str, bytes]:
    """(JSON text, npz bytes) of ``obj``; the npz bytes are empty when ``obj`` holds no array."""
    arrays: Dict[str, np.ndarray] = {}
    text = json.dumps(_encode(obj, arrays), allow_nan=False)
    if not arrays:
        return text, b""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return text, buffer.getvalue()


def unpack(text: str, npz: bytes = b"") -> Any:
    """The object ``pack`` stored."""
    arrays = {}
    if npz:
        with np.load(io.BytesIO(npz), allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    return _decode(json.loads(text), arrays)


def same_but_for_added_defaults(*, stored: Any, current: Any, defaults: Any) -> bool:
    """Whether a stored JSON config equals the current one, up to fields added to the code since it was stored.

    A key of a dict in ``current`` that ``stored`` lacks counts as equal when its value is the one
    ``defaults`` (the JSON of the config class's defaults, same nesting) gives it: a run started
    before ``TrainConfig`` gained ``momentum`` resumes, since its ``momentum`` is the default 0.
    Everything else must match exactly.
    """
    if isinstance(current, dict) and isinstance(stored, dict):
        if not set(stored) <= set(current):
            return False
        defaults = defaults if isinstance(defaults, dict) else {}
        for key, value in current.items():
            if key not in stored:
                if key not in defaults or defaults[key] != value:
                    return False
            elif not same_but_for_added_defaults(stored=stored[key], current=value, defaults=defaults.get(key)):
                return False
        return True
    return stored == current
