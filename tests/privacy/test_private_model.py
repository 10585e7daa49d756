"""tfdpfair's own DP step (``make_private``) on every path: plain, chunked, augmentation multiplicity, DP-SAT, Poisson."""
import numpy as np
import pytest
import tensorflow as tf

from tfdpfair import models
from tfdpfair.privacy import DPConfig, make_private
from tfdpfair.training import TrainConfig, compile_for_training, train_classifier
from tfdpfair.compat import EMA_STARTS_AFTER_FIRST_STEP, KERAS3, keras

C = 2.0
SIGMA = 2.0


def _noise(dp_probe, x, y, **kw):
    clean = dp_probe.privatised_sum(x, y, l2_norm_clip=C, **kw)
    return np.concatenate([dp_probe.privatised_sum(x, y, l2_norm_clip=C, noise_multiplier=SIGMA, seed=s, **kw)
                           - clean for s in range(3)])


@pytest.mark.parametrize("method", ["layerwise", "vmap"])
@pytest.mark.parametrize("model_name,shape", [("mlp", (6, 6, 1)), ("wincott_cnn", (28, 28, 1))])
def test_clipped_sum_equals_the_definition_and_tf_privacy_gaussian_sum_query(method, model_name, shape, dp_probe):
    """Both stacks: our clipped sum equals TF Privacy's own clip-and-sum mechanism (GaussianSumQuery, σ = 0)."""
    x, y = dp_probe.data(12 if model_name == "mlp" else 6, input_shape=shape)
    expected, n_clipped = dp_probe.reference(x, y, l2_norm_clip=C, model_name=model_name)
    assert 0 < n_clipped < len(x)
    ours = dp_probe.privatised_sum(x, y, l2_norm_clip=C, model_name=model_name, method=method)
    np.testing.assert_allclose(ours, expected, atol=5e-5, rtol=1e-3)
    np.testing.assert_allclose(ours, dp_probe.tf_privacy_sum(x, y, l2_norm_clip=C, model_name=model_name),
                               atol=5e-5, rtol=1e-3)


@pytest.mark.skipif(KERAS3, reason="TF Privacy's DPModel is Keras 2 code: tf-keras and TF_USE_LEGACY_KERAS=1")
def test_clipped_sum_equals_tf_privacy_dp_model(dp_probe):
    x, y = dp_probe.data(12)
    np.testing.assert_allclose(dp_probe.privatised_sum(x, y, l2_norm_clip=C),
                               dp_probe.privatised_sum(x, y, l2_norm_clip=C, backend="dp_model"), atol=2e-5, rtol=1e-4)


@pytest.mark.skipif(KERAS3, reason="TF Privacy's DPModel is Keras 2 code: tf-keras and TF_USE_LEGACY_KERAS=1")
def test_equals_tf_privacy_on_the_wincott_cnn(dp_probe):
    x, y = dp_probe.data(8, input_shape=(28, 28, 1))
    kw = dict(l2_norm_clip=C, model_name="wincott_cnn")
    np.testing.assert_allclose(dp_probe.privatised_sum(x, y, **kw),
                               dp_probe.privatised_sum(x, y, backend="dp_model", **kw), atol=5e-5, rtol=1e-3)


@pytest.mark.parametrize("options", [{}, {"physical_batch_size": 3}], ids=["whole", "chunks_of_3"])
def test_sensitivity(options, dp_probe):
    x, y = dp_probe.data(10)
    full = dp_probe.privatised_sum(x, y, l2_norm_clip=C, **options)
    for i in (0, 7):
        keep = np.arange(len(x)) != i
        assert np.linalg.norm(full - dp_probe.privatised_sum(x[keep], y[keep], l2_norm_clip=C, **options)) <= C * 1.0001
    huge = np.full((1,) + x.shape[1:], 1e4, dtype=np.float32)
    added = dp_probe.privatised_sum(np.concatenate([x, huge]), np.concatenate([y, [0]]), l2_norm_clip=C, **options)
    assert np.linalg.norm(added - full) == pytest.approx(C, rel=1e-3)


def test_chunked_logical_batch_has_the_same_clipped_sum(dp_probe):
    x, y = dp_probe.data(10)
    np.testing.assert_allclose(dp_probe.privatised_sum(x, y, l2_norm_clip=C, physical_batch_size=3),
                               dp_probe.privatised_sum(x, y, l2_norm_clip=C), atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("options", [{}, {"physical_batch_size": 4}, {"augmentation_multiplicity": 4}],
                         ids=["whole", "chunks_of_4", "augmult_4"])
def test_noise_is_sigma_C_once_per_logical_step(options, dp_probe):
    """Noise per chunk would give σC·√4 with 16 examples in chunks of 4; per copy, σC·√4 with K = 4."""
    x, y = dp_probe.data(16, input_shape=(8, 8, 1))
    noise = _noise(dp_probe, x, y, **options)
    assert np.std(noise) == pytest.approx(SIGMA * C, rel=0.06)
    assert abs(np.mean(noise)) < 4 * SIGMA * C / np.sqrt(noise.size)


def _private(dp, **kw):
    keras.utils.set_random_seed(3)
    model = models.get("mlp", input_shape=(6, 6, 1), num_classes=4)
    private = make_private(model, dp, **kw)
    private.compile(optimizer=keras.optimizers.SGD(1.0),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, private


def _flat(ws):
    return np.concatenate([np.ravel(w) for w in ws])


def test_dp_sat_ascends_along_the_previous_privatized_gradient(dp_probe):
    x, y = dp_probe.data(10)
    model, private = _private(DPConfig(l2_norm_clip=C, noise_multiplier=1.0), sat_radius=0.05)
    assert np.allclose(_flat([e.numpy() for e in private.ascent_perturbation(x, y)]), 0), "no history: no ascent"
    w0 = _flat(model.get_weights())
    private.train_on_batch(x, y)
    applied = w0 - _flat(model.get_weights())  # lr = 1: the privatized gradient of step 1
    np.testing.assert_allclose(_flat([g.numpy() for g in private.previous_grads]), applied, rtol=1e-5, atol=1e-7)
    e = _flat([t.numpy() for t in private.ascent_perturbation(x, y)])
    assert np.linalg.norm(e) == pytest.approx(0.05, rel=1e-5)
    np.testing.assert_allclose(e, 0.05 * applied / np.linalg.norm(applied), rtol=1e-4, atol=1e-8)


def test_dp_sat_step_sensitivity_at_a_fixed_state(dp_probe):
    """From the same weights and the same previous gradient, D and D without one example differ by ≤ C."""
    x, y = dp_probe.data(10)
    rng = np.random.default_rng(5)

    def step_sum(xx, yy):
        model, private = _private(DPConfig(l2_norm_clip=C, noise_multiplier=0.0), sat_radius=0.5)
        for g, value in zip(private.previous_grads, state):
            g.assign(value)
        w0 = _flat(model.get_weights())
        private.train_on_batch(xx, yy)
        return len(xx) * (w0 - _flat(model.get_weights()))

    _, template = _private(DPConfig(l2_norm_clip=C, noise_multiplier=0.0), sat_radius=0.5)
    state = [rng.normal(size=g.shape).astype(np.float32) for g in template.previous_grads]
    full = step_sum(x, y)
    for i in (1, 8):
        keep = np.arange(10) != i
        assert np.linalg.norm(full - step_sum(x[keep], y[keep])) <= C * 1.0001


def test_sam_moves_the_weights_by_rho_along_the_batch_gradient_and_back(dp_probe):
    x, y = dp_probe.data(10)
    model, private = _private(DPConfig().disabled(), sat_radius=0.1)
    e = private.ascent_perturbation(tf.constant(x), tf.constant(y))
    assert np.linalg.norm(_flat([t.numpy() for t in e])) == pytest.approx(0.1, rel=1e-5)
    w0 = model.get_weights()
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for v, d in zip(model.trainable_variables, e):
        v.assign_add(d)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    g_adv = _flat([t.numpy() for t in tape.gradient(loss, model.trainable_variables)])
    model.set_weights(w0)
    private.train_on_batch(x, y)
    np.testing.assert_allclose(_flat(model.get_weights()), _flat(w0) - g_adv, rtol=1e-4, atol=1e-6)


def test_dp_sat_costs_no_extra_privacy():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(size=(200, 6, 6, 1)).astype(np.float32), rng.integers(0, 4, 200)
    runs = []
    for radius in (0.0, 0.05):
        keras.utils.set_random_seed(0)
        model = models.get("mlp", input_shape=(6, 6, 1), num_classes=4)
        runs.append(train_classifier(model, x, y, dp=DPConfig(noise_multiplier=1.0),
                                     train=TrainConfig(batch_size=20, epochs=2, learning_rate=0.1, sam_radius=radius),
                                     verbose=0))
    assert runs[0].privacy == runs[1].privacy and runs[1].privacy.steps == 20


def test_an_empty_poisson_batch_is_a_noise_only_step():
    model, private = _private(DPConfig(l2_norm_clip=C, noise_multiplier=SIGMA), expected_batch_size=5.0)
    w0 = _flat(model.get_weights())
    private.train_on_batch(np.zeros((0, 6, 6, 1), np.float32), np.zeros((0,), np.int64))
    noise = 5.0 * (w0 - _flat(model.get_weights()))
    assert np.std(noise) == pytest.approx(SIGMA * C, rel=0.1)


def test_an_empty_fixed_size_batch_is_refused():
    _, private = _private(DPConfig(l2_norm_clip=C, noise_multiplier=SIGMA))
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected_batch_size"):
        private.train_on_batch(np.zeros((0, 6, 6, 1), np.float32), np.zeros((0,), np.int64))


def test_poisson_training_runs_and_counts_every_step():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(size=(100, 6, 6, 1)).astype(np.float32), rng.integers(0, 4, 100)
    keras.utils.set_random_seed(0)
    model = models.get("mlp", input_shape=(6, 6, 1), num_classes=4)
    run = train_classifier(model, x, y, dp=DPConfig(noise_multiplier=1.0),
                           train=TrainConfig(batch_size=10, epochs=2, learning_rate=0.1, sampling="poisson"),
                           verbose=0)
    assert run.sampling == "poisson" and run.steps == 20 == run.privacy.steps


def test_ema_weights_are_evaluated_after_training():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(size=(40, 6, 6, 1)).astype(np.float32), rng.integers(0, 4, 40)
    raw = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raw.append(_flat(self.model.model.get_weights()))

    keras.utils.set_random_seed(0)
    model = models.get("logistic", input_shape=(6, 6, 1), num_classes=4)
    w0 = _flat(model.get_weights())
    train_classifier(model, x, y, dp=DPConfig(noise_multiplier=0.5),
                     train=TrainConfig(batch_size=10, epochs=2, learning_rate=0.5, ema_decay=0.6),
                     callbacks=[Record()], verbose=0)
    ema, steps = (raw[0], raw[1:]) if EMA_STARTS_AFTER_FIRST_STEP else (w0, raw)
    for w in steps:
        ema = 0.6 * ema + 0.4 * w
    np.testing.assert_allclose(_flat(model.get_weights()), ema, rtol=1e-4, atol=1e-6)
    assert not np.allclose(ema, raw[-1])


def test_batch_norm_is_refused_under_dp():
    with pytest.raises(ValueError, match="GroupNormalization"):
        make_private(models.get("resnet18", norm="batch"), DPConfig())
    make_private(models.get("resnet18", norm="batch"), DPConfig().disabled())  # fine without DP


def test_microbatches_and_bad_options_are_refused():
    model = models.get("logistic")
    with pytest.raises(ValueError, match="num_microbatches"):
        make_private(model, DPConfig(num_microbatches=5))
    with pytest.raises(ValueError, match="physical_batch_size"):
        make_private(model, DPConfig(), physical_batch_size=0)
    with pytest.raises(ValueError, match="backend 'dp_model' supports none"):
        TrainConfig(backend="dp_model", augmentation_multiplicity=4)
    with pytest.raises(ValueError, match="steps_per_execution"):
        compile_for_training(model, dp=DPConfig(), train=TrainConfig()).compile(optimizer="sgd", loss="mse",
                                                                                 steps_per_execution=2)


def test_dp_sat_noise_is_sigma_C_at_a_fixed_state(dp_probe):
    x, y = dp_probe.data(16)
    rng = np.random.default_rng(2)
    _, template = _private(DPConfig(l2_norm_clip=C, noise_multiplier=0.0), sat_radius=0.5)
    state = [rng.normal(size=g.shape).astype(np.float32) for g in template.previous_grads]

    def step_sum(sigma, seed):
        model, private = _private(DPConfig(l2_norm_clip=C, noise_multiplier=sigma), sat_radius=0.5)
        keras.utils.set_random_seed(seed)
        for g, value in zip(private.previous_grads, state):
            g.assign(value)
        w0 = _flat(model.get_weights())
        private.train_on_batch(x, y)
        return len(x) * (w0 - _flat(model.get_weights()))

    clean = step_sum(0.0, 0)
    noise = np.concatenate([step_sum(SIGMA, s) - clean for s in range(3)])
    assert np.std(noise) == pytest.approx(SIGMA * C, rel=0.06)


# -- DP-SGD + PGD-AT: each example's gradient at its own adversarial example, clipped as on every other path ------
ADVERSARY_PGD = dict(epsilon=0.1, step_size=0.05, steps=3)


def _adversary(**changes):
    from tfdpfair.training.adversarial import PGDConfig, pgd_adversary

    return pgd_adversary(PGDConfig(**{**ADVERSARY_PGD, **changes}))


@pytest.mark.parametrize("options", [{}, {"physical_batch_size": 3}], ids=["whole", "chunks_of_3"])
def test_adversarial_sensitivity(options, dp_probe):
    """Removing one example moves the pre-noise sum by at most C. The random starts are data-independent noise, one
    draw per row: the bound holds with the other rows' starts held fixed, which the test arranges by attacking from
    x itself (start="none") when it removes a middle example, and by removing the last one (the stateless uniform
    draw of n − 1 rows is the first n − 1 rows of the draw of n) with random starts."""
    x, y = dp_probe.data(10)
    for start, removed in (("none", 0), ("none", 7), ("uniform", len(x) - 1)):
        kw = dict(l2_norm_clip=C, adversary=_adversary(start=start), **options)
        keep = np.arange(len(x)) != removed
        full = dp_probe.privatised_sum(x, y, **kw)
        assert np.linalg.norm(full - dp_probe.privatised_sum(x[keep], y[keep], **kw)) <= C * 1.0001


def test_adversarial_clipped_sum_is_the_sum_of_each_examples_own_adversarial_gradient(dp_probe):
    """No random start: the DP step's clipped sum = Σ_i clip(∇ loss at PGD(x_i) computed for x_i alone)."""
    from tfdpfair.training.adversarial import PGDConfig, pgd_attack

    x, y = dp_probe.data(8)
    config = PGDConfig(start="none", **ADVERSARY_PGD)
    ours = dp_probe.privatised_sum(x, y, l2_norm_clip=C, adversary=_adversary(start="none"))
    model = models.get("mlp", input_shape=x.shape[1:], num_classes=4)
    model.set_weights(dp_probe.initial_weights("mlp", x.shape[1:], 4))
    alone = np.concatenate([pgd_attack(model, x[i:i + 1], y[i:i + 1], config=config, seed=tf.constant([0, 0], tf.int64))
                            for i in range(len(x))])
    expected, n_clipped = dp_probe.reference(alone, y, l2_norm_clip=C)
    assert 0 < n_clipped
    np.testing.assert_allclose(ours, expected, atol=5e-5, rtol=1e-3)
    assert not np.allclose(ours, dp_probe.reference(x, y, l2_norm_clip=C)[0], atol=1e-3)  # the attack moved x


def test_adversarial_noise_is_sigma_C_once_per_step(dp_probe):
    """Noise added per PGD step (or per chunk) would not give std σC."""
    x, y = dp_probe.data(16, input_shape=(8, 8, 1))
    kw = dict(l2_norm_clip=C, adversary=_adversary(), physical_batch_size=4)
    # each seed's own noiseless sum: the seed also moves the random starts, hence the clipped sum
    noise = np.concatenate([dp_probe.privatised_sum(x, y, noise_multiplier=SIGMA, seed=s, **kw)
                            - dp_probe.privatised_sum(x, y, seed=s, **kw) for s in range(3)])
    assert np.std(noise) == pytest.approx(SIGMA * C, rel=0.06)
