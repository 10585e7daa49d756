"""The one module that imports TensorFlow Privacy: its DP Keras models and DP Keras optimizers.

Two backends make a Keras classifier private; both compute per-example gradients,
clip each to C, sum, add N(0, σ²C²) once per step and divide by the batch size:

* ``dp_model`` (default): TF Privacy's ``DPModel`` with ``use_xla=False`` and no layer
  registry, so its ``train_step`` vectorizes per-example gradients with
  ``tf.vectorized_map``; works with any standard Keras optimizer and reduced loss.
  ≈ 0.03 s per step for Wincott's CNN at batch 250 on a 2-core CPU.
* ``dp_optimizer``: TF Privacy's ``DPKerasSGDOptimizer`` / ``DPKerasAdamOptimizer``
  (per-microbatch gradients in a loop; loss with reduction NONE). ≈ 2.2 s per step
  on the same CPU: kept for comparison and for models ``DPModel`` cannot wrap.

With ``num_microbatches=None`` both clip per example, which the accounting assumes.
"""
from __future__ import annotations

import tensorflow as tf
from tensorflow_privacy.privacy.keras_models.dp_keras_model import DPModel
from tensorflow_privacy.privacy.optimizers import dp_optimizer_keras

from tfdpfair.privacy.config import DPConfig

_DP_OPTIMIZERS = {
    "sgd": dp_optimizer_keras.DPKerasSGDOptimizer,
    "adam": dp_optimizer_keras.DPKerasAdamOptimizer,
}


def make_dp_model(model: tf.keras.Model, dp: DPConfig, *, stock_registry: bool = False) -> tf.keras.Model:
    """A TF Privacy ``DPModel`` sharing ``model``'s layers and weights (functional models only).

    Train the returned model; save ``model`` (a plain Keras model that round-trips
    through ``.keras`` files). ``stock_registry=True`` passes TF Privacy's default layer
    registry (Dense, Embedding, ...), so its fast clipping runs when every trainable layer
    is registered and it silently falls back to the vectorized path otherwise (e.g. Conv2D).
    """
    registry = None
    if stock_registry:
        from tensorflow_privacy.privacy.fast_gradient_clipping import layer_registry

        registry = layer_registry.make_default_layer_registry()
    if not model.inputs:
        raise ValueError("make_dp_model needs a functional or Sequential model with a known input shape")
    return DPModel(
        l2_norm_clip=dp.l2_norm_clip,
        noise_multiplier=dp.noise_multiplier,
        num_microbatches=dp.num_microbatches,
        use_xla=False,  # XLA makes every TF variant slower on CPU (measured)
        layer_registry=registry,
        inputs=model.inputs,
        outputs=model.outputs,
        name=f"dp_{model.name}",
    )


def make_dp_optimizer(name: str, dp: DPConfig, *, learning_rate: float) -> tf.keras.optimizers.Optimizer:
    """TF Privacy's DP Keras optimizer ``name`` (``sgd`` or ``adam``); pair it with a loss of reduction NONE."""
    try:
        cls = _DP_OPTIMIZERS[name]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(_DP_OPTIMIZERS)}") from None
    return cls(
        l2_norm_clip=dp.l2_norm_clip,
        noise_multiplier=dp.noise_multiplier,
        num_microbatches=dp.num_microbatches,
        learning_rate=learning_rate,
    )
