import numpy as np
import pytest
import tensorflow as tf

from tfdpfair import models
from tfdpfair.privacy import DPConfig, compute_epsilon
from tfdpfair.privacy.callbacks import PrivacyBudget
from tfdpfair.training.gan import DPGAN
from tfdpfair.compat import keras


def _gan(policy="separate", conditional=True, d_steps=1, dp=DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0)):
    keras.utils.set_random_seed(0)
    if conditional:
        g = models.get("cgan_generator", latent_dim=8, hidden_units=16, image_shape=(8, 8, 1), num_classes=3)
        d = models.get("cgan_discriminator", hidden_units=16, image_shape=(8, 8, 1), num_classes=3)
    else:
        g = models.get("dcgan_generator", latent_dim=8, image_shape=(8, 8, 1))
        d = models.get("dcgan_discriminator", image_shape=(8, 8, 1))
    gan = DPGAN(g, d, latent_dim=8, dp=dp, policy=policy, batch_size=10, d_steps=d_steps,
                num_classes=3 if conditional else None)
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.Adam(1e-3))
    return gan


def _data(n=200):
    rng = np.random.default_rng(0)
    return rng.uniform(size=(n, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize("policy", ["separate", "real_only", "joint"])
@pytest.mark.parametrize("conditional", [True, False])
def test_every_policy_trains_and_generates(policy, conditional):
    gan = _gan(policy, conditional)
    x, y = _data()
    history = gan.fit(x, y, batch_size=10, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][-1]) and np.isfinite(history.history["g_loss"][-1])
    assert gan.generate(5).shape == (5, 8, 8, 1)
    if conditional:
        assert gan.generate(3, labels=tf.constant([0, 1, 2])).shape == (3, 8, 8, 1)


def test_budget_counts_every_discriminator_step_and_never_overshoots():
    x, y = _data(200)
    q = 10 / 200
    kw = dict(sampling_rate=q, noise_multiplier=1.0, delta=1e-5)
    target = 0.5 * (compute_epsilon(steps=27, **kw) + compute_epsilon(steps=28, **kw))
    dp = DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0, target_epsilon=target)
    gan = _gan(dp=dp, d_steps=2)
    budget = PrivacyBudget(dp=dp, sampling_rate=q, steps_per_batch=2)
    gan.fit(x, y, batch_size=20, epochs=5, verbose=0, callbacks=[budget])  # 10 batches (20 D steps) per epoch
    assert budget.steps == 26  # 13 batches; a 14th would take steps 27 and 28, past the budget
    assert budget.stopped_by_budget and budget.spend().epsilon <= target
    assert int(gan.d_optimizer.iterations.numpy()) == 26 and int(gan.g_optimizer.iterations.numpy()) == 13


def test_non_private_gan_and_bad_arguments():
    gan = _gan(dp=DPConfig().disabled())
    x, y = _data(40)
    gan.fit(x, y, batch_size=10, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="unknown discriminator policy"):
        _gan(policy="fake_only")


def test_train_gan_stops_at_max_steps_and_charges_the_budget():
    from tfdpfair.training.gan import GANTrainConfig, train_gan

    x, y = _data(200)
    keras.utils.set_random_seed(0)
    g = models.get("cgan_generator", latent_dim=8, hidden_units=16, image_shape=(8, 8, 1), num_classes=3)
    d = models.get("cgan_discriminator", hidden_units=16, image_shape=(8, 8, 1), num_classes=3)
    config = GANTrainConfig(batch_size=10, max_steps=25, d_steps=2, decay_step=10, latent_dim=8)
    run = train_gan(g, d, x, y, dp=DPConfig(noise_multiplier=1.0), config=config, num_classes=3, verbose=0)
    assert run.generator_steps == 25 and run.privacy.steps == 50
    assert run.privacy.sampling_rate == 10 / 200
    assert len(run.history["epsilon"]) == 3  # 10 generator steps per epoch: 10 + 10 + 5
    with pytest.raises(ValueError, match="exceeds"):
        train_gan(g, d, x[:15], y[:15], dp=DPConfig(), config=config, num_classes=3, verbose=0)


def test_train_gan_resumes_with_its_accountant(tmp_path):
    from tfdpfair.training.gan import GANTrainConfig, train_gan

    x, y = _data(200)

    def fit(max_steps, resume):
        keras.utils.set_random_seed(0)
        g = models.get("cgan_generator", latent_dim=8, hidden_units=16, image_shape=(8, 8, 1), num_classes=3)
        d = models.get("cgan_discriminator", hidden_units=16, image_shape=(8, 8, 1), num_classes=3)
        config = GANTrainConfig(batch_size=10, max_steps=max_steps, latent_dim=8)
        return train_gan(g, d, x, y, dp=DPConfig(noise_multiplier=1.0), config=config, num_classes=3, verbose=0,
                         checkpoint_dir=tmp_path, resume=resume)

    fit(20, False)  # one epoch is 20 steps
    resumed = fit(40, True)
    assert resumed.generator_steps == 40 and resumed.privacy.steps == 40
    assert len(resumed.history["epsilon"]) == 2


def test_generated_samples_keep_one_grid_per_epoch():
    from tfdpfair.training.gan import GeneratedSamples

    gan = _gan(conditional=False)
    x, _ = _data(40)
    watch = GeneratedSamples(n=4)
    gan.fit(x, batch_size=10, epochs=3, verbose=0, callbacks=[watch])
    assert len(watch.images) == 3 and watch.images[0].shape == (4, 8, 8, 1)
    assert not np.allclose(watch.images[0], watch.images[-1])


def _mean_and_spread(images):
    return {"mean": float(np.mean(images)), "std": float(np.std(images))}


@pytest.mark.parametrize("conditional", [True, False])
def test_epoch_measures_measure_each_epoch_on_the_images_a_final_evaluation_draws(conditional):
    from tfdpfair.training.gan import EpochMeasures

    gan = _gan(conditional=conditional)
    x, y = _data(40)
    trace = EpochMeasures(_mean_and_spread, n=12, seed=5)
    gan.fit(x, y if conditional else None, batch_size=10, epochs=3, verbose=0, callbacks=[trace])
    assert sorted(trace.values) == [1, 2, 3] and trace.values[1] != trace.values[3]
    labels = np.arange(12) % 3 if conditional else None
    assert trace.values[3] == _mean_and_spread(gan.generate_many(12, labels=labels, seed=5))


def test_epoch_measures_store_a_diverged_value_as_none_print_it_and_refuse_no_images(capsys):
    from tfdpfair.training.gan import EpochMeasures

    gan = _gan(conditional=False)
    trace = EpochMeasures(lambda images: {"fid": float("nan"), "share": 0.25}, n=2, verbose=True)
    gan.fit(_data(20)[0], batch_size=10, epochs=1, verbose=0, callbacks=[trace])
    assert trace.values == {1: {"fid": None, "share": 0.25}}
    assert "epoch 1, measured on 2 generated images: fid diverged, share 0.25" in capsys.readouterr().out
    with pytest.raises(ValueError, match="n >= 1"):
        EpochMeasures(_mean_and_spread, n=0)


def test_epoch_measures_survive_a_resume_and_equal_an_uninterrupted_run(tmp_path):
    from tfdpfair.training.gan import EpochMeasures, GANTrainConfig, train_gan

    x, _ = _data(40)

    def fit(max_steps, directory, resume):
        keras.utils.set_random_seed(0)
        g = models.get("dcgan_generator", latent_dim=8, image_shape=(8, 8, 1))
        d = models.get("dcgan_discriminator", image_shape=(8, 8, 1))
        trace = EpochMeasures(_mean_and_spread, n=6, seed=1)
        train_gan(g, d, x, None, dp=DPConfig(noise_multiplier=1.0), verbose=0, callbacks=[trace],
                  config=GANTrainConfig(batch_size=10, max_steps=max_steps, latent_dim=8), seed=3,
                  checkpoint_dir=directory, resume=resume)
        return trace.values

    whole = fit(12, tmp_path / "whole", False)  # 4 generator steps an epoch: 3 epochs
    fit(4, tmp_path / "parts", False)
    assert sorted(whole) == [1, 2, 3] and fit(12, tmp_path / "parts", True) == whole


def test_generate_many_returns_n_images_across_chunks_with_the_given_labels():
    gan = _gan(conditional=True)
    seen = []
    original = gan.generate
    gan.generate = lambda n, labels=None, **kw: seen.append(labels.numpy().tolist()) or original(n, labels=labels, **kw)
    labels = np.arange(11) % 3
    images = gan.generate_many(11, labels=labels, chunk=4)
    assert images.shape == (11, 8, 8, 1) and 0.0 <= images.min() and images.max() <= 1.0
    assert [len(c) for c in seen] == [4, 4, 3] and sum(seen, []) == labels.tolist()


def test_gan_config_checks_the_generator_optimizer():
    from tfdpfair.training.gan import GANTrainConfig

    assert GANTrainConfig(g_optimizer="adam", g_learning_rate=1e-3, g_beta_1=0.9).g_learning_rate == 1e-3
    for bad in (dict(g_optimizer="rmsprop"), dict(g_learning_rate=0.0), dict(g_beta_1=1.0)):
        with pytest.raises(ValueError, match="g_optimizer|g_learning_rate"):
            GANTrainConfig(**bad)
