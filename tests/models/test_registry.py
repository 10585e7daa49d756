import numpy as np
import pytest

from tfdpfair import models
from tfdpfair.compat import keras


def test_first_zoo_entries():
    assert {"wincott_cnn", "mlp", "logistic"} <= set(models.names())


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(KeyError, match="known models: .*wincott_cnn"):
        models.get("resnet1000")


def test_the_static_zoo_list_is_the_registry():
    """Configs check model names against ``registry.ZOO`` before TensorFlow is imported."""
    from tfdpfair.models import registry

    assert sorted(registry.ZOO) == models.names()
    registry.check_name("wrn16_4")
    with pytest.raises(registry.UnknownModelError, match="unknown model 'resnet1000'; known models: .*wincott_cnn"):
        registry.check_name("resnet1000")


def test_registering_a_name_twice_fails():
    with pytest.raises(ValueError, match="already registered"):
        models.register("mlp")(lambda: None)


def test_wincott_cnn_architecture():
    model = models.get("wincott_cnn")
    kinds = [type(layer).__name__ for layer in model.layers[1:]]
    assert kinds == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]
    assert model.layers[-2].units == 32 and model.output_shape == (None, 10)
    assert model.count_params() == 26010


@pytest.mark.parametrize("name,kwargs", [
    ("wincott_cnn", {}),
    ("mlp", {"hidden_units": (16, 8), "input_shape": (8, 8, 1)}),
    ("logistic", {"input_shape": (8, 8, 1), "num_classes": 3}),
])
def test_keras_round_trip(name, kwargs, tmp_path):
    model = models.get(name, **kwargs)
    x = np.random.default_rng(0).uniform(size=(2,) + model.input_shape[1:]).astype(np.float32)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
