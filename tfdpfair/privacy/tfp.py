"""The one module that imports TensorFlow Privacy (on both stacks): its DP Keras models and optimizers.

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
Both are Keras 2 code: on the current stack (Keras 3) they need ``tf-keras`` and
``TF_USE_LEGACY_KERAS=1`` (``tfdpfair.compat``); otherwise they raise one line saying so.
``import_tf_privacy`` imports any other TF Privacy module (dp_query, the privacy tests) on
both stacks; ``gaussian_sum_query`` is its Keras-free Gaussian sum mechanism, which the
parity tests compare our clipped sums with.
"""
from __future__ import annotations

import importlib
import sys
import types

from tfdpfair.compat import KERAS3, keras, legacy_keras_error
from tfdpfair.errors import InputError
from tfdpfair.privacy.config import DPConfig

OPTIMIZERS = ("sgd", "adam")
INSTALL_HINT = ("install tfdpfair with its stack's constraints file (README, 'Stacks: which one you get'); TF Privacy 0.9.0 and "
                "tensorflow-empirical-privacy 0.1.0 need pip's --no-deps --ignore-requires-python on Python >= 3.12")


def import_tf_privacy(*paths: str) -> types.SimpleNamespace:
    """TF Privacy submodules by full path below ``tensorflow_privacy``, e.g. ``privacy.dp_query.gaussian_query``.

    TF Privacy's top-level ``__init__`` imports its estimators, which need the
    ``tensorflow_estimator`` package that TensorFlow >= 2.16 no longer has; the package
    skips them when ``sys.skip_tf_privacy_import`` is set, so we set it for the first
    import (on both stacks, so that both import the same modules). Returns a namespace
    with one attribute per path (its last component).
    """
    import joblib
    import sklearn.utils

    if not hasattr(sklearn.utils, "parallel_backend"):  # scikit-learn >= 1.7; the MIA module imports it
        sklearn.utils.parallel_backend = joblib.parallel_backend
    skip_set_here = "tensorflow_privacy" not in sys.modules and not hasattr(sys, "skip_tf_privacy_import")
    if skip_set_here:
        sys.skip_tf_privacy_import = True
    try:
        modules = {path.rsplit(".", 1)[-1]: importlib.import_module(f"tensorflow_privacy.{path}") for path in paths}
    except ImportError as error:  # pragma: no cover - install problem
        raise ImportError(f"TF Privacy module missing ({error}): {INSTALL_HINT}") from error
    finally:
        if skip_set_here:
            del sys.skip_tf_privacy_import
    return types.SimpleNamespace(**modules)


def _require_keras2(what: str) -> None:
    if KERAS3:
        raise InputError(legacy_keras_error(what))


def gaussian_sum_query(*, l2_norm_clip: float, stddev: float):
    """TF Privacy's ``GaussianSumQuery``: clip each record to ``l2_norm_clip``, sum, add N(0, stddev²) (any Keras)."""
    return import_tf_privacy("privacy.dp_query.gaussian_query").gaussian_query.GaussianSumQuery(
        l2_norm_clip=l2_norm_clip, stddev=stddev)


def make_dp_model(model: keras.Model, dp: DPConfig, *, stock_registry: bool = False) -> keras.Model:
    """A TF Privacy ``DPModel`` sharing ``model``'s layers and weights (functional models only).

    Train the returned model; save ``model`` (a plain Keras model that round-trips
    through ``.keras`` files). ``stock_registry=True`` passes TF Privacy's default layer
    registry (Dense, Embedding, ...), so its fast clipping runs when every trainable layer
    is registered and it silently falls back to the vectorized path otherwise (e.g. Conv2D).
    """
    _require_keras2("TF Privacy's DPModel (backend 'dp_model')")
    DPModel = import_tf_privacy("privacy.keras_models.dp_keras_model").dp_keras_model.DPModel
    registry = None
    if stock_registry:
        layer_registry = import_tf_privacy("privacy.fast_gradient_clipping.layer_registry").layer_registry
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


def make_dp_optimizer(name: str, dp: DPConfig, *, learning_rate: float) -> keras.optimizers.Optimizer:
    """TF Privacy's DP Keras optimizer ``name`` (``sgd`` or ``adam``); pair it with a loss of reduction NONE."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    _require_keras2("TF Privacy's DP Keras optimizer (backend 'dp_optimizer')")
    module = import_tf_privacy("privacy.optimizers.dp_optimizer_keras").dp_optimizer_keras
    cls = {"sgd": module.DPKerasSGDOptimizer, "adam": module.DPKerasAdamOptimizer}[name]
    return cls(
        l2_norm_clip=dp.l2_norm_clip,
        noise_multiplier=dp.noise_multiplier,
        num_microbatches=dp.num_microbatches,
        learning_rate=learning_rate,
    )
