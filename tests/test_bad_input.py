"""Bad input never gives a traceback or a silent wrong answer: one line on stderr and exit status 2, or the right answer.

Each case is one found by the adversarial pass of issue 9. The scripts run in-process
(the checks fail before any training); ``test_cli_property.py`` adds random ``--set``
values on top.
"""
import json
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


def assert_one_line(code, err, message):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err


def _mnist_like(path, **arrays):
    rng = np.random.default_rng(0)
    base = {"x_train": rng.integers(0, 256, (300, 28, 28), dtype=np.uint8), "y_train": rng.integers(0, 10, 300),
            "x_test": rng.integers(0, 256, (100, 28, 28), dtype=np.uint8), "y_test": rng.integers(0, 10, 100)}
    base.update(arrays)
    np.savez(path / "mnist.npz", **{k: v for k, v in base.items() if v is not None})
    return path


def _with(x, value):
    x[0, 0, 0] = value
    return x


BAD_NPZ = {
    "truncated": ("cannot be read as an .npz file", lambda d: (d / "mnist.npz").write_bytes(
        (_mnist_like(d) / "mnist.npz").read_bytes()[:5000])),
    "not_a_zip": ("cannot be read as an .npz file", lambda d: (d / "mnist.npz").write_text("hello")),
    "wrong_names": ("has no split 'train'", lambda d: np.savez(d / "mnist.npz", images=np.zeros((3, 28, 28)))),
    "no_labels": ("has x_train but no y_train", lambda d: _mnist_like(d, y_train=None)),
    "label_count": ("one label per image", lambda d: _mnist_like(d, y_train=np.zeros(7, int))),
    "shape": ("expected (N, H, W) or (N, H, W, 1 or 3)", lambda d: _mnist_like(d, x_train=np.zeros((300, 28),
                                                                                                  np.uint8))),
    "range": ("pixel values in [-3, 0]", lambda d: _mnist_like(d, x_train=_with(np.zeros((300, 28, 28), np.int16),
                                                                             -3))),
    "float_labels": ("labels must be integers", lambda d: _mnist_like(d, y_train=np.full(300, 0.5))),
}


@pytest.mark.parametrize("case", sorted(BAD_NPZ))
def test_a_bad_npz_file_is_one_line(case, tmp_path, in_process):
    message, make = BAD_NPZ[case]
    make(tmp_path)
    code, _, err = in_process("dp_dcgan", ["--preset", "quick", "--dry-run", "--data-dir", str(tmp_path),
                                           "--out", str(tmp_path / "o")])
    assert_one_line(code, err, message)
    assert not (tmp_path / "o").exists()


def test_float_images_in_zero_one_are_scaled_not_zeroed(tmp_path):
    from tfdpfair import data

    x = np.random.default_rng(0).uniform(size=(300, 28, 28)).astype(np.float32)
    _mnist_like(tmp_path, x_train=x)
    loaded = data.load("mnist", "train", data_dir=str(tmp_path))
    assert loaded.x.dtype == np.uint8 and loaded.x.max() > 200
    np.testing.assert_array_equal(loaded.x[..., 0], np.rint(x * 255).astype(np.uint8))


@pytest.mark.parametrize("argv,message", [
    (["--set", "model=nope"], "unknown model 'nope'"),
    (["--set", "dataset=imagenet"], "unknown dataset 'imagenet'"),
    (["--set", "data_source=web"], "unknown data_source 'web'"),
    (["--set", "gan_epsilons=3"], "expected a JSON list"),
    (["--set", 'gan_epsilons=["a"]'], "list elements must be float"),
    (["--set", "gan_epsilons=[1, 1.0000001]"], "values that repeat"),
    (["--set", "train_examples=-5"], "train_examples must be None or an integer >= 1"),
    (["--set", 'stages=["bogus"]'], "unknown stages ['bogus']"),
    (["--set", "dp.l2_norm_clip=inf"], "expected a finite number"),
    (["--set", "train.epochs=nan"], "expected int"),
    (["--set", "gan.learning_rate=nan"], "expected a finite number"),
])
def test_bad_config_values_are_one_line_even_on_a_dry_run(argv, message, tmp_path, in_process):
    code, _, err = in_process("dp_dcgan", ["--preset", "smoke", "--dry-run", *argv, "--out", str(tmp_path / "o")])
    assert_one_line(code, err, message)


def test_gan_learning_rate_nan_in_dp_cgan(tmp_path, in_process):
    code, _, err = in_process("dp_cgan", ["--preset", "smoke", "--set", "gan.learning_rate=nan", "--out",
                                          str(tmp_path / "o")])
    assert_one_line(code, err, "expected a finite number")


def test_a_batch_larger_than_the_data_is_one_line_in_a_real_run(tmp_path, in_process):
    code, _, err = in_process("dp_dcgan", ["--preset", "smoke", "--set", "train.batch_size=800", "--out",
                                           str(tmp_path / "o")])
    assert_one_line(code, err, "batch size 800 exceeds the 250 training examples")
    assert not (tmp_path / "o").exists()  # nothing done: the failed start leaves no folder


@pytest.mark.parametrize("make,message", [("file", "is a file"), ("under_file", "lies under")])
def test_out_that_is_a_file_is_one_line(make, message, tmp_path, in_process):
    (tmp_path / "f").write_text("x")
    out = tmp_path / "f" if make == "file" else tmp_path / "f" / "sub"
    code, _, err = in_process("dp_dcgan", ["--preset", "smoke", "--dry-run", "--out", str(out)])
    assert_one_line(code, err, message)
    assert (tmp_path / "f").read_text() == "x"


@pytest.mark.parametrize("preset", ["smoke", "quick"])
def test_a_data_dir_that_is_missing_empty_or_lacks_the_dataset_is_an_error(preset, tmp_path, in_process):
    (tmp_path / "empty").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "celeba.npz").write_bytes(b"")
    for data_dir, message in ((tmp_path / "missing", "does not exist"), (tmp_path / "empty", "is empty")):
        code, _, err = in_process("dp_dcgan", ["--preset", preset, "--dry-run", "--data-dir", str(data_dir), "--out",
                                               str(tmp_path / "o")])
        assert_one_line(code, err, message)
    if preset == "quick":  # auto source: a folder the user named must hold the dataset; no silent fallback
        code, _, err = in_process("dp_dcgan", ["--preset", preset, "--dry-run", "--data-dir", str(tmp_path / "other"),
                                               "--out", str(tmp_path / "o")])
        assert_one_line(code, err, "dataset 'mnist' is not available")


def test_without_data_dir_quick_says_it_uses_the_embedded_digits(tmp_path, in_process):
    code, out, _ = in_process("dp_dcgan", ["--preset", "quick", "--dry-run", "--out", str(tmp_path / "o")])
    assert code == 0 and "data: mnist from embedded:mnist5k (no --data-dir given" in out


def test_a_zero_noise_multiplier_trains_without_noise_and_reports_unbounded_epsilon(tmp_path, in_process, load_script):
    """Formerly ``z or 1.0``: z = 0 trained at σ = 1 and reported ε = ∞."""
    module = load_script("neither_private_nor_fair")
    import dataclasses

    config = dataclasses.replace(module.PRESETS["smoke"], noise_multipliers=(0.0,))
    entries = module._privacy_entries(config)
    assert entries[0]["noise_multiplier"] == 0.0 and entries[0]["epsilon"] == float("inf")
    code, _, _ = in_process("neither_private_nor_fair", ["--preset", "smoke", "--dry-run", "--set",
                                                         "noise_multipliers=[0]", "--out", str(tmp_path / "o")])
    assert code == 0
    text = (tmp_path / "o" / "results.json").read_text()
    privacy = json.loads(text)["privacy"]
    assert "Infinity" not in text and privacy[0]["epsilon"] is None and privacy[0]["noise_multiplier"] == 0.0
    source = Path(module.__file__).read_text()
    assert "z or 1.0" not in source


def test_dp_config_refuses_an_infinite_clip_norm():
    from tfdpfair.privacy import DPConfig
    from tfdpfair.privacy.accounting import PrivacyConfigError

    for kwargs in (dict(l2_norm_clip=float("inf")), dict(noise_multiplier=float("nan")),
                   dict(target_epsilon=float("inf"))):
        with pytest.raises(PrivacyConfigError, match="finite"):
            DPConfig(**kwargs)


def test_a_corrupt_file_is_not_listed_as_available(tmp_path):
    from tfdpfair import data

    (tmp_path / "mnist.npz").write_bytes(b"PK\x03\x04 truncated")
    _mnist_like(tmp_path)  # a good one beside it, under another name
    (tmp_path / "mnist.npz").rename(tmp_path / "fashion_mnist.npz")
    (tmp_path / "mnist.npz").write_bytes(b"PK\x03\x04 truncated")
    available = data.available_offline(str(tmp_path))
    assert available["mnist"].startswith("npz:mnist.npz (unreadable")
    assert available["fashion_mnist"] == "npz:fashion_mnist.npz"


def test_tfds_offline_fails_at_once(monkeypatch, tmp_path):
    from tfdpfair import data
    from tfdpfair.data import tfds_source

    monkeypatch.setattr(tfds_source, "online", lambda *a, **k: False)
    start = time.monotonic()
    with pytest.raises(data.DataUnavailableError, match="this machine is offline"):
        data.load("fashion_mnist", "train", data_dir=str(tmp_path), source="tfds")
    assert time.monotonic() - start < 30


def test_npz_files_are_never_unpickled(tmp_path):
    from tfdpfair import data
    from tfdpfair.errors import DataFormatError

    np.savez(tmp_path / "mnist.npz", x_train=np.array([object()], dtype=object), y_train=np.zeros(1))
    with pytest.raises(DataFormatError):
        data.load("mnist", "train", data_dir=str(tmp_path))


def test_the_npz_check_reads_only_headers(tmp_path):
    from tfdpfair.data.npz import check_file

    _mnist_like(tmp_path)
    assert check_file(tmp_path / "mnist.npz") is None
    with zipfile.ZipFile(tmp_path / "z.npz", "w") as z:
        z.writestr("readme.txt", "no arrays")
    assert "no known layout" in check_file(tmp_path / "z.npz")


def _jpeg_bytes():
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buffer, format="JPEG")
    return np.frombuffer(buffer.getvalue(), np.uint8)


def _cifar_blob(path, *, blob=None, offsets=None, labels=None):
    one = _jpeg_bytes()
    blob = np.concatenate([one, one]) if blob is None else blob
    offsets = np.array([0, len(one), 2 * len(one)]) if offsets is None else offsets
    np.savez(path / "cifar10_full_jpeg.npz", train_jpeg=blob, train_offsets=offsets,
             y_train=np.array([1, 2]) if labels is None else labels)


def _celeba(path, **arrays):
    base = dict(x=np.zeros((4, 8, 8, 3), np.uint8), attrs=np.zeros((4, 2), np.int8), attr_names=np.array(["Male",
                                                                                                           "Smiling"]))
    base.update(arrays)
    np.savez(path / "celeba.npz", **{k: v for k, v in base.items() if v is not None})


OTHER_LAYOUTS = {
    "jpeg_ok": ("cifar10", None, lambda d: _cifar_blob(d)),
    "jpeg_offsets_past_the_blob": ("cifar10", "do not index the blob", lambda d: _cifar_blob(
        d, offsets=np.array([0, 10, 10**6]))),
    "jpeg_not_jpeg": ("cifar10", "does not decode as JPEG", lambda d: _cifar_blob(d, blob=np.arange(800) % 255,
                                                                                  offsets=np.array([0, 400, 800]))),
    "jpeg_label_count": ("cifar10", "one label per image", lambda d: _cifar_blob(d, labels=np.array([1]))),
    "jpeg_no_offsets": ("cifar10", "lacks", lambda d: np.savez(d / "cifar10_full_jpeg.npz", train_jpeg=_jpeg_bytes(),
                                                               y_train=np.array([1]))),
    "attrs_ok": ("celeb_a", None, lambda d: _celeba(d)),
    "attrs_shape": ("celeb_a", "one row per image", lambda d: _celeba(d, attrs=np.zeros((3, 2), np.int8))),
    "attrs_values": ("celeb_a", "must hold 0 or 1", lambda d: _celeba(d, attrs=np.full((4, 2), -1, np.int8))),
    "attrs_no_names": ("celeb_a", "lacks ['attr_names']", lambda d: _celeba(d, attr_names=None)),
    "attrs_float_images": ("celeb_a", None, lambda d: _celeba(d, x=np.full((4, 8, 8, 3), 0.5, np.float32))),
    "attrs_images_nan": ("celeb_a", "NaN", lambda d: _celeba(d, x=np.full((4, 8, 8, 3), np.nan, np.float32))),
}


@pytest.mark.parametrize("case", sorted(OTHER_LAYOUTS))
def test_the_jpeg_blob_and_attribute_layouts_check_their_files(case, tmp_path):
    from tfdpfair import data
    from tfdpfair.errors import DataFormatError

    name, message, make = OTHER_LAYOUTS[case]
    make(tmp_path)
    if message is None:
        loaded = data.load(name, "train", data_dir=str(tmp_path))
        assert loaded.x.dtype == np.uint8 and len(loaded) in (2, 4)
        if case == "attrs_float_images":
            assert int(loaded.x.max()) == 128  # 0.5 of 255, rounded
        return
    with pytest.raises(DataFormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        data.load(name, "train", data_dir=str(tmp_path))


def test_a_value_with_control_characters_is_still_one_line(tmp_path, in_process):
    """Found by the property test: a carriage return in a --set value split the error line."""
    code, _, err = in_process("dp_dcgan", ["--preset", "smoke", "--dry-run", "--set", "dataset=0\r0\n1", "--out",
                                           str(tmp_path / "o")])
    assert_one_line(code, err, "unknown dataset")
    assert "\\r" in err
