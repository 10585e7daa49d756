"""Adversarial training: L∞ PGD, PGD-AT, TRADES and the DeMem penalty, as pure functions and a Keras model.

* ``pgd_attack(model, x, y, config=..., seed=...)``: Madry et al. (2018)'s projected gradient
  ascent in the L∞ ball of radius ε around each input, kept inside the pixel range.
  The model runs in inference mode and the ascent follows the gradient of a *sum* of
  per-example losses, so example i's adversarial example depends only on example i and the
  weights (which is what lets DP-SGD clip its gradient like any other example's:
  ``make_private(model, dp, adversary=pgd_adversary(config))``). The random start is drawn
  independently of the data, i.i.d. per row (by row position, one stateless draw per chunk):
  internal randomness of the mechanism. For any fixed assignment of starts to the other
  examples, removing one example moves the clipped sum by at most C; since the starts are i.i.d.
  and data-independent, the neighbouring runs can be coupled, so the Gaussian mechanism's
  guarantee holds for the mixture.
* ``trades_loss`` (Zhang et al. 2019): CE(f(x), y) + β · KL(p(x) ‖ p(x′)), x′ maximising the KL.
* ``demem_penalty`` (Luo & Li, "DeMem"): λ · the variance of the batch's per-example losses on the
  adversarial examples, added to the training loss. The paper's Ψ divides by N; the authors'
  code (``torch.var``) by N − 1: ``AdversarialConfig.demem_variance`` picks.
* ``AdversarialModel(model, config)``: ``compile`` + ``fit`` train ``model`` with PGD-AT or TRADES
  (± DeMem); the attack's random starts come from the run's ``"adversary"`` stream and the
  model's ``adversary_step`` counter (checkpointed), so a resumed run draws what an uninterrupted
  one would. One replica only (no ``tf.distribute`` strategy).

Inputs are images in [``clip_min``, ``clip_max``] (default [0, 1]); ε and step sizes are in
those units (8/255 is 8 of 255 grey levels). Models output logits.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Dict, Optional

import numpy as np
import tensorflow as tf

from tfdpfair import validation
from tfdpfair.compat import keras, update_compiled_metrics
from tfdpfair.privacy.mechanisms import step_seed
from tfdpfair.randomness import RunStreams

STARTS = ("uniform", "normal", "none")
"""PGD's start: U(−ε, ε) noise (Madry et al.), N(0, 0.001²) noise (TRADES' reference code), or the input itself."""
METHODS = ("pgd_at", "trades")
DEMEM_VARIANCES = ("population", "sample")
"""The DeMem variance's divisor: N (the paper's Ψ) or N − 1 (the authors' code, ``torch.var``)."""


def _non_negative(value, name: str) -> None:
    validation.number(value, name)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


@dataclasses.dataclass(frozen=True)
class PGDConfig:
    """An L∞ PGD attack.

    Attributes:
      epsilon: radius of the L∞ ball, in input units (≥ 0; 8/255 for CIFAR in [0, 1]).
      step_size: per-step move α along the gradient's sign (> 0).
      steps: ascent steps (≥ 1).
      start: ``"uniform"``, ``"normal"`` or ``"none"`` (see ``STARTS``).
      clip_min, clip_max: the valid input range; every iterate stays inside it.
    """

    epsilon: float = 8 / 255
    step_size: float = 1.25 * (8 / 255) / 3
    steps: int = 3
    start: str = "uniform"
    clip_min: float = 0.0
    clip_max: float = 1.0

    def __post_init__(self) -> None:
        _non_negative(self.epsilon, "epsilon")
        validation.number(self.step_size, "step_size", positive=True)
        validation.integer(self.steps, "steps")
        validation.choice(self.start, STARTS, "start")
        if not self.clip_min < self.clip_max:
            raise ValueError(f"clip_min must be below clip_max, got [{self.clip_min}, {self.clip_max}]")


def cross_entropy_objective(y) -> Callable[[tf.Tensor], tf.Tensor]:
    """PGD-AT's inner objective: per-example cross-entropy of the logits against the labels ``y``."""
    return lambda logits: keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)


def kl_objective(natural_logits) -> Callable[[tf.Tensor], tf.Tensor]:
    """TRADES' inner objective: per-example KL(p(x) ‖ p(x′)), p(x) fixed from ``natural_logits``."""
    natural = tf.stop_gradient(tf.convert_to_tensor(natural_logits))
    return lambda logits: kl_divergence(natural_logits=natural, adversarial_logits=logits)


def kl_divergence(*, natural_logits, adversarial_logits) -> tf.Tensor:
    """Per-example KL(softmax(natural) ‖ softmax(adversarial)), in nats; shape [batch]."""
    log_p = tf.nn.log_softmax(natural_logits, axis=-1)
    log_q = tf.nn.log_softmax(adversarial_logits, axis=-1)
    return tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), axis=-1)


def _start(x, config: PGDConfig, seed) -> tf.Tensor:
    if config.start == "uniform":
        x = x + tf.random.stateless_uniform(tf.shape(x), seed=seed, minval=-config.epsilon, maxval=config.epsilon,
                                            dtype=x.dtype)
    elif config.start == "normal":
        x = x + 0.001 * tf.random.stateless_normal(tf.shape(x), seed=seed, dtype=x.dtype)
    return _project(x, x_natural=None, config=config)


def _project(x, *, x_natural, config: PGDConfig) -> tf.Tensor:
    """Into the ε-ball around ``x_natural`` (skipped when None), then into [clip_min, clip_max]."""
    if x_natural is not None:
        x = tf.clip_by_value(x, x_natural - config.epsilon, x_natural + config.epsilon)
    return tf.clip_by_value(x, config.clip_min, config.clip_max)


def pgd_attack(model: keras.Model, x, y, *, config: PGDConfig, seed,
               objective: Optional[Callable[[tf.Tensor], tf.Tensor]] = None) -> tf.Tensor:
    """L∞ PGD adversarial examples of (x, y) against ``model`` (inference mode), without gradient to the weights.

    ``seed``: a stateless seed (shape [2], int64) for the random start. ``objective``: logits →
    per-example losses to maximise (default: cross-entropy against ``y``). The start is
    projected into [clip_min, clip_max] only (as in Madry et al.'s code, it may sit anywhere in the
    ball); every step moves by ``step_size`` along the gradient's sign and projects into the ball
    around x and into [clip_min, clip_max]. Works eagerly and inside ``tf.function`` (a while loop).
    """
    x = tf.convert_to_tensor(x, tf.float32)
    objective = objective or cross_entropy_objective(y)
    start = _start(x, config, seed)

    def step(i, current):
        with tf.GradientTape() as tape:
            tape.watch(current)
            loss = tf.reduce_sum(objective(model(current, training=False)))
        moved = current + config.step_size * tf.sign(tape.gradient(loss, current))
        return i + 1, _project(moved, x_natural=x, config=config)

    _, adversarial = tf.while_loop(lambda i, _: i < config.steps, step, [tf.constant(0), start])
    return tf.stop_gradient(adversarial)


def robust_accuracy(model: keras.Model, x, y, *, config: PGDConfig, seed: int = 0, batch_size: int = 256) -> float:
    """Accuracy in [0, 1] on PGD adversarial examples of (x, y) (each batch attacked separately)."""
    key = tf.constant(RunStreams(seed=seed, name="robust_accuracy").key("adversary"), tf.int64)
    x = np.asarray(x, np.float32)
    y = np.asarray(y)

    # one trace per call, whatever the last batch's size
    @tf.function(input_signature=[tf.TensorSpec((None, *x.shape[1:]), tf.float32),
                                  tf.TensorSpec((None,), tf.as_dtype(y.dtype)), tf.TensorSpec((), tf.int64)])
    def hits(xb, yb, batch):
        adversarial = pgd_attack(model, xb, yb, config=config, seed=step_seed(key, batch))
        predicted = tf.argmax(model(adversarial, training=False), axis=-1, output_type=tf.int64)
        return tf.reduce_sum(tf.cast(predicted == tf.cast(yb, tf.int64), tf.int64))

    total = 0
    for batch, start in enumerate(range(0, len(x), batch_size)):
        total += int(hits(tf.constant(x[start:start + batch_size], tf.float32),
                          tf.constant(y[start:start + batch_size]), tf.constant(batch, tf.int64)))
    return total / len(x)


def demem_penalty(losses, *, lam: float, variance: str = "population") -> tf.Tensor:
    """λ · the variance of per-example ``losses`` (shape [batch]): divisor N (``"population"``) or N − 1."""
    validation.choice(variance, DEMEM_VARIANCES, "variance")
    losses = tf.convert_to_tensor(losses)
    n = tf.cast(tf.size(losses), losses.dtype)
    squares = tf.reduce_sum(tf.square(losses - tf.reduce_mean(losses)))
    return lam * squares / (n if variance == "population" else tf.maximum(n - 1.0, 1.0))


def trades_loss(*, natural_logits, adversarial_logits, labels, beta: float) -> tf.Tensor:
    """Per-example TRADES loss CE(f(x), y) + β · KL(p(x) ‖ p(x′)); shape [batch]."""
    ce = keras.losses.sparse_categorical_crossentropy(labels, natural_logits, from_logits=True)
    return ce + beta * kl_divergence(natural_logits=natural_logits, adversarial_logits=adversarial_logits)


@dataclasses.dataclass(frozen=True)
class AdversarialConfig:
    """Adversarial training.

    Attributes:
      method: ``"pgd_at"`` (train on the PGD examples' cross-entropy) or ``"trades"``.
      attack: the training-time attack (TRADES: its inner maximisation of the KL term; its
        reference code starts from N(0, 0.001²) noise, ``start="normal"``).
      trades_beta: β of TRADES (6 in Zhang et al. and DeMem), ≥ 0.
      demem_lambda: λ of the DeMem penalty (0 = off), ≥ 0.
      demem_variance: ``"population"`` (÷ N, the paper) or ``"sample"`` (÷ N − 1, the authors' code).
    """

    method: str = "pgd_at"
    attack: PGDConfig = PGDConfig()
    trades_beta: float = 6.0
    demem_lambda: float = 0.0
    demem_variance: str = "population"

    def __post_init__(self) -> None:
        validation.choice(self.method, METHODS, "method")
        if self.method == "trades" and self.attack.start == "none":
            raise ValueError("TRADES' attack needs a random start: at x' = x the KL term's gradient is zero "
                             "(use start='normal', as TRADES' reference code)")
        _non_negative(self.trades_beta, "trades_beta")
        _non_negative(self.demem_lambda, "demem_lambda")
        validation.choice(self.demem_variance, DEMEM_VARIANCES, "demem_variance")


def adversarial_objective(model: keras.Model, x, y, *, config: AdversarialConfig, seed) -> Dict[str, tf.Tensor]:
    """The training loss of one batch (to differentiate w.r.t. the weights) and its parts.

    Returns ``loss`` (scalar: mean per-example loss + DeMem penalty), ``per_example`` (the losses
    the mean is over), ``adversarial_losses`` (per-example cross-entropy on the adversarial
    examples: the DeMem variance is over these), ``penalty`` and ``adversarial_logits``.
    """
    if config.method == "trades":
        natural_logits = model(x, training=True)
        adversarial = pgd_attack(model, x, y, config=config.attack, seed=seed,
                                 objective=kl_objective(model(x, training=False)))
        adversarial_logits = model(adversarial, training=True)
        per_example = trades_loss(natural_logits=natural_logits, adversarial_logits=adversarial_logits, labels=y,
                                  beta=config.trades_beta)
        adversarial_losses = keras.losses.sparse_categorical_crossentropy(y, adversarial_logits, from_logits=True)
    else:
        adversarial = pgd_attack(model, x, y, config=config.attack, seed=seed)
        adversarial_logits = model(adversarial, training=True)
        adversarial_losses = keras.losses.sparse_categorical_crossentropy(y, adversarial_logits, from_logits=True)
        per_example = adversarial_losses
    penalty = (demem_penalty(adversarial_losses, lam=config.demem_lambda, variance=config.demem_variance)
               if config.demem_lambda > 0 else tf.zeros([], per_example.dtype))
    return dict(loss=tf.reduce_mean(per_example) + penalty, per_example=per_example,
                adversarial_losses=adversarial_losses, penalty=penalty, adversarial_logits=adversarial_logits)


class AdversarialModel(keras.Model):
    """Wraps ``model`` (shares its weights); ``fit`` runs PGD-AT or TRADES steps (± DeMem). Save ``.model``.

    ``compile(optimizer, loss=..., metrics=...)``: the loss and metrics given are logged on the
    adversarial examples; the gradient step uses ``adversarial_objective`` (plus the model's
    regularization losses). ``streams``: the run's randomness (None: a fresh OS key).
    """

    def __init__(self, model: keras.Model, config: AdversarialConfig, *, streams: Optional[RunStreams] = None):
        super().__init__(name=f"adversarial_{model.name}")
        self.model = model
        self.config = config
        streams = streams if streams is not None else RunStreams()
        self.adversary_key = tf.Variable(streams.key("adversary"), dtype=tf.int64, trainable=False,
                                         name="adversary_key")
        self.adversary_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="adversary_step")

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if sample_weight is not None:
            raise ValueError("sample weights are not supported in adversarial training")
        if self.distribute_strategy.num_replicas_in_sync > 1:
            raise NotImplementedError("adversarial training under a multi-replica strategy is not supported yet "
                                      "(per-replica means would be summed, and replicas would share starts)")
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            parts = adversarial_objective(self.model, x, y, config=self.config,
                                          seed=step_seed(self.adversary_key, self.adversary_step))
            loss = parts["loss"] + (tf.add_n(self.model.losses) if self.model.losses else 0.0)
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        self.adversary_step.assign_add(1)
        logs = dict(update_compiled_metrics(self, y, parts["adversarial_logits"]))
        logs.update(training_loss=loss, demem_penalty=parts["penalty"])
        return logs


def pgd_adversary(config: PGDConfig) -> Callable:
    """``make_private(..., adversary=pgd_adversary(config))``: DP-SGD on the PGD examples' loss (DP + PGD-AT)."""
    return functools.partial(pgd_attack, config=config)
