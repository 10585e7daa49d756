"""Pre-trained weights for the zoo: torchvision's ImageNet ResNets, and any zoo network's own weights as ``.npz``.

``save_weights_npz`` / ``load_weights_npz`` move a zoo network's weights between models
of the same architecture with another classifier (ImageNet's 1,000 classes → CIFAR-100's
100 or CelebA's attributes) and between the two stacks (one array per layer weight, named
``<layer>/<index>``; no pickles, no Keras file format).

torchvision's ImageNet ResNet weights load into the zoo's ``resnet18`` / ``resnet50``
(``stem="imagenet"``).

There is no Keras ImageNet ResNet-18; the usual pre-trained one is torchvision's. Save
its ``state_dict`` as ``.npz`` on a machine with PyTorch (one line, below) and load that
file here, offline:

    python -c "import numpy as np, torchvision; sd = torchvision.models.resnet18(weights='IMAGENET1K_V1')
    .state_dict(); np.savez('resnet18_imagenet.npz', **{k: v.numpy() for k, v in sd.items()})"

Convolution kernels are transposed from PyTorch's (out, in, h, w) to Keras' (h, w, in,
out), and the classifier's (out, in) to (in, out); the classifier is loaded only when the
number of classes matches (1,000), else it keeps its fresh initialisation. BatchNorm
statistics go into BatchNorm layers (``norm="batch"``: the same function as torchvision's
network); with ``norm="group"`` (needed for DP) only BatchNorm's scale and shift are
carried over, and fine-tuning has to adapt to the per-example normalisation.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from tfdpfair.errors import InputError
from tfdpfair.compat import keras

BLOCKS = {"resnet18": ((2, 2, 2, 2), 2), "resnet50": ((3, 4, 6, 3), 3)}  # blocks per stage, convs per block


class PretrainedWeightsError(InputError):
    """The weights file does not fit the model (missing or extra tensors, wrong shapes)."""


def torchvision_layer_map(architecture: str) -> Dict[str, Tuple[str, str]]:
    """{torchvision parameter prefix: (zoo layer name, kind)} with kind ``conv``, ``norm`` or ``dense``."""
    if architecture not in BLOCKS:
        raise PretrainedWeightsError(f"no torchvision mapping for {architecture!r}; known: {', '.join(BLOCKS)}")
    counts, convs = BLOCKS[architecture]
    out = {"conv1": ("stem_conv", "conv"), "bn1": ("stem_norm", "norm"), "fc": ("logits", "dense")}
    for stage, count in enumerate(counts):
        for b in range(count):
            torch, ours = f"layer{stage + 1}.{b}", f"s{stage}b{b}_"
            for i in range(convs):
                out[f"{torch}.conv{i + 1}"] = (f"{ours}conv{i}", "conv")
                out[f"{torch}.bn{i + 1}"] = (f"{ours}norm{i}", "norm")
            out[f"{torch}.downsample.0"] = (f"{ours}shortcut", "conv")
            out[f"{torch}.downsample.1"] = (f"{ours}shortcut_norm", "norm")
    return out


def _norm_weights(layer, tensors: Dict[str, np.ndarray], prefix: str) -> List[np.ndarray]:
    if isinstance(layer, keras.layers.BatchNormalization):
        return [tensors[f"{prefix}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]
    return [tensors[f"{prefix}.weight"], tensors[f"{prefix}.bias"]]  # GroupNormalization: scale and shift only


def load_torchvision_resnet(model: keras.Model, path: str, *, architecture: str = "resnet18") -> List[str]:
    """Set ``model``'s weights from a torchvision ``state_dict`` saved as ``.npz``; returns the layers loaded.

    ``model``: ``models.get(architecture, stem="imagenet", width=64, norm=...)``.

    Raises:
      FileNotFoundError: no file at ``path``.
      PretrainedWeightsError: a tensor is missing, left over, or has the wrong shape.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} not found (see tfdpfair.models.pretrained for how to make it)")
    with np.load(path) as npz:
        tensors = {k: npz[k] for k in npz.files if not k.endswith("num_batches_tracked")}
    layers = {layer.name: layer for layer in model.layers}
    mapping = torchvision_layer_map(architecture)
    loaded, used = [], set()
    for prefix, (name, kind) in mapping.items():
        if f"{prefix}.weight" not in tensors:
            if name in layers and name != "logits":
                raise PretrainedWeightsError(f"{path} has no {prefix}.weight for layer {name}")
            continue
        if name not in layers:
            raise PretrainedWeightsError(f"{path} has {prefix}.* but the model has no layer {name}; build it with "
                                         f"models.get({architecture!r}, stem='imagenet')")
        layer = layers[name]
        if kind == "conv":
            values = [np.transpose(tensors[f"{prefix}.weight"], (2, 3, 1, 0))]
        elif kind == "dense":
            values = [tensors[f"{prefix}.weight"].T, tensors[f"{prefix}.bias"]]
        else:
            values = _norm_weights(layer, tensors, prefix)
        used.update(k for k in tensors if k.startswith(prefix + "."))
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if [v.shape for v in values] != expected:
            if kind == "dense":  # another number of classes: keep the fresh classifier
                continue
            raise PretrainedWeightsError(f"{prefix} → {name}: shapes {[v.shape for v in values]} do not fit "
                                         f"{expected}; build the model with stem='imagenet' and width=64")
        layer.set_weights(values)
        loaded.append(name)
    leftover = sorted(set(tensors) - used)
    if leftover:
        raise PretrainedWeightsError(f"{path}: tensors with no place in {architecture}: {', '.join(leftover[:5])}"
                                     + (" ..." if len(leftover) > 5 else ""))
    return loaded


def torchvision_resnet(path: str, *, architecture: str = "resnet18", **kwargs) -> keras.Model:
    """``models.get(architecture, stem="imagenet", **kwargs)`` started from torchvision's weights in ``path``."""
    from tfdpfair import models

    if kwargs.get("width", 64) != 64:
        raise PretrainedWeightsError(f"torchvision's {architecture} has width 64, got width={kwargs['width']}")
    model = models.get(architecture, stem="imagenet", **{k: v for k, v in kwargs.items() if k != "width"})
    load_torchvision_resnet(model, path, architecture=architecture)
    return model


def save_weights_npz(model: keras.Model, path: str) -> Path:
    """Write every weight of ``model`` to ``path`` (``.npz``; arrays ``<layer name>/<index>``); returns the path."""
    path = Path(path).expanduser()
    arrays = {f"{layer.name}/{i}": np.asarray(w) for layer in model.layers for i, w in enumerate(layer.get_weights())}
    np.savez(path, **arrays)
    return path


def load_weights_npz(model: keras.Model, path: str, *, head: str = "logits") -> Dict[str, List[str]]:
    """Set ``model``'s layers from a ``save_weights_npz`` file of the same architecture; returns what happened.

    Every layer of ``model`` that the file has is loaded; the classifier ``head`` keeps its
    fresh initialisation when its shape differs (another number of classes). Layers only
    one side has (e.g. normalisation layers of a network trained with GroupNorm, loaded
    into one without) are listed, not loaded. Returns ``{"loaded": [...], "fresh": [...],
    "unused": [...]}`` (layer names).

    Raises:
      FileNotFoundError: no file at ``path``.
      PretrainedWeightsError: a layer's tensors differ in number or shape (another architecture).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} not found (write one with save_weights_npz)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            tensors = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as err:
        raise PretrainedWeightsError(f"{path} is not a weights .npz ({err})") from None
    by_layer: Dict[str, Dict[int, np.ndarray]] = {}
    for key, value in tensors.items():
        name, _, index = key.rpartition("/")
        if not name or not index.isdigit():
            raise PretrainedWeightsError(f"{path}: array {key!r} is not named <layer>/<index> (save_weights_npz)")
        by_layer.setdefault(name, {})[int(index)] = value
    report: Dict[str, List[str]] = {"loaded": [], "fresh": [], "unused": sorted(set(by_layer) -
                                                                                  {l.name for l in model.layers})}
    for layer in model.layers:
        current = layer.get_weights()
        if not current:
            continue
        if layer.name not in by_layer:
            report["fresh"].append(layer.name)
            continue
        stored = by_layer[layer.name]
        values = [stored.get(i) for i in range(len(stored))]
        if len(values) != len(current) or any(v is None or v.shape != w.shape for v, w in zip(values, current)):
            if layer.name == head:
                report["fresh"].append(layer.name)
                continue
            raise PretrainedWeightsError(
                f"{path}: layer {layer.name} has shapes {[None if v is None else v.shape for v in values]}, the "
                f"model wants {[w.shape for w in current]}: the file was saved from another architecture")
        layer.set_weights(values)
        report["loaded"].append(layer.name)
    return report
