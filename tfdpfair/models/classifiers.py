"""Small image classifiers: Wincott's DP MNIST CNN, an MLP and logistic regression.

All return uncompiled functional ``keras.Model``s that output logits (use
``from_logits=True`` losses). Inputs are float images in [0, 1] of ``input_shape``.
"""
from __future__ import annotations

from typing import Sequence


from tfdpfair.models.registry import register
from tfdpfair.compat import keras



@register("wincott_cnn")
def wincott_cnn(*, input_shape: Sequence[int] = (28, 28, 1), num_classes: int = 10) -> keras.Model:
    """Wincott (2020) §5: two conv + max-pool layers, flatten, dense 32, dense ``num_classes``.

    The layer sizes are TF Privacy's MNIST tutorial network, which the report
    follows: Conv(16, 8×8, stride 2, same) → MaxPool(2, stride 1) → Conv(32, 4×4,
    stride 2, valid) → MaxPool(2, stride 1) → Dense(32) → Dense(10); 26,010
    parameters for 28×28×1 inputs.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    h = keras.layers.Conv2D(16, 8, strides=2, padding="same", activation="relu")(inputs)
    h = keras.layers.MaxPool2D(2, 1)(h)
    h = keras.layers.Conv2D(32, 4, strides=2, padding="valid", activation="relu")(h)
    h = keras.layers.MaxPool2D(2, 1)(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(32, activation="relu")(h)
    outputs = keras.layers.Dense(num_classes, name="logits")(h)
    return keras.Model(inputs, outputs, name="wincott_cnn")


@register("mlp")
def mlp(
    *, input_shape: Sequence[int] = (28, 28, 1), num_classes: int = 10, hidden_units: Sequence[int] = (128,)
) -> keras.Model:
    """Flatten → Dense(ReLU) for each of ``hidden_units`` → Dense(``num_classes``)."""
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    h = keras.layers.Flatten()(inputs)
    for units in hidden_units:
        h = keras.layers.Dense(int(units), activation="relu")(h)
    outputs = keras.layers.Dense(num_classes, name="logits")(h)
    return keras.Model(inputs, outputs, name="mlp")


@register("logistic")
def logistic(*, input_shape: Sequence[int] = (28, 28, 1), num_classes: int = 10) -> keras.Model:
    """Multinomial logistic regression: Flatten → Dense(``num_classes``)."""
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    outputs = keras.layers.Dense(num_classes, name="logits")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, outputs, name="logistic")
