"""``make_private(model, dp)``: a Keras model whose ``train_step`` is one DP-SGD step; train it with ``fit``.

Each step: (optionally) move to the DP-SAT ascent point; for each physical chunk of
the (logical) batch, K augmented copies per example → per-example gradients
(averaged over the copies) → clip to C → add to a running sum; then add
N(0, σ²C²) once, divide by the expected batch size, step the optimizer. With
``dp.enabled = False`` the same code trains without clipping or noise (the
baseline shares chunking, augmentation multiplicity and SAM).

Under ``tf.distribute`` every replica sums its share; only replica 0 adds the
noise, and Keras sums the replicas' gradients, so the noise is added once per step.

Randomness: the noise and augmentation of step t are pure functions of the run's keys
(``tfdpfair.randomness.RunStreams``) and t, where t is the model's ``dp_step``
variable. The keys and ``dp_step`` are variables of this model, so a checkpoint of it
(``tf.train.Checkpoint(model=private)``; add ``**tfdpfair.compat.checkpoint_extras(private)``
for the weights on Keras 3, as ``train_classifier``'s checkpoints do) holds them and a restored
run continues the streams where they stopped: it never redraws an earlier step's noise.
"""
from __future__ import annotations

from typing import Callable, List, Optional

import tensorflow as tf

from tfdpfair.data.augmentation import Augmentation
from tfdpfair.privacy.config import DPConfig
from tfdpfair.privacy.mechanisms import privatize, step_seed
from tfdpfair.privacy.per_example import make_clipper
from tfdpfair.randomness import RunStreams
from tfdpfair.compat import TRAIN_ON_BATCH_SPLITS_ACROSS_REPLICAS, keras, sublayers, update_compiled_metrics



def _check_no_batch_norm(model: keras.Model) -> None:
    for layer in sublayers(model):
        if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable:
            raise ValueError(
                f"layer {layer.name} is BatchNormalization, whose training-mode statistics mix examples and break "
                "per-example privacy; use GroupNormalization (the zoo's models take norm='group')"
            )


def _draw(seed, i):
    return None if seed is None else step_seed(seed, i)


class PrivateModel(keras.Model):
    """Wraps ``model`` (shares its weights); ``fit`` runs DP-SGD steps. Save ``.model``, not this wrapper.

    Args:
      model: a Keras model outputting predictions for ``loss``.
      dp: the mechanism; ``dp.num_microbatches`` must be None (per-example clipping).
      physical_batch_size: at most this many examples per vectorized chunk; the clipped
        sums of all chunks of a batch are added before the noise (None: the whole batch).
      augmentation: K augmented copies per example (augmentation multiplicity), or None.
      sat_radius: ρ ≥ 0; > 0 enables SAM (non-private) or DP-SAT (private: the ascent uses
        the previous step's privatized gradient, so it costs no privacy).
      expected_batch_size: divisor of the noisy sum (Poisson sampling: q·N, the global batch);
        None uses the batch's actual size (fixed-size batches), summed over replicas.
      method: per-example engine, ``auto``, ``layerwise`` or ``vmap``.
      streams: where the noise and augmentation come from (``RunStreams(seed=..., name=...)``
        for a reproducible run); None draws a fresh 128-bit key from the OS, so two
        models never share noise unless asked to.
      adversary: ``adversary(model, x, y, seed=...) → x′``, applied to each chunk (after augmentation)
        before the per-example gradients, e.g. ``tfdpfair.training.adversarial.pgd_adversary(config)``
        (DP-SGD + PGD-AT). Row i of x′ must be a function of row i of x, the weights and data-independent
        randomness drawn i.i.d. per row from ``seed`` (e.g. PGD's random start): the clipping then bounds
        each example's influence as on any other path. Not under a multi-replica strategy (replicas
        would share the seed).
    """

    def __init__(self, model: keras.Model, dp: DPConfig, *, physical_batch_size: Optional[int] = None,
                 augmentation: Optional[Augmentation] = None, sat_radius: float = 0.0,
                 expected_batch_size: Optional[float] = None, method: str = "auto",
                 streams: Optional[RunStreams] = None, adversary: Optional[Callable] = None):
        super().__init__(name=f"private_{model.name}")
        if dp.num_microbatches is not None:
            raise ValueError("make_private clips per example; set DPConfig.num_microbatches=None")
        if physical_batch_size is not None and physical_batch_size < 1:
            raise ValueError(f"physical_batch_size must be >= 1, got {physical_batch_size}")
        if sat_radius < 0:
            raise ValueError(f"sat_radius must be >= 0, got {sat_radius}")
        if adversary is not None and sat_radius > 0:
            raise NotImplementedError("SAM / DP-SAT with adversarial examples is not supported")
        if dp.enabled:
            _check_no_batch_norm(model)
        self.model = model
        self.dp = dp
        self.physical_batch_size = physical_batch_size
        self.augmentation = augmentation
        self.sat_radius = float(sat_radius)
        self.expected_batch_size = expected_batch_size
        self.method = method
        self.adversary = adversary
        self.streams = streams if streams is not None else RunStreams()
        self.secure_noise = self.streams.secure
        self.noise_key = tf.Variable(self.streams.key("noise"), dtype=tf.int64, trainable=False,
                                     name="dp_noise_key")
        self.augmentation_key = tf.Variable(self.streams.key("augmentation"), dtype=tf.int64, trainable=False,
                                            name="augmentation_key")
        # only with an adversary: a new variable would change the checkpoints of every other run
        self.adversary_key = (tf.Variable(self.streams.key("adversary"), dtype=tf.int64, trainable=False,
                                          name="adversary_key") if adversary is not None else None)
        # DP steps taken: the counter of both streams, saved with every checkpoint of this model.
        self.dp_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="dp_step",
                                   aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self._clipper = None
        # DP-SAT's previous privatized gradient, in a tf.Module so that checkpoints hold it on both stacks
        self._sat_state = tf.Module(name="dpsat")
        self._sat_state.previous_grads = []
        if self.sat_radius > 0 and dp.enabled:
            self._sat_state.previous_grads = [tf.Variable(tf.zeros_like(v), trainable=False,
                                                          name="dpsat_previous_grad") for v in model.trainable_variables]

    @property
    def previous_grads(self) -> List[tf.Variable]:
        """DP-SAT's state: the last step's privatized gradient, one variable per trainable variable (else [])."""
        return list(self._sat_state.previous_grads)

    @property
    def multiplicity(self) -> int:
        return self.augmentation.multiplicity if self.augmentation else 1

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    def compile(self, optimizer="sgd", loss=None, metrics=None, **kwargs):
        if kwargs.get("steps_per_execution", 1) != 1:
            raise ValueError("one fit batch is one DP step: steps_per_execution must be 1")
        # Keras 3 turns XLA on by default where a GPU is present; the step's chunk loop (a while loop
        # over TensorArrays) does not compile, and XLA made every DP step slower on CPU when measured.
        kwargs.setdefault("jit_compile", False)
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
        self._clipper = make_clipper(self.model, loss, method=self.method)

    def train_on_batch(self, *args, **kwargs):
        if not TRAIN_ON_BATCH_SPLITS_ACROSS_REPLICAS and self.distribute_strategy.num_replicas_in_sync > 1:
            raise ValueError("Keras 3's train_on_batch gives every replica the whole batch, so each example would "
                             "count once per replica against noise added once: use fit under a multi-replica strategy")
        return super().train_on_batch(*args, **kwargs)

    # -- one chunk of examples -------------------------------------------------------------
    def _chunk(self, x, y, seed, adversary_seed):
        """(gradient sums, labels, predictions) of one chunk; rows are the K augmented copies per example.

        ``seed``, ``adversary_seed``: the chunk's stateless augmentation and adversary seeds.
        """
        k = self.multiplicity
        if self.augmentation is not None:
            x = self.augmentation(x, seed=seed)
            y = tf.repeat(y, k, axis=0)
        if self.adversary is not None:
            x = self.adversary(self.model, x, y, seed=adversary_seed)
        if self.dp.enabled:
            result = self._clipper.clipped_sum(x, y, l2_norm_clip=self.dp.l2_norm_clip, multiplicity=k)
        else:
            result = self._clipper.gradient_sum(x, y, multiplicity=k)
        return result.sums, y, result.predictions

    def _gradient_sums(self, x, y, seed, adversary_seed):
        """Σ over all chunks of the (clipped) per-example gradients, plus labels and predictions for metrics.

        An empty batch (possible under Poisson sampling, i.e. with ``expected_batch_size``) contributes
        zero sums; without ``expected_batch_size`` batches have a fixed size and an empty one is an
        error (the branch that would handle it costs ≈ 6 % of a WRN step on CPU). Chunk i augments
        with ``fold_in(seed, i)`` and attacks with ``fold_in(adversary_seed, i)``.
        """
        def empty():
            return ([tf.zeros_like(v) for v in self.model.trainable_variables], y[:0],
                    tf.zeros(tf.TensorShape([0]).concatenate(self.model.output.shape[1:]), self.model.output.dtype))

        if x.shape[0] is not None and x.shape[0] > 0:  # a static, non-zero batch size: no branch needed
            return self._nonempty_sums(x, y, seed, adversary_seed)
        if self.expected_batch_size is None:
            tf.debugging.assert_greater(tf.shape(x)[0], 0, message="an empty batch needs expected_batch_size "
                                        "(Poisson sampling); fixed-size batches must not be empty")
            return self._nonempty_sums(x, y, seed, adversary_seed)
        return tf.cond(tf.shape(x)[0] > 0, lambda: self._nonempty_sums(x, y, seed, adversary_seed), empty)

    def _nonempty_sums(self, x, y, seed, adversary_seed):
        if self.physical_batch_size is None:
            return self._chunk(x, y, step_seed(seed, 0), _draw(adversary_seed, 0))
        n = tf.shape(x)[0]
        size = self.physical_batch_size
        variables = self.model.trainable_variables
        labels = tf.TensorArray(y.dtype, size=0, dynamic_size=True, infer_shape=False,
                                element_shape=tf.TensorShape([None]).concatenate(y.shape[1:]))
        preds = tf.TensorArray(self.model.output.dtype, size=0, dynamic_size=True, infer_shape=False,
                               element_shape=tf.TensorShape([None]).concatenate(self.model.output.shape[1:]))

        def body(i, start, sums, labels, preds):
            chunk_sums, chunk_labels, chunk_preds = self._chunk(x[start:start + size], y[start:start + size],
                                                                step_seed(seed, i), _draw(adversary_seed, i))
            return (i + 1, start + size, [s + c for s, c in zip(sums, chunk_sums)], labels.write(i, chunk_labels),
                    preds.write(i, chunk_preds))

        _, _, sums, labels, preds = tf.while_loop(
            lambda i, start, *_: start < n, body,
            [tf.constant(0), tf.constant(0), [tf.zeros_like(v) for v in variables], labels, preds])
        return sums, labels.concat(), preds.concat()

    # -- SAM / DP-SAT ------------------------------------------------------------------------
    def ascent_perturbation(self, x, y) -> List[tf.Tensor]:
        """The SAM step e = ρ·d/‖d‖: d is the previous privatized gradient (DP-SAT) or this batch's gradient."""
        if self.dp.enabled:
            direction = [tf.identity(g) for g in self._sat_state.previous_grads]
        else:
            r = self._clipper.gradient_sum(x, y)
            direction = r.sums
        norm = tf.linalg.global_norm(direction)
        scale = tf.where(norm > 0, self.sat_radius / tf.maximum(norm, 1e-12), 0.0)
        return [scale * d for d in direction]

    # -- the step ----------------------------------------------------------------------------
    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if sample_weight is not None:
            raise ValueError("sample weights are not supported under make_private")
        variables = self.model.trainable_variables
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1
        if self.adversary is not None and replicas > 1:
            raise NotImplementedError("an adversary under a multi-replica strategy is not supported yet (replicas "
                                      "would draw the same random starts)")
        if self.sat_radius > 0 and replicas > 1:
            raise NotImplementedError("SAM / DP-SAT under a multi-replica strategy is not supported yet")
        step = self.dp_step.read_value()
        perturbation = None
        if self.sat_radius > 0:
            perturbation = self.ascent_perturbation(x, y)
            for v, e in zip(variables, perturbation):
                v.assign_add(e)
        adversary_seed = step_seed(self.adversary_key, step) if self.adversary is not None else None
        sums, labels, predictions = self._gradient_sums(x, y, step_seed(self.augmentation_key, step), adversary_seed)
        if perturbation is not None:
            for v, e in zip(variables, perturbation):
                v.assign_sub(e)
        if self.expected_batch_size is not None:
            denominator = self.expected_batch_size
        else:  # the global batch: replicas may hold different shares of it
            local = tf.cast(tf.shape(x)[0], tf.float32)
            total = context.all_reduce(tf.distribute.ReduceOp.SUM, local) if replicas > 1 else local
            denominator = tf.maximum(total, 1.0)
        if self.dp.enabled:
            first = context is None or context.replica_id_in_sync_group == 0
            grads = privatize(sums, l2_norm_clip=self.dp.l2_norm_clip, noise_multiplier=self.dp.noise_multiplier,
                              expected_batch_size=denominator, seed=step_seed(self.noise_key, step),
                              secure=self.secure_noise, add_noise=first)
        else:
            grads = [s / tf.cast(denominator, s.dtype) for s in sums]
        if self.model.losses:  # data-independent regularizers: their gradient needs no clipping
            with tf.GradientTape() as tape:
                regularization = tf.add_n(self.model.losses)
            extra = tape.gradient(regularization, variables, unconnected_gradients="zero")
            grads = [g + e / replicas for g, e in zip(grads, extra)]  # Keras sums the replicas' gradients
        for slot, g in zip(self._sat_state.previous_grads, grads):
            slot.assign(g)
        self.optimizer.apply_gradients(zip(grads, variables))
        self.dp_step.assign_add(1)
        return update_compiled_metrics(self, labels, predictions)


def make_private(model: keras.Model, dp: DPConfig, **kwargs) -> PrivateModel:
    """Wrap ``model`` so that ``compile`` + ``fit`` train it with DP-SGD (see ``PrivateModel`` for options)."""
    return PrivateModel(model, dp, **kwargs)
