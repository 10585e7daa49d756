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
