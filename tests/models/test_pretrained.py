"""Loading torchvision ResNet weights: every tensor lands transposed in its layer, and computes what torch would."""
import numpy as np
import pytest

from tfdpfair import models
from tfdpfair.models.pretrained import (PretrainedWeightsError, load_torchvision_resnet, load_weights_npz,
                                        save_weights_npz, torchvision_layer_map)
from tfdpfair.privacy.per_example import layerwise_unsupported
from tfdpfair.compat import keras


def _torch_shapes(model):
    """A torchvision-style state dict (random values) with the shapes torch would have for ``model``."""
    rng = np.random.default_rng(0)
    layers = {l.name: l for l in model.layers}
    sd = {}
    for prefix, (name, kind) in torchvision_layer_map("resnet18").items():
        if name not in layers:
            continue
        if kind == "conv":
            kh, kw, cin, cout = layers[name].kernel.shape
            sd[f"{prefix}.weight"] = (rng.normal(size=(cout, cin, kh, kw)) / np.sqrt(cin * kh * kw)).astype("float32")
        elif kind == "dense":  # ImageNet's 1,000 classes, whatever the model has
            sd[f"{prefix}.weight"] = rng.normal(size=(1000, layers[name].kernel.shape[0])).astype("float32")
            sd[f"{prefix}.bias"] = rng.normal(size=(1000,)).astype("float32")
        else:
            c = layers[name].gamma.shape[0]
            sd[f"{prefix}.weight"] = rng.uniform(0.5, 1.5, size=(c,)).astype("float32")
            sd[f"{prefix}.bias"] = rng.normal(size=(c,)).astype("float32")
            sd[f"{prefix}.running_mean"] = rng.normal(size=(c,)).astype("float32")
            sd[f"{prefix}.running_var"] = rng.uniform(0.5, 2, size=(c,)).astype("float32")
            sd[f"{prefix}.num_batches_tracked"] = np.array(7)
    return sd


def _save(tmp_path, sd):
    path = tmp_path / "resnet18_imagenet.npz"
    np.savez(path, **sd)
    return path


def _torch_conv(x, w_oihw, stride, pad):
    """PyTorch's Conv2d (cross-correlation, symmetric zero padding) in numpy, NHWC in and out."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    o, i, kh, kw = w_oihw.shape
    h = (x.shape[1] - kh) // stride + 1
    w = (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], h, w, o))
    for ky in range(kh):
        for kx in range(kw):
            patch = x[:, ky:ky + stride * h:stride, kx:kx + stride * w:stride, :]
            out += np.einsum("nhwi,oi->nhwo", patch, w_oihw[:, :, ky, kx])
    return out


@pytest.mark.parametrize("norm", ["batch", "group"])
def test_every_tensor_lands_transposed_in_its_layer(tmp_path, norm):
    model = models.get("resnet18", stem="imagenet", norm=norm, input_shape=(64, 64, 3), num_classes=1000)
    sd = _torch_shapes(model)
    loaded = load_torchvision_resnet(model, _save(tmp_path, sd))
    # fc + 20 convolutions (stem, 16 in blocks, 3 shortcuts) + their 20 norms
    assert "logits" in loaded and "stem_conv" in loaded and len(loaded) == 1 + 20 + 20
    layers = {l.name: l for l in model.layers}
    np.testing.assert_array_equal(layers["s1b0_conv0"].kernel.numpy(), sd["layer2.0.conv1.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(layers["logits"].kernel.numpy(), sd["fc.weight"].T)
    norm_weights = layers["s3b1_norm1"].get_weights()
    np.testing.assert_array_equal(norm_weights[0], sd["layer4.1.bn2.weight"])
    if norm == "batch":
        np.testing.assert_array_equal(norm_weights[3], sd["layer4.1.bn2.running_var"])
    else:
        assert len(norm_weights) == 2


def test_loaded_convolutions_compute_what_torch_computes(tmp_path):
    model = models.get("resnet18", stem="imagenet", norm="batch", input_shape=(32, 32, 3), num_classes=2)
    sd = _torch_shapes(model)
    loaded = load_torchvision_resnet(model, _save(tmp_path, sd))
    assert "logits" not in loaded  # 2 classes: the ImageNet classifier does not fit and is left fresh
    x = np.random.default_rng(1).random((2, 32, 32, 3)).astype("float32")
    probe = keras.Model(model.input, [model.get_layer(n).output for n in
                                         ("imagenet_normalize", "stem_conv", "s0b1_out", "s1b0_conv0")])
    normalized, stem, block_in, strided = (t.numpy() for t in probe(x))
    np.testing.assert_allclose(normalized, (x - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stem, _torch_conv(normalized, sd["conv1.weight"], stride=2, pad=3), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(strided, _torch_conv(block_in, sd["layer2.0.conv1.weight"], stride=2, pad=1),
                               rtol=1e-3, atol=1e-4)


def test_the_imagenet_resnet_trains_under_the_fast_dp_engine():
    model = models.get("resnet18", stem="imagenet", input_shape=(64, 64, 3), num_classes=2)
    assert not layerwise_unsupported(model)
    assert model.output_shape == (None, 2)


def test_mismatches_are_errors(tmp_path):
    model = models.get("resnet18", stem="imagenet", input_shape=(32, 32, 3), num_classes=2)
    sd = _torch_shapes(model)
    with pytest.raises(PretrainedWeightsError, match="no place"):
        load_torchvision_resnet(model, _save(tmp_path, {**sd, "layer5.0.conv1.weight": np.zeros(3)}))
    missing = {k: v for k, v in sd.items() if not k.startswith("layer3.1.conv2")}
    with pytest.raises(PretrainedWeightsError, match="no layer3.1.conv2.weight"):
        load_torchvision_resnet(model, _save(tmp_path, missing))
    cifar = models.get("resnet18", input_shape=(32, 32, 3), num_classes=2)  # 3×3 stem: torch's 7×7 does not fit
    with pytest.raises(PretrainedWeightsError, match="stem='imagenet'"):
        load_torchvision_resnet(cifar, _save(tmp_path, sd))
    with pytest.raises(FileNotFoundError, match="how to make it"):
        load_torchvision_resnet(model, tmp_path / "nope.npz")
    with pytest.raises(ValueError, match="unknown stem"):
        models.get("resnet18", stem="tiny")


def _wrn(classes, **kw):
    return models.get("wrn", depth=10, width=1, input_shape=(8, 8, 3), num_classes=classes, **kw)


def test_zoo_weights_move_to_a_model_with_another_classifier(tmp_path):
    keras.utils.set_random_seed(1)
    source = _wrn(1000)
    path = save_weights_npz(source, tmp_path / "imagenet.npz")
    keras.utils.set_random_seed(2)
    target = _wrn(100)
    head_before = [w.copy() for w in target.get_layer("logits").get_weights()]
    report = load_weights_npz(target, path)
    assert report["fresh"] == ["logits"] and report["unused"] == []
    body = [l for l in source.layers if l.get_weights() and l.name != "logits"]
    assert sorted(report["loaded"]) == sorted(l.name for l in body)
    for layer in body:
        for a, b in zip(layer.get_weights(), target.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(head_before, target.get_layer("logits").get_weights()):
        np.testing.assert_array_equal(a, b)  # the classifier keeps its fresh initialisation
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 3)).astype("float32")
    features = keras.Model(source.input, source.get_layer("pool").output)
    np.testing.assert_allclose(features(x), keras.Model(target.input, target.get_layer("pool").output)(x),
                               rtol=1e-5, atol=1e-6)


def test_zoo_weights_same_classes_load_every_layer_and_other_norms_are_listed(tmp_path):
    path = save_weights_npz(_wrn(10, norm="group"), tmp_path / "w.npz")
    report = load_weights_npz(_wrn(10, norm="group"), path)
    assert report["fresh"] == [] and report["unused"] == [] and "logits" in report["loaded"]
    without_norm = load_weights_npz(_wrn(10, norm="none"), path)  # DP baseline: no normalisation layers
    assert without_norm["fresh"] == [] and without_norm["unused"] and all("norm" in n for n in without_norm["unused"])


def test_zoo_weights_of_another_architecture_are_refused(tmp_path):
    path = save_weights_npz(_wrn(10), tmp_path / "w.npz")
    wider = models.get("wrn", depth=10, width=2, input_shape=(8, 8, 3), num_classes=10)
    with pytest.raises(PretrainedWeightsError, match="another architecture"):
        load_weights_npz(wider, path)
    with pytest.raises(FileNotFoundError):
        load_weights_npz(wider, tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, conv=np.zeros(3))
    with pytest.raises(PretrainedWeightsError, match="<layer>/<index>"):
        load_weights_npz(wider, bad)
