"""The one place where the two supported stacks differ (see README, "Stacks").

* **current**: Python ≥ 3.12, TensorFlow ≥ 2.20, Keras 3 (``import keras``) on the TF backend;
* **pinned**: Python 3.11, TensorFlow 2.15, Keras 2.15 (``import keras`` is ``tf.keras``).

Everything in tfdpfair imports Keras as ``from tfdpfair.compat import keras``: the Keras a user
imports on that machine. With ``TF_USE_LEGACY_KERAS=1`` set before TensorFlow is imported and
``tf-keras`` installed, TensorFlow ≥ 2.16 uses Keras 2 (``tf_keras``) and so does tfdpfair; that
is the only way TF Privacy's own Keras optimizers and ``DPModel`` run on the current stack.
Nothing else in the package branches on versions: it calls the helpers below.
"""
from __future__ import annotations

import os
import sys
from typing import Dict, List

import tensorflow as tf


TF_VERSION = tuple(int(part) for part in tf.__version__.split(".")[:2])


def _legacy_keras_requested() -> bool:
    return os.environ.get("TF_USE_LEGACY_KERAS", "") in ("1", "true", "True")  # exactly TensorFlow's test


def _import_keras():
    if _legacy_keras_requested() and TF_VERSION >= (2, 16):
        try:
            import tf_keras  # noqa: F401
        except ImportError:
            raise ImportError("TF_USE_LEGACY_KERAS=1 is set but tf-keras is not installed: "
                              "pip install -c constraints/current.txt tf-keras, or unset TF_USE_LEGACY_KERAS") from None
        return tf_keras
    import keras as keras_module

    return keras_module


keras = _import_keras()
KERAS_MAJOR = int(keras.__version__.split(".")[0])
KERAS3 = KERAS_MAJOR >= 3
STACK = "current" if TF_VERSION >= (2, 16) else "pinned"

#: Whether ``Model.train_on_batch`` splits the batch across the replicas of a ``tf.distribute``
#: strategy. Keras 3 hands every replica the whole batch (only ``fit``/``evaluate`` distribute data).
TRAIN_ON_BATCH_SPLITS_ACROSS_REPLICAS = not KERAS3

#: Whether an optimizer's ``use_ema`` average starts at the weights after the first step (Keras 3)
#: rather than at the initial weights (Keras 2); after that both update ``m·avg + (1 − m)·w``.
EMA_STARTS_AFTER_FIRST_STEP = KERAS3

#: ``reduction=`` value for one loss per example (a string both Keras versions accept).
REDUCTION_NONE = "none"


def describe() -> str:
    """One line: which stack this process runs, e.g. ``current stack: Python 3.12.1, TensorFlow 2.21.0, Keras 3.15.1``."""
    v = sys.version_info
    return (f"{STACK} stack: Python {v.major}.{v.minor}.{v.micro}, TensorFlow {tf.__version__}, "
            f"Keras {keras.__version__}")


def is_functional(model) -> bool:
    """True for a built functional or Sequential model (a graph of layers with known inputs)."""
    if not KERAS3:
        return bool(getattr(model, "_is_graph_network", False))
    from keras.src.models.functional import Functional

    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None) is not None
    return isinstance(model, Functional)


def sublayers(model) -> List:
    """Every layer nested in ``model`` (recursively), ``model`` itself excluded."""
    if KERAS3:
        return list(model._flatten_layers(include_self=False, recursive=True))
    return [m for m in model.submodules if isinstance(m, keras.layers.Layer)]


def input_rank(layer) -> int:
    """Rank (batch axis included) of the input a single-use layer of a functional model receives."""
    return len(layer.input.shape)


def call_count(layer) -> int:
    """How many times ``layer`` is called in the functional graphs it belongs to."""
    return len(layer._inbound_nodes)


def update_compiled_metrics(model, labels, predictions) -> Dict[str, tf.Tensor]:
    """Update the loss and metrics given to ``compile`` from a custom ``train_step``; return the logs."""
    if KERAS3:
        from keras.src.losses.loss import unscale_loss_for_distribution

        loss = model.compute_loss(y=labels, y_pred=predictions, training=True)  # divided by the replicas
        model._loss_tracker.update_state(unscale_loss_for_distribution(loss), sample_weight=tf.shape(predictions)[0])
        return model.compute_metrics(None, labels, predictions, sample_weight=None)
    model.compiled_loss(labels, predictions)
    model.compiled_metrics.update_state(labels, predictions)
    return {m.name: m.result() for m in model.metrics}


def build_for_fit(model, x_spec: tf.TensorSpec, y_spec: tf.TensorSpec) -> None:
    """Create a compiled model's optimizer slots and compiled loss/metric variables before ``fit`` traces its step.

    ``x_spec`` / ``y_spec``: one batch's inputs and labels (shape and dtype; no data is read). Without this,
    those variables are created inside the step's first trace, and ``tf.function`` then traces the step a
    second time (on 2 cores ≈ 6 s for a ResNet-18's non-private step, ≈ 11 s for its DP step). Keras 3 does
    the same build itself, but only under a ``tf.distribute`` strategy. Skipping it costs time, not results.
    """
    if KERAS3:
        if hasattr(model, "_symbolic_build"):  # private in Keras 3: a later Keras without it only traces twice
            model._symbolic_build(data_batch=(x_spec, y_spec, None))
        return
    optimizer = model.optimizer
    if hasattr(optimizer, "build"):  # Keras 2.11+ optimizers (idempotent)
        optimizer.build(model.trainable_variables)
    elif hasattr(optimizer, "_create_all_weights"):  # legacy OptimizerV2, e.g. TF Privacy's DPKeras*Optimizer
        optimizer._create_all_weights(model.trainable_variables)
    if model.compiled_loss is None:
        return
    zeros = tf.zeros([1, *x_spec.shape[1:]], x_spec.dtype)  # a data-free forward pass gives the outputs' structure
    y_pred = model(zeros, training=False)
    model.compiled_loss.build(y_pred)
    model.compiled_metrics.build(y_pred, tf.zeros([1, *y_spec.shape[1:]], y_spec.dtype))


def steps_per_execution(model) -> int:
    """Batches a compiled model runs per call of its train function (1 unless compiled otherwise)."""
    value = getattr(model, "steps_per_execution" if KERAS3 else "_steps_per_execution", None)
    if value is None:
        return 1
    return int(value.numpy()) if hasattr(value, "numpy") else int(value)


def checkpoint_extras(model) -> Dict[str, Dict[str, object]]:
    """What ``tf.train.Checkpoint(model=model, optimizer=...)`` misses, as extra checkpoint entries.

    Keras 2 models and optimizers are complete trackables. Keras 3 keeps layers and most
    variables in its own tracked lists, which TensorFlow's checkpoints do not follow (only
    weights the optimizer references come back): we add every variable of the model
    (non-trainable ones included: EMA averages, normalization statistics) and of each optimizer
    it holds (``optimizer``, and e.g. a GAN's ``d_optimizer`` / ``g_optimizer``).

    Each variable is keyed by its position and shape (``v0003_1568x32``), not by its path:
    Keras 3 names unnamed layers from a per-process counter (``dense_2``), so the same
    network built after other models in a resumed process has other paths. Position and
    shape are the same for the same architecture; a changed one mostly has keys the
    checkpoint lacks, but not always (a network that is a prefix of the saved one): compare
    ``variables_signature`` before and after, as ``EpochCheckpoint`` does.
    """
    if not KERAS3:
        return {}
    extras = {"keras_model_variables": _by_position(model.variables)}
    for name in sorted(vars(model)):
        value = getattr(model, name, None)
        if isinstance(value, keras.optimizers.Optimizer):
            extras[f"keras_optimizer_variables_{name.lstrip('_')}"] = _by_position(value.variables)
    return extras


def _by_position(variables) -> Dict[str, object]:
    """{"v<index>_<shape>": variable}, e.g. ``v0003_1568x32``; a scalar's shape is written ``scalar``."""
    return {f"v{i:04d}_{'x'.join(str(int(d)) for d in v.shape) or 'scalar'}": v for i, v in enumerate(variables)}


def variables_signature(model) -> List[str]:
    """``shape:dtype`` of each of the model's variables, in order (``["1568x32:float32", ...]``), on both stacks."""
    return [f"{'x'.join(str(int(d)) for d in v.shape)}:{tf.as_dtype(v.dtype).name}" for v in model.variables]


def legacy_keras_error(what: str) -> str:
    """The one line that says how to get Keras 2 for ``what`` on the current stack."""
    return (f"{what} needs Keras 2, and this process runs Keras {keras.__version__}: "
            "pip install -c constraints/current.txt tf-keras and set TF_USE_LEGACY_KERAS=1 before "
            "TensorFlow is imported (or use backend 'tfdpfair', which needs neither)")
