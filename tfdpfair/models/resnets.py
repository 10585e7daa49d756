"""Residual networks for 32×32 and 64×64 images: Wide ResNets (De et al. 2022's DP recipe) and ResNet-18/50.

All are flat functional models (no nested sub-models), so the fast per-example
engine sees every layer. ``norm="group"`` (default; required under DP) uses
``GroupNormalization``; ``norm="batch"`` uses BatchNorm for non-private baselines, with
PyTorch's settings (momentum 0.1 in PyTorch's convention, ε = 1e-5), which the papers'
code and torchvision's ImageNet weights use.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import tensorflow as tf

from tfdpfair.models.layers import WSConv2D
from tfdpfair.models.registry import register
from tfdpfair.compat import keras

NORMS = ("group", "batch", "none")
BN_MOMENTUM = 0.9  # moving statistics: new = 0.9·old + 0.1·batch. Keras's 0.99 needs hundreds of steps before
BN_EPSILON = 1e-5  # inference-mode outputs are usable (measured: WRN-10 at 50 steps, train 100 %, inference 31 %)


def _norm(x, norm: str, groups: int, name: str):
    if norm == "group":
        channels = x.shape[-1]
        g = groups if channels % groups == 0 else next(d for d in range(min(groups, channels), 0, -1)
                                                        if channels % d == 0)
        return keras.layers.GroupNormalization(groups=g, name=name)(x)
    if norm == "batch":  # PyTorch's defaults (momentum 0.1 there): the papers' code, torchvision's weights
        return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)(x)
    if norm == "none":
        return x
    raise ValueError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")


def _conv(filters, kernel, stride, ws: bool, name: str):
    cls = WSConv2D if ws else keras.layers.Conv2D
    return cls(filters, kernel, strides=stride, padding="same", use_bias=False, name=name)


def _load_weights(model: keras.Model, weights: Optional[str]) -> keras.Model:
    if weights is None:
        return model
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"weights file {path} not found; offline machines cannot download ImageNet weights: save them with "
            "model.save_weights(...) from this zoo architecture on a connected machine and pass the file"
        )
    model.load_weights(str(path))
    return model


@register("wrn")
def wrn(*, depth: int = 16, width: int = 4, input_shape: Sequence[int] = (32, 32, 3), num_classes: int = 10,
        norm: str = "group", groups: int = 16, weight_standardization: bool = True, dropout: float = 0.0,
        weights: Optional[str] = None) -> keras.Model:
    """Wide ResNet WRN-``depth``-``width`` (Zagoruyko & Komodakis 2016), pre-activation blocks.

    ``depth`` = 6n + 4. As in De et al. (2022): GroupNorm with ``groups`` groups on the
    residual branch and weight-standardized convolutions (``weight_standardization``).
    """
    if (depth - 4) % 6:
        raise ValueError(f"WRN depth must be 6n + 4, got {depth}")
    blocks = (depth - 4) // 6
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = _conv(16, 3, 1, weight_standardization, "stem_conv")(inputs)
    for stage, (filters, stride) in enumerate([(16 * width, 1), (32 * width, 2), (64 * width, 2)]):
        for b in range(blocks):
            s = stride if b == 0 else 1
            p = f"s{stage}b{b}_"
            h = keras.layers.ReLU(name=p + "relu1")(_norm(x, norm, groups, p + "norm1"))
            shortcut = x
            if s != 1 or x.shape[-1] != filters:
                shortcut = _conv(filters, 1, s, weight_standardization, p + "shortcut")(h)
            h = _conv(filters, 3, s, weight_standardization, p + "conv1")(h)
            h = keras.layers.ReLU(name=p + "relu2")(_norm(h, norm, groups, p + "norm2"))
            if dropout:
                h = keras.layers.Dropout(dropout, name=p + "dropout")(h)
            h = _conv(filters, 3, 1, weight_standardization, p + "conv2")(h)
            x = keras.layers.Add(name=p + "add")([shortcut, h])
    x = keras.layers.ReLU(name="final_relu")(_norm(x, norm, groups, "final_norm"))
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return _load_weights(keras.Model(inputs, outputs, name=f"wrn{depth}_{width}"), weights)


@register("wrn16_4")
def wrn16_4(**kwargs) -> keras.Model:
    """WRN-16-4 (≈ 2.7 M parameters), Hassanpour et al.'s CIFAR-10 model."""
    return wrn(depth=16, width=4, **kwargs)


@register("wrn28_10")
def wrn28_10(**kwargs) -> keras.Model:
    """WRN-28-10 (≈ 36 M parameters), Hassanpour et al.'s CIFAR-100 / CelebA model."""
    return wrn(depth=28, width=10, **kwargs)


STEMS = ("cifar", "imagenet")
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's input normalisation, for inputs in [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)


def _resnet(block_counts, bottleneck: bool, *, input_shape, num_classes, norm, groups, weights, name, width=64,
            stem="cifar"):
    if width < 1:
        raise ValueError(f"width must be a positive number of channels, got {width}")
    if stem not in STEMS:
        raise ValueError(f"unknown stem {stem!r}; choose one of {', '.join(STEMS)}")
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    torch_padding = stem == "imagenet"  # symmetric padding as in torchvision, so its weights see the same windows
    if stem == "imagenet":
        mean, std = tf.constant(IMAGENET_MEAN), tf.constant(IMAGENET_STD)
        x = keras.layers.Rescaling(scale=1.0 / std, offset=-mean / std, name="imagenet_normalize")(inputs)
        x = keras.layers.ZeroPadding2D(3, name="stem_pad")(x)
        x = keras.layers.Conv2D(width, 7, strides=2, use_bias=False, name="stem_conv")(x)
        x = keras.layers.ReLU(name="stem_relu")(_norm(x, norm, groups, "stem_norm"))
        x = keras.layers.ZeroPadding2D(1, name="stem_pool_pad")(x)  # zeros = torch's −inf padding after a ReLU
        x = keras.layers.MaxPool2D(3, strides=2, name="stem_pool")(x)
    else:
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name="stem_conv")(inputs)
        x = keras.layers.ReLU(name="stem_relu")(_norm(x, norm, groups, "stem_norm"))
    expansion = 4 if bottleneck else 1
    for stage, (count, filters) in enumerate(zip(block_counts, (width, 2 * width, 4 * width, 8 * width))):
        for b in range(count):
            s = 2 if (b == 0 and stage > 0) else 1
            p = f"s{stage}b{b}_"
            shortcut = x
            if s != 1 or x.shape[-1] != filters * expansion:
                shortcut = keras.layers.Conv2D(filters * expansion, 1, strides=s, use_bias=False,
                                               name=p + "shortcut")(x)
                shortcut = _norm(shortcut, norm, groups, p + "shortcut_norm")
            if bottleneck:
                plan = [(filters, 1, 1), (filters, 3, s), (filters * 4, 1, 1)]
            else:
                plan = [(filters, 3, s), (filters, 3, 1)]
            h = x
            for i, (f, k, stride) in enumerate(plan):
                padding = "same"
                if torch_padding and stride > 1 and k > 1:
                    h = keras.layers.ZeroPadding2D(k // 2, name=f"{p}pad{i}")(h)
                    padding = "valid"
                h = keras.layers.Conv2D(f, k, strides=stride, padding=padding, use_bias=False, name=f"{p}conv{i}")(h)
                h = _norm(h, norm, groups, f"{p}norm{i}")
                if i < len(plan) - 1:
                    h = keras.layers.ReLU(name=f"{p}relu{i}")(h)
            x = keras.layers.ReLU(name=p + "out")(keras.layers.Add(name=p + "add")([shortcut, h]))
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return _load_weights(keras.Model(inputs, outputs, name=name), weights)


@register("resnet18")
def resnet18(*, input_shape: Sequence[int] = (32, 32, 3), num_classes: int = 10, norm: str = "group",
             groups: int = 32, width: int = 64, stem: str = "cifar", weights: Optional[str] = None) -> keras.Model:
    """ResNet-18 for small images (3×3 stem, no max-pool), for 32×32 or 64×64 inputs.

    ``width`` is the first stage's channels (64 in He et al.; stages use width × 1, 2, 4, 8);
    a narrower net trades accuracy for CPU time. GroupNorm uses ``groups`` groups, fewer
    where a layer's channels are not divisible by it. ``stem="imagenet"`` builds He et al.'s
    ImageNet network instead (ImageNet input normalisation, 7×7/2 conv, 3×3/2 max-pool,
    torchvision's padding), whose weights ``tfdpfair.models.pretrained`` loads from torchvision.
    """
    return _resnet((2, 2, 2, 2), False, input_shape=input_shape, num_classes=num_classes, norm=norm, groups=groups,
                   weights=weights, name="resnet18", width=width, stem=stem)


@register("resnet50")
def resnet50(*, input_shape: Sequence[int] = (32, 32, 3), num_classes: int = 10, norm: str = "group",
             groups: int = 32, width: int = 64, stem: str = "cifar", weights: Optional[str] = None) -> keras.Model:
    """ResNet-50 (bottleneck blocks) for small images (3×3 stem, no max-pool)."""
    return _resnet((3, 4, 6, 3), True, input_shape=input_shape, num_classes=num_classes, norm=norm, groups=groups,
                   weights=weights, name="resnet50", width=width, stem=stem)
