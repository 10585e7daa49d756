"""The decoded-image cache: decoded once, then read back; a changed file, a bad cache file or a disabled cache decode."""
import io
import os

import numpy as np
import pytest
from PIL import Image

from tfdpfair.data import jpeg
from tfdpfair.data.npz import load_npz
from tfdpfair.errors import DataFormatError


def _blob(images):
    parts = []
    for img in images:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")  # lossless: the decoded pixels are exact
        parts.append(np.frombuffer(buf.getvalue(), dtype=np.uint8))
    return np.concatenate(parts), np.concatenate([[0], np.cumsum([len(p) for p in parts])])


@pytest.fixture
def archive(tmp_path, monkeypatch):
    """A JPEG-blob .npz of 4 random images, the cache in its own folder, and a counter of decodes."""
    monkeypatch.setenv(jpeg.CACHE_ENV, str(tmp_path / "cache"))
    images = np.random.default_rng(0).integers(0, 255, (4, 8, 8, 3), dtype=np.uint8)
    blob, offsets = _blob(images)
    path = tmp_path / "cifar10_full_jpeg.npz"
    np.savez(path, test_jpeg=blob, test_offsets=offsets, y_test=np.arange(4))
    decodes = []
    real = jpeg.decode_images
    monkeypatch.setattr(jpeg, "decode_images", lambda *a: decodes.append(1) or real(*a))
    return path, images, decodes


def test_decoded_once_then_read_from_the_cache(archive, tmp_path):
    path, images, decodes = archive
    first = load_npz("cifar10", "test", path)
    second = load_npz("cifar10", "test", path)
    np.testing.assert_array_equal(first.x, images)
    np.testing.assert_array_equal(second.x, images)
    assert len(decodes) == 1 and len(list((tmp_path / "cache").glob("*.npy"))) == 1
    assert not list((tmp_path / "cache").glob("*.tmp"))


def test_a_changed_file_is_decoded_anew_even_with_its_old_size_and_time(archive):
    path, images, decodes = archive
    load_npz("cifar10", "test", path)
    before = path.stat()
    blob, offsets = _blob(images[::-1])
    np.savez(path, test_jpeg=blob, test_offsets=offsets, y_test=np.arange(4))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # as cp -p, rsync -t or tar would leave it
    assert path.stat().st_size == before.st_size  # the same images in another order: the same size
    np.testing.assert_array_equal(load_npz("cifar10", "test", path).x, images[::-1])
    assert len(decodes) == 2


@pytest.mark.parametrize("damage", ["truncated", "wrong_shape", "an_archive"])
def test_a_bad_cache_file_is_decoded_again_and_replaced(archive, tmp_path, damage):
    path, images, decodes = archive
    load_npz("cifar10", "test", path)
    (cached,) = (tmp_path / "cache").glob("*.npy")
    if damage == "truncated":
        cached.write_bytes(cached.read_bytes()[:100])
    elif damage == "wrong_shape":
        np.save(cached, images[:3])
    else:
        with open(cached, "wb") as f:
            np.savez(f, x=images)
    np.testing.assert_array_equal(load_npz("cifar10", "test", path).x, images)
    np.testing.assert_array_equal(np.load(cached), images)
    assert len(decodes) == 2


def test_an_empty_cache_setting_turns_caching_off(archive, monkeypatch, tmp_path):
    path, images, decodes = archive
    monkeypatch.setenv(jpeg.CACHE_ENV, "")
    assert jpeg.cache_dir() is None
    for _ in range(2):
        np.testing.assert_array_equal(load_npz("cifar10", "test", path).x, images)
    assert len(decodes) == 2 and not (tmp_path / "cache").exists()


def test_an_unwritable_cache_folder_costs_only_the_decoding(archive, monkeypatch, tmp_path):
    path, images, decodes = archive
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv(jpeg.CACHE_ENV, str(blocker / "cache"))  # a folder inside a file cannot be made
    np.testing.assert_array_equal(load_npz("cifar10", "test", path).x, images)
    assert len(decodes) == 1


def test_default_folder_follows_xdg_and_no_home_means_no_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(jpeg.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert jpeg.cache_dir() == tmp_path / "tfdpfair"
    monkeypatch.delenv("XDG_CACHE_HOME")

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(jpeg.Path, "home", staticmethod(no_home))
    assert jpeg.cache_dir() is None


def test_offsets_that_do_not_index_the_blob_are_refused():
    with pytest.raises(DataFormatError, match="offsets do not index"):
        jpeg.decode_images(np.zeros(10, np.uint8), np.array([0, 20]), "x")
