"""The DCGAN sweep's recipes in ``reproductions/dp_dcgan.py`` (the script's own runs are in test_reproductions)."""
import dataclasses

import pytest


@pytest.fixture(scope="module")
def dp_dcgan(load_script):
    return load_script("dp_dcgan")


@pytest.mark.parametrize("preset", ["smoke", "quick", "paper"])
def test_dp_models_train_with_the_recipe_and_the_non_private_one_only_with_scaled_learning_rates(dp_dcgan, preset):
    config = dataclasses.replace(dp_dcgan.PRESETS[preset], gan_nonprivate_lr_scale=0.25)
    recipe = dataclasses.replace(config.gan, max_steps=400, decay_step=200)
    _, settings = dp_dcgan._gan_settings(config, examples=4000)
    assert [label for label, _, _ in settings][-1] == "non-private"
    for label, eps, dp in settings:
        got = dp_dcgan._recipe(config, recipe, dp)
        if eps is not None:
            assert dp.enabled and got == recipe, label
        else:
            assert not dp.enabled
            assert got.learning_rate == pytest.approx(recipe.learning_rate / 4)
            assert got.learning_rate_after == pytest.approx(recipe.learning_rate_after / 4)
            changed = {f.name for f in dataclasses.fields(got) if getattr(got, f.name) != getattr(recipe, f.name)}
            assert changed == {"learning_rate", "learning_rate_after"}


def test_scale_one_trains_the_non_private_model_with_the_dp_recipe(dp_dcgan):
    config = dataclasses.replace(dp_dcgan.PRESETS["quick"], gan_nonprivate_lr_scale=1)
    assert dp_dcgan._recipe(config, config.gan, config.dp.disabled()) == config.gan


@pytest.mark.parametrize("scale", [0, -0.2, float("nan"), True])
def test_the_scale_must_be_a_positive_number(dp_dcgan, scale):
    with pytest.raises(ValueError, match="gan_nonprivate_lr_scale"):
        dataclasses.replace(dp_dcgan.PRESETS["quick"], gan_nonprivate_lr_scale=scale)
