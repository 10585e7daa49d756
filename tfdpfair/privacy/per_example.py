"""Sums of per-example gradients clipped to an L2 norm C — the data-dependent half of a DP-SGD step.

Two engines compute the same thing, Σ_i clip(∇ℓ_i, C):

* ``LayerwiseClipper`` (fast): one forward and one backward pass through a "tap"
  copy of the functional model that also returns every trainable layer's input
  ``a`` and output. From ``a`` and the gradient ``g`` of the summed loss with
  respect to the layer's pre-activation output, per-example gradient norms come
  from closed forms (Dense: ‖a‖·‖g‖, or the ghost-norm/materialised form for
  sequences; Conv2D: each example's kernel gradient from TensorFlow's own
  filter backprop, or the ghost norm when cheaper; GroupNorm:
  per-example γ/β sums), and the clipped sum from one weighted backprop per layer
  (the Goodfellow / Opacus / "mixed ghost clipping" idea, in TensorFlow). Rules are
  registered per layer class (``register_layer_rule``, as Opacus registers grad samplers):
  ``Dense``, ``Conv2D`` (groups 1, dilation 1), ``WSConv2D`` and ``GroupNormalization``,
  in single-use layers of a flat functional model. A new layer type is one registered function.
* ``VmapClipper`` (general): per-example gradients of any Keras model with
  ``tf.vectorized_map``, then clip and sum.

``make_clipper(model, loss, method="auto")`` picks the layerwise engine when it
supports every trainable layer. Augmentation multiplicity: the input holds K
augmented copies of each example in consecutive rows; an example's gradient is
the mean over its K copies, taken *before* clipping.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Dict, List, Optional

import tensorflow as tf

from tfdpfair.models.layers import WSConv2D
from tfdpfair.privacy.mechanisms import clip_factors, clipped_sum
from tfdpfair.compat import REDUCTION_NONE, call_count, input_rank, is_functional, keras

METHODS = ("auto", "layerwise", "vmap")


@dataclasses.dataclass
class ChunkResult:
    """What an engine returns for one (micro-)batch.

    Attributes:
      sums: Σ_i clip(g_i, C) (or Σ_i g_i when not clipping), one tensor per trainable variable.
      losses: per-row losses, shape (B·K,).
      predictions: the model's training-mode outputs, one row per input row.
      squared_norms: per-example squared gradient norms before clipping, (B,), or None.
    """

    sums: List[tf.Tensor]
    losses: tf.Tensor
    predictions: tf.Tensor
    squared_norms: Optional[tf.Tensor] = None


def per_example_loss(loss) -> Callable:
    """A loss callable returning one value per example (a Keras ``Loss`` is rebuilt with reduction NONE)."""
    loss = keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        config = loss.get_config()
        config["reduction"] = REDUCTION_NONE
        return loss.__class__.from_config(config)
    return loss


def _row_losses(loss_fn, y, predictions) -> tf.Tensor:
    """One loss per input row (a loss with extra axes is averaged over them)."""
    losses = loss_fn(y, predictions)
    if losses.shape.rank == 1:
        return losses
    return tf.reduce_mean(tf.reshape(losses, [tf.shape(predictions)[0], -1]), axis=1)


class Clipper:
    """Base: the non-private gradient sum, shared by both engines."""

    def __init__(self, model: keras.Model, loss_fn: Callable):
        self.model = model
        self.loss_fn = loss_fn

    def gradient_sum(self, x, y, *, multiplicity: int = 1) -> ChunkResult:
        """Σ_i g_i without clipping, where g_i is the mean gradient over example i's K copies."""
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            predictions = self.model(x, training=True)
            losses = _row_losses(self.loss_fn, y, predictions)
            total = tf.reduce_sum(losses) / float(multiplicity)
        return ChunkResult(tape.gradient(total, variables, unconnected_gradients="zero"), losses, predictions)

    def clipped_sum(self, x, y, *, l2_norm_clip: float, multiplicity: int = 1) -> ChunkResult:
        raise NotImplementedError


class VmapClipper(Clipper):
    """Per-example gradients with ``tf.vectorized_map``: any model, more memory and time."""

    def clipped_sum(self, x, y, *, l2_norm_clip: float, multiplicity: int = 1) -> ChunkResult:
        k = multiplicity
        variables = self.model.trainable_variables
        xs = tf.reshape(x, tf.concat([[-1, k], tf.shape(x)[1:]], axis=0))
        ys = tf.reshape(y, tf.concat([[-1, k], tf.shape(y)[1:]], axis=0))

        def one_example(args):
            xi, yi = args
            with tf.GradientTape() as tape:
                predictions = self.model(xi, training=True)
                losses = _row_losses(self.loss_fn, yi, predictions)
                mean = tf.reduce_mean(losses)
            return tape.gradient(mean, variables, unconnected_gradients="zero"), losses, predictions

        grads, losses, predictions = tf.vectorized_map(one_example, (xs, ys))
        sums, squared = clipped_sum(grads, l2_norm_clip=l2_norm_clip)
        flat_pred = tf.reshape(predictions, tf.concat([[-1], tf.shape(predictions)[2:]], axis=0))
        return ChunkResult(sums, tf.reshape(losses, [-1]), flat_pred, squared)


# ----------------------------------------------------------------------------------------------
# Layerwise engine: per-layer closed forms for per-example gradient norms and weighted sums.


@dataclasses.dataclass
class _LayerTerms:
    squared: tf.Tensor  # (B,) this layer's share of each example's squared gradient norm
    weighted: Callable[[tf.Tensor], Dict[int, tf.Tensor]]  # row weights (R,) -> {id(variable): Σ_r w_r g_r}


def _rows_to_examples(t: tf.Tensor, examples) -> tf.Tensor:
    """(R, ..., c) → (B, K·…, c): all rows and positions of one example along axis 1."""
    return tf.reshape(t, tf.stack([examples, -1, tf.shape(t)[-1]]))


def _scale_rows(t: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
    return t * tf.reshape(w, tf.concat([[-1], tf.ones([t.shape.rank - 1], tf.int32)], axis=0))


# Activations whose derivative is a function of their output y = act(z): ∂L/∂z = ∂L/∂y · act'(z)
# needs no second forward pass. (ReLU: z > 0 ⇔ y > 0, TensorFlow's own ReLU gradient.)
_DERIVATIVE_FROM_OUTPUT = {
    keras.activations.relu: lambda y: tf.cast(y > 0, y.dtype),
    keras.activations.tanh: lambda y: 1.0 - tf.square(y),
    keras.activations.sigmoid: lambda y: y * (1.0 - y),
}


def _pre_activation_grad(layer, a, y, dy, linear_fn, *, need_z: bool = False):
    """(∂L/∂z, z) for the pre-activation z = linear_fn(a), given the layer output y and ∂L/∂y.

    z is None when it was not needed: the activation's derivative comes from y and ``need_z`` is False.
    """
    if layer.activation is keras.activations.linear:
        return dy, y
    derivative = _DERIVATIVE_FROM_OUTPUT.get(layer.activation)
    if derivative is not None and not need_z:
        return dy * derivative(y), None
    z = linear_fn(a)
    with tf.GradientTape() as tape:
        tape.watch(z)
        out = layer.activation(z)
    return tape.gradient(out, z, output_gradients=dy), z


def _outer_sq_norms(a_ex: tf.Tensor, g_ex: tf.Tensor, positions: Optional[int]) -> tf.Tensor:
    """‖Σ_t a_t g_tᵀ‖²_F per example, for a_ex (B, T, i), g_ex (B, T, j); picks the cheaper form."""
    i, j = a_ex.shape[-1], g_ex.shape[-1]
    if positions == 1:
        return tf.reduce_sum(tf.square(a_ex), [1, 2]) * tf.reduce_sum(tf.square(g_ex), [1, 2])
    if positions is not None and positions * positions * (i + j) < positions * i * j:  # ghost norm is cheaper
        aa = tf.matmul(a_ex, a_ex, transpose_b=True)
        gg = tf.matmul(g_ex, g_ex, transpose_b=True)
        return tf.reduce_sum(aa * gg, [1, 2])
    return tf.reduce_sum(tf.square(tf.einsum("bti,btj->bij", a_ex, g_ex)), [1, 2])


def _bias_terms(layer, g, examples):
    if not getattr(layer, "use_bias", False):
        return 0.0, lambda w: {}
    per_example = tf.reduce_sum(_rows_to_examples(g, examples), axis=1)
    squared = tf.reduce_sum(tf.square(per_example), axis=1)
    channels = g.shape[-1]
    return squared, lambda w: {id(layer.bias): tf.reduce_sum(tf.reshape(_scale_rows(g, w), [-1, channels]), 0)}


def _dense_terms(layer, a, y, dy, examples, multiplicity) -> _LayerTerms:
    def linear(x):
        z = tf.tensordot(x, layer.kernel, [[x.shape.rank - 1], [0]])
        return z + layer.bias if layer.use_bias else z

    g, _ = _pre_activation_grad(layer, a, y, dy, linear)
    inner = 1
    for d in a.shape[1:-1]:
        inner = None if (inner is None or d is None) else inner * d
    positions = None if inner is None else inner * multiplicity
    squared = _outer_sq_norms(_rows_to_examples(a, examples), _rows_to_examples(g, examples), positions)
    bias_sq, bias_fn = _bias_terms(layer, g, examples)
    i, j = a.shape[-1], g.shape[-1]

    def weighted(w):
        kernel = tf.matmul(tf.reshape(a, [-1, i]), tf.reshape(_scale_rows(g, w), [-1, j]), transpose_a=True)
        return {id(layer.kernel): kernel, **bias_fn(w)}

    return _LayerTerms(squared + bias_sq, weighted)


def _same_padding(a, layer, out_shape):
    pads = [[0, 0]]
    for d, size in enumerate(a.shape[1:3]):
        k, s = layer.kernel_size[d], layer.strides[d]
        total = max((out_shape[d] - 1) * s + k - size, 0)
        pads.append([total // 2, total - total // 2])
    return tf.pad(a, pads + [[0, 0]])


def _ws_backward(layer: WSConv2D, grad_std):
    """∂L/∂W from ∂L/∂Ŵ for weight standardization Ŵ = (W − μ)·s, s = (var + ε)^(-1/2), per output channel."""
    kernel = layer.kernel
    mean, variance = tf.nn.moments(kernel, axes=[0, 1, 2], keepdims=True)
    inv_std = tf.math.rsqrt(variance + layer.ws_epsilon)
    k_hat = (kernel - mean) * inv_std
    return inv_std * (grad_std - tf.reduce_mean(grad_std, [0, 1, 2], keepdims=True)
                      - k_hat * tf.reduce_mean(grad_std * k_hat, [0, 1, 2], keepdims=True))


def _conv_kernel_sq_norms(layer, padded, out_hw, g_ex, examples, positions):
    """‖G‖²_F per example, G = Σ_p patch_p g_pᵀ the example's kernel gradient (g_ex (B, K·P, C_out)).

    The ghost norm (patch Gram × output-gradient Gram) when there are few positions; otherwise
    each example's G from TensorFlow's own Conv2DBackpropFilter over the example's rows, one
    example at a time. On CPU that is 1.3–4× faster than batched matmuls over shifted windows or
    image patches on both stacks (those batched matmuls are 1.6× slower on TF 2.21 than on 2.15).
    """
    kh, kw = layer.kernel_size
    sh, sw = layer.strides
    channels_in, channels_out = padded.shape[-1], g_ex.shape[-1]
    fan_in = kh * kw * channels_in
    if positions is not None and positions * (fan_in + channels_out) < fan_in * channels_out:
        patches = tf.image.extract_patches(padded, [1, kh, kw, 1], [1, sh, sw, 1], [1, 1, 1, 1], "VALID")
        return _outer_sq_norms(_rows_to_examples(patches, examples), g_ex, positions)
    inputs = tf.reshape(padded, tf.concat([[examples, -1], tf.shape(padded)[1:]], axis=0))
    grads = tf.reshape(g_ex, tf.stack([examples, -1, out_hw[0], out_hw[1], channels_out]))

    def one_example(rows):
        x, g = rows
        kernel_grad = tf.raw_ops.Conv2DBackpropFilter(
            input=x, filter_sizes=[kh, kw, channels_in, channels_out], out_backprop=g,
            strides=[1, sh, sw, 1], padding="VALID", data_format="NHWC")
        return tf.reduce_sum(tf.square(kernel_grad))

    return tf.map_fn(one_example, (inputs, grads), fn_output_signature=padded.dtype)


def _patch_sums(layer, padded, examples):
    """(B, K·P): the sum of each output position's input patch (all kh·kw·C_in values)."""
    kh, kw = layer.kernel_size
    sh, sw = layer.strides
    box = tf.ones([kh, kw, 1, 1], padded.dtype)
    sums = tf.nn.conv2d(tf.reduce_sum(padded, -1, keepdims=True), box, [1, sh, sw, 1], "VALID")
    return _rows_to_examples(sums, examples)[..., 0]


def _ws_correction(layer: WSConv2D, patch_sums, g_ex, z_ex):
    """Σ_c s_c² (k m1_c² + (2 − ρ_c) k m2_c²) / k: what weight standardization removes from Σ_c s_c² ‖G_c‖².

    With G = ∂L/∂Ŵ per example, u = 1 and ŵ the standardized fan-in vector of output
    channel c (Σŵ = 0, mean ŵ² = ρ = var/(var + ε)), ∂L/∂W_c = s_c (G_c − m1 u − m2 ŵ)
    with m1 = mean G_c, m2 = mean(G_c ŵ), so ‖∂L/∂W_c‖² = s_c² (‖G_c‖² − k m1² − (2 − ρ) k m2²),
    where k = fan-in, k·m1 = Σ_p (Σ patch_p) g_pc and k·m2 = Σ_p z_pc g_pc (z: the conv output).
    """
    kh, kw = layer.kernel_size
    fan_in = kh * kw * layer.kernel.shape[2]
    _, variance = tf.nn.moments(layer.kernel, axes=[0, 1, 2])
    inv_std_sq = 1.0 / (variance + layer.ws_epsilon)
    rho = variance * inv_std_sq
    k_m1 = tf.einsum("bp,bpc->bc", patch_sums, g_ex)
    k_m2 = tf.reduce_sum(z_ex * g_ex, axis=1)
    return tf.reduce_sum(inv_std_sq * (tf.square(k_m1) + (2.0 - rho) * tf.square(k_m2)), axis=1) / fan_in


def _conv_terms(layer, a, y, dy, examples, multiplicity) -> _LayerTerms:
    def linear(x):
        z = layer.convolution_op(x, layer.kernel)
        return tf.nn.bias_add(z, layer.bias) if layer.use_bias else z

    is_ws = isinstance(layer, WSConv2D)
    g, z = _pre_activation_grad(layer, a, y, dy, linear, need_z=is_ws)
    sh, sw = layer.strides
    out_hw = tuple(g.shape[1:3])
    if None in out_hw or None in a.shape[1:]:
        raise ValueError(f"layer {layer.name}: the layerwise engine needs static spatial shapes")
    padded = _same_padding(a, layer, out_hw) if layer.padding == "same" else a
    g_ex = _rows_to_examples(g, examples)
    positions = out_hw[0] * out_hw[1] * multiplicity
    if is_ws:  # Σ_c s_c² ‖G_c‖² with s the standardization's per-channel scale, then WS's correction
        scale = tf.math.rsqrt(tf.nn.moments(layer.kernel, axes=[0, 1, 2])[1] + layer.ws_epsilon)
        squared = _conv_kernel_sq_norms(layer, padded, out_hw, g_ex * scale, examples, positions)
        z_conv = z - layer.bias if layer.use_bias else z
        squared = squared - _ws_correction(
            layer, _patch_sums(layer, padded, examples), g_ex, _rows_to_examples(z_conv, examples))
    else:
        squared = _conv_kernel_sq_norms(layer, padded, out_hw, g_ex, examples, positions)
    bias_sq, bias_fn = _bias_terms(layer, g, examples)

    def weighted(w):
        grad = tf.raw_ops.Conv2DBackpropFilter(
            input=a, filter_sizes=tf.shape(layer.kernel), out_backprop=_scale_rows(g, w), strides=[1, sh, sw, 1],
            padding=layer.padding.upper(), data_format="NHWC")
        if is_ws:
            grad = _ws_backward(layer, grad)
        return {id(layer.kernel): grad, **bias_fn(w)}

    return _LayerTerms(squared + bias_sq, weighted)


def _group_norm_terms(layer, a, y, dy, examples, multiplicity) -> _LayerTerms:
    channels = a.shape[-1]
    grouped = tf.reshape(a, tf.concat([tf.shape(a)[:-1], [layer.groups, channels // layer.groups]], axis=0))
    axes = list(range(1, a.shape.rank - 1)) + [a.shape.rank]
    mean, variance = tf.nn.moments(grouped, axes=axes, keepdims=True)
    x_hat = tf.reshape((grouped - mean) * tf.math.rsqrt(variance + layer.epsilon), tf.shape(a))
    terms, squared = {}, 0.0
    if layer.scale:
        terms[id(layer.gamma)] = dy * x_hat
    if layer.center:
        terms[id(layer.beta)] = dy
    for rows in terms.values():
        squared += tf.reduce_sum(tf.square(tf.reduce_sum(_rows_to_examples(rows, examples), 1)), 1)

    def weighted(w):
        return {key: tf.reduce_sum(tf.reshape(_scale_rows(rows, w), [-1, channels]), 0) for key, rows in terms.items()}

    return _LayerTerms(squared, weighted)


# The per-layer rules: layer class -> (rule, applies). ``applies(layer)`` says whether the rule
# covers this instance's options; the class must match exactly (a subclass may compute differently).
LayerRule = Callable[..., _LayerTerms]
_RULES: Dict[type, tuple] = {}


def register_layer_rule(*classes: type, applies: Optional[Callable[[object], bool]] = None):
    """Register ``rule(layer, a, y, dy, examples, multiplicity) -> _LayerTerms`` for exactly these layer classes.

    ``a``: the layer's input rows (R = B·K, ...); ``y``: its output; ``dy``: ∂(Σ loss)/∂y;
    ``examples``: B; ``multiplicity``: K. The rule returns each example's squared gradient
    norm over the layer's variables and a function mapping row weights to Σ_r w_r ∇_r per variable.
    Used as a decorator; a second registration for a class replaces the first.
    """
    def decorator(rule: LayerRule) -> LayerRule:
        for cls in classes:
            _RULES[cls] = (rule, applies or (lambda layer: True))
        return rule

    return decorator


def registered_layer_types() -> List[str]:
    """Names of the layer classes the layerwise engine has a rule for."""
    return sorted(cls.__name__ for cls in _RULES)


def _conv_applies(layer) -> bool:
    return layer.data_format == "channels_last" and layer.groups == 1 and tuple(layer.dilation_rate) == (1, 1)


def _group_norm_applies(layer) -> bool:
    return layer.axis in (-1, input_rank(layer) - 1)


register_layer_rule(keras.layers.Dense)(_dense_terms)
register_layer_rule(keras.layers.Conv2D, WSConv2D, applies=_conv_applies)(_conv_terms)
register_layer_rule(keras.layers.GroupNormalization, applies=_group_norm_applies)(_group_norm_terms)


def _layer_handler(layer) -> Optional[LayerRule]:
    entry = _RULES.get(type(layer))
    if entry is None or not entry[1](layer):
        return None
    return entry[0]


def layerwise_unsupported(model: keras.Model) -> List[str]:
    """Why ``LayerwiseClipper`` cannot handle ``model`` (empty when it can)."""
    if not is_functional(model):
        return [f"{model.name} is not a functional/Sequential model"]
    problems = []
    for layer in model.layers:
        if not layer.trainable_weights:
            continue
        if _layer_handler(layer) is None:
            problems.append(f"layer {layer.name} ({type(layer).__name__}) has no per-example rule")
        elif call_count(layer) != 1:
            problems.append(f"layer {layer.name} is used {call_count(layer)} times")
    covered = {id(w) for layer in model.layers if _layer_handler(layer) for w in layer.trainable_weights}
    if not problems and any(id(v) not in covered for v in model.trainable_variables):
        problems.append("some trainable variables belong to no supported layer")
    return problems


class LayerwiseClipper(Clipper):
    """The fast engine (see the module docstring)."""

    def __init__(self, model: keras.Model, loss_fn: Callable):
        problems = layerwise_unsupported(model)
        if problems:
            raise ValueError("the layerwise engine cannot handle this model: " + "; ".join(problems)
                             + ". Use method='vmap'.")
        super().__init__(model, loss_fn)
        self.layers = [layer for layer in model.layers if layer.trainable_weights]
        self.tap = keras.Model(model.inputs, list(model.outputs) + [l.input for l in self.layers]
                               + [l.output for l in self.layers])

    def clipped_sum(self, x, y, *, l2_norm_clip: float, multiplicity: int = 1) -> ChunkResult:
        n = len(self.layers)
        with tf.GradientTape() as tape:
            outputs = self.tap(x, training=True)
            predictions, inputs, layer_outputs = outputs[0], outputs[1:1 + n], outputs[1 + n:]
            losses = _row_losses(self.loss_fn, y, predictions)
            total = tf.reduce_sum(losses) / float(multiplicity)
        output_grads = tape.gradient(total, layer_outputs, unconnected_gradients="zero")
        examples = tf.shape(x)[0] // multiplicity
        terms = [_layer_handler(layer)(layer, a, out, dy, examples, multiplicity)
                 for layer, a, out, dy in zip(self.layers, inputs, layer_outputs, output_grads)]
        squared = tf.add_n([t.squared for t in terms])
        factors = clip_factors(squared, l2_norm_clip=l2_norm_clip)
        row_weights = tf.repeat(factors, multiplicity)
        by_variable = {}
        for t in terms:
            by_variable.update(t.weighted(row_weights))
        sums = [by_variable[id(v)] for v in self.model.trainable_variables]
        return ChunkResult(sums, losses, predictions, squared)


def make_clipper(model: keras.Model, loss, *, method: str = "auto") -> Clipper:
    """The per-example engine for ``model`` and ``loss`` (``auto``: layerwise when supported, else vmap)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    loss_fn = per_example_loss(loss)
    if method == "vmap" or (method == "auto" and layerwise_unsupported(model)):
        return VmapClipper(model, loss_fn)
    return LayerwiseClipper(model, loss_fn)
