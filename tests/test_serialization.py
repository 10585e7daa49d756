import json

import numpy as np
import pytest

from tfdpfair import serialization


def test_round_trip_with_arrays_and_non_finite_numbers():
    obj = {"a": 1, "b": [1.5, float("inf"), float("-inf")], "c": {"img": np.arange(6).reshape(2, 3)},
           "d": None, "e": "text", "f": np.float32(0.25), "g": (1, 2)}
    text, npz = serialization.pack(obj)
    json.loads(text)  # strict JSON: no Infinity literal
    assert "Infinity" not in text
    back = serialization.unpack(text, npz)
    np.testing.assert_array_equal(back["c"]["img"], obj["c"]["img"])
    assert back["b"] == [1.5, float("inf"), float("-inf")] and back["f"] == 0.25 and back["g"] == [1, 2]
    nan = serialization.unpack(*serialization.pack({"x": float("nan")}))["x"]
    assert nan != nan


def test_no_arrays_no_npz_and_no_pickles():
    assert serialization.pack({"a": 1})[1] == b""
    with pytest.raises(TypeError):
        serialization.pack({"a": np.array([object()])})
    with pytest.raises(TypeError):
        serialization.pack({1: "non-string key"})


def test_same_but_for_added_defaults():
    from tfdpfair.serialization import same_but_for_added_defaults as same

    defaults = {"a": 1, "train": {"lr": 0.1, "momentum": 0.0}}
    current = {"a": 2, "train": {"lr": 0.5, "momentum": 0.0}}
    assert same(stored={"a": 2, "train": {"lr": 0.5, "momentum": 0.0}}, current=current, defaults=defaults)
    assert same(stored={"a": 2, "train": {"lr": 0.5}}, current=current, defaults=defaults)  # added since, default
    assert not same(stored={"a": 2, "train": {"lr": 0.5}}, current={"a": 2, "train": {"lr": 0.5, "momentum": 0.9}},
                    defaults=defaults)  # added since, but not at its default
    assert not same(stored={"train": {"lr": 0.5, "momentum": 0.0}}, current=current, defaults=defaults)  # "a" = 2 ≠ 1
    assert not same(stored={"a": 2, "train": {"lr": 0.5, "momentum": 0.0}, "gone": 1}, current=current,
                    defaults=defaults)  # a stored field the code no longer has
    assert not same(stored={"a": 2, "train": {"lr": 0.4, "momentum": 0.0}}, current=current, defaults=defaults)
