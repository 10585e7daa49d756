"""The DP noise is never reused: not after ``resume``, not across the runs of a sweep — on every DP path.

Each test records the standard-normal draws of every step (the first values of the
first tensor of each noise draw, divided by σC) from inside the noise function, trains
once without interruption and once interrupted mid-run and resumed from the
checkpoint, and checks that the resumed run (a) draws in its second half exactly what
the uninterrupted run draws there, never a draw of its first half, and (b) ends with
the same weights. Runs of one seed with different names must share no draw at all.
"""
import numpy as np
import pytest
import tensorflow as tf

from tfdpfair import models
from tfdpfair.privacy import DPConfig, mechanisms
from tfdpfair.randomness import RunStreams
from tfdpfair.training import TrainConfig, train_classifier
from tfdpfair.training.gan import GANTrainConfig, train_gan
from tfdpfair.compat import keras

DP = DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0)


@pytest.fixture
def noise_log(monkeypatch):
    """Every noise draw's first four standard-normal values, in order, as tuples."""
    log = []
    original = mechanisms.gaussian_noise

    def recording(like, *, stddev, seed):
        noise = original(like, stddev=stddev, seed=seed)

        def record(values):
            log.append(tuple(np.round(values.astype(np.float64), 6)))
            return np.int64(0)

        token = tf.numpy_function(record, [tf.reshape(noise[0], [-1])[:4] / stddev], tf.int64, stateful=True)
        with tf.control_dependencies([token]):
            return [tf.identity(n) for n in noise]

    monkeypatch.setattr(mechanisms, "gaussian_noise", recording)
    return log


class Interrupt(keras.callbacks.Callback):
    """Stops the process the way a kill would: at the first batch of epoch ``at`` (after epoch ``at − 1``'s checkpoint)."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


def _flat(model):
    return np.concatenate([w.ravel() for w in model.get_weights()])


def _data(n=80, shape=(6, 6, 1), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n,) + shape).astype(np.float32)
    x[: n // 2] *= 0.05
    return x, rng.integers(0, 4, n)


def _classifier(train_config, streams, *, checkpoint_dir=None, resume=False, callbacks=(), dp=DP):
    x, y = _data()
    keras.utils.set_random_seed(1)
    model = models.get("mlp", input_shape=x.shape[1:], num_classes=4, hidden_units=(8,))
    run = train_classifier(model, x, y, dp=dp, train=train_config, streams=streams, checkpoint_dir=checkpoint_dir,
                           resume=resume, callbacks=callbacks, verbose=0)
    return model, run


def _interrupted_then_resumed(fit, tmp_path, log, at):
    """(draws before the interruption, draws after the resume, result of the resumed run)."""
    with pytest.raises(KeyboardInterrupt):
        fit(checkpoint_dir=tmp_path, callbacks=[Interrupt(at)])
    first = list(log)
    log.clear()
    result = fit(checkpoint_dir=tmp_path, resume=True)
    return first, list(log), result


def _check_resume(uninterrupted, first, second):
    assert first == uninterrupted[:len(first)]
    assert second == uninterrupted[len(first):], "the resumed run must continue the uninterrupted run's noise"
    assert not set(second) & set(first), "a resumed run redrew noise of its first half"
    assert len(set(uninterrupted)) == len(uninterrupted), "two steps drew the same noise"


CLASSIFIER_PATHS = {
    "plain": TrainConfig(batch_size=20, epochs=4, learning_rate=0.5),
    "chunked": TrainConfig(batch_size=20, epochs=4, learning_rate=0.5, physical_batch_size=8),
    "augmentation_multiplicity": TrainConfig(batch_size=20, epochs=4, learning_rate=0.5, augmentation_multiplicity=3),
    "dp_sat": TrainConfig(batch_size=20, epochs=4, learning_rate=0.5, sam_radius=0.05),
    "poisson": TrainConfig(batch_size=20, epochs=4, learning_rate=0.5, sampling="poisson"),
}


@pytest.mark.parametrize("path", sorted(CLASSIFIER_PATHS))
def test_resumed_classifier_continues_the_noise_and_equals_the_uninterrupted_run(path, noise_log, tmp_path):
    config = CLASSIFIER_PATHS[path]
    streams = RunStreams(seed=3, name=f"classifier/{path}")
    model, run = _classifier(config, streams)
    uninterrupted, weights = list(noise_log), _flat(model)
    noise_log.clear()
    first, second, (resumed_model, resumed) = _interrupted_then_resumed(
        lambda **kw: _classifier(config, streams, **kw), tmp_path, noise_log, at=2)
    assert len(uninterrupted) == run.privacy.steps == resumed.privacy.steps == 16
    _check_resume(uninterrupted, first, second)
    np.testing.assert_array_equal(_flat(resumed_model), weights)  # same batches, augmentations and noise
    assert resumed.privacy == run.privacy


@pytest.mark.parametrize("path", sorted(CLASSIFIER_PATHS))
def test_two_runs_of_one_sweep_share_no_draws(path, noise_log):
    config = CLASSIFIER_PATHS[path]
    _classifier(config, RunStreams(seed=0, name="sweep/eps=2"), dp=DPConfig(noise_multiplier=0.9))
    a = list(noise_log)
    noise_log.clear()
    _classifier(config, RunStreams(seed=0, name="sweep/eps=8"), dp=DPConfig(noise_multiplier=0.5))
    assert len(a) == len(noise_log) == 16 and not set(a) & set(noise_log)


def test_same_seed_and_name_repeat_and_an_unseeded_run_does_not(noise_log):
    config = CLASSIFIER_PATHS["plain"]
    _classifier(config, RunStreams(seed=5, name="a"))
    _classifier(config, RunStreams(seed=5, name="a"))
    assert noise_log[:16] == noise_log[16:]
    noise_log.clear()
    _classifier(config, RunStreams(name="a"))
    _classifier(config, RunStreams(name="a"))
    assert not set(noise_log[:16]) & set(noise_log[16:])


def test_an_unseeded_run_keeps_its_os_key_across_two_resumes(noise_log, tmp_path):
    """The OS-drawn root lives in the checkpoints: every resume continues the noise and the batch order."""
    config = CLASSIFIER_PATHS["plain"]
    streams = RunStreams(name="unseeded")

    def fit(resume=False, **kw):  # a resumed process draws a new root of its own, which the checkpoint overrides
        return _classifier(config, RunStreams(name="unseeded") if resume else streams, checkpoint_dir=tmp_path,
                           resume=resume, **kw)

    with pytest.raises(KeyboardInterrupt):
        fit(callbacks=[Interrupt(1)])
    with pytest.raises(KeyboardInterrupt):
        fit(resume=True, callbacks=[Interrupt(3)])
    model, _ = fit(resume=True)
    interrupted = list(noise_log)
    noise_log.clear()
    reference, _ = _classifier(config, streams)  # the same OS root, uninterrupted
    assert interrupted == noise_log and len(set(interrupted)) == 16
    np.testing.assert_array_equal(_flat(model), _flat(reference))


@pytest.mark.parametrize("policy", ["separate", "real_only", "joint"])
def test_resumed_gan_continues_the_discriminator_noise(policy, noise_log, tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.uniform(size=(60, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, 60)
    config = GANTrainConfig(batch_size=10, max_steps=24, d_steps=2, decay_step=10, latent_dim=8, policy=policy)
    streams = RunStreams(seed=1, name=f"gan/{policy}")

    def fit(**kw):
        keras.utils.set_random_seed(0)
        g = models.get("cgan_generator", latent_dim=8, hidden_units=16, image_shape=(8, 8, 1), num_classes=3)
        d = models.get("cgan_discriminator", hidden_units=16, image_shape=(8, 8, 1), num_classes=3)
        return train_gan(g, d, x, y, dp=DP, config=config, num_classes=3, streams=streams, verbose=0, **kw)

    run = fit()
    uninterrupted = list(noise_log)
    noise_log.clear()
    first, second, resumed = _interrupted_then_resumed(fit, tmp_path, noise_log, at=4)  # 3 generator steps per epoch
    assert len(uninterrupted) == run.privacy.steps == resumed.privacy.steps == 48
    _check_resume(uninterrupted, first, second)
    for a, b in ((run.gan.generator, resumed.gan.generator), (run.gan.discriminator, resumed.gan.discriminator)):
        np.testing.assert_array_equal(_flat(a), _flat(b))

    noise_log.clear()
    fit_other = train_gan  # the next GAN of a sweep: same seed, another name
    keras.utils.set_random_seed(0)
    g = models.get("cgan_generator", latent_dim=8, hidden_units=16, image_shape=(8, 8, 1), num_classes=3)
    d = models.get("cgan_discriminator", hidden_units=16, image_shape=(8, 8, 1), num_classes=3)
    fit_other(g, d, x, y, dp=DP, config=config, num_classes=3, streams=RunStreams(seed=1, name=f"gan/{policy}/2"),
              verbose=0)
    assert len(noise_log) == 48 and not set(noise_log) & set(uninterrupted)


def test_noise_is_a_pure_function_of_the_step_seed():
    like = [tf.zeros([50, 4]), tf.zeros([3])]
    key = tf.constant(RunStreams(seed=0, name="x").key("noise"), tf.int64)
    a = mechanisms.gaussian_noise(like, stddev=1.0, seed=mechanisms.step_seed(key, 7))
    b = mechanisms.gaussian_noise(like, stddev=1.0, seed=mechanisms.step_seed(key, 7))
    c = mechanisms.gaussian_noise(like, stddev=1.0, seed=mechanisms.step_seed(key, 8))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.allclose(a[0], c[0])
    assert not np.allclose(a[0].numpy().ravel()[:3], a[1].numpy())  # tensors of one step draw separately
    with pytest.raises(ValueError, match="noise seed"):
        mechanisms.privatize([tf.zeros([3])], l2_norm_clip=1.0, noise_multiplier=1.0, expected_batch_size=1)


def test_noise_seeds_are_full_64_bit_hashes_of_the_step_and_the_tensor():
    """fold_in hashes to the width of what it folds in: a 32-bit index would give 32-bit seeds, and two steps of a
    long run (or two models of a sweep) would share every noise draw after ~2^16 steps."""
    key = tf.constant(RunStreams(seed=0, name="x").key("noise"), tf.int64)
    seeds = [mechanisms.step_seed(mechanisms.step_seed(key, t), i).numpy() for t in range(40) for i in range(3)]
    assert all(seed.dtype == np.int64 for seed in seeds) and len({tuple(seed) for seed in seeds}) == 120
    words = {int(seed[0]) for seed in seeds}  # fold_in(s, i) = [64-bit hash of s, i]: one hash per step
    assert len(words) == 40 and sum(abs(w) >= 2**32 for w in words) > 30  # full 64-bit words
    like = [tf.zeros([5]), tf.zeros([2, 3])]
    step = mechanisms.step_seed(key, 7)
    for i, (drawn, t) in enumerate(zip(mechanisms.gaussian_noise(like, stddev=1.0, seed=step), like)):
        np.testing.assert_array_equal(drawn, tf.random.stateless_normal(t.shape, seed=mechanisms.step_seed(step, i)))


def test_secure_noise_is_fresh_every_call_with_std_sigma_C():
    zeros = [tf.zeros([200, 100]), tf.zeros([7])]
    a = mechanisms.privatize(zeros, l2_norm_clip=0.5, noise_multiplier=3.0, expected_batch_size=1, secure=True)
    b = mechanisms.privatize(zeros, l2_norm_clip=0.5, noise_multiplier=3.0, expected_batch_size=1, secure=True)
    assert np.std(a[0]) == pytest.approx(1.5, rel=0.03)
    assert abs(np.mean(a[0])) < 4 * 1.5 / np.sqrt(a[0].numpy().size)
    assert not np.any(a[0].numpy() == b[0].numpy())
    assert not np.any(np.isin(a[1].numpy(), a[0].numpy()))


def test_secure_streams_train_with_fresh_noise_each_run(tmp_path):
    config = CLASSIFIER_PATHS["plain"]
    secure = RunStreams(seed=0, name="s", secure=True)
    a, _ = _classifier(config, secure)
    b, _ = _classifier(config, secure)
    assert not np.allclose(_flat(a), _flat(b))
