"""Datasets from ``.npz`` files in a folder, in the layouts of ``shared/data/README.md``.

Three layouts are read:

* arrays: ``x_train``, ``y_train``, ``x_test``, ``y_test`` (MNIST, decoded CIFAR-10);
  grayscale (N, H, W) gets a channel axis;
* JPEG blob: ``<split>_jpeg`` bytes with ``<split>_offsets`` (N + 1) and ``y_<split>``
  (``cifar10_full_jpeg.npz``, the complete CIFAR-10), decoded with Pillow once and then
  read from an on-disk cache (``tfdpfair.data.jpeg``);
* attributes: ``x``, ``attrs``, ``attr_names`` (``celeba.npz``: ids 1–8,000, all from
  the official train partition, so only split ``train`` (or ``all``) exists).

Files are data, never code (``allow_pickle=False``), and are checked before use: a
truncated or corrupt file, missing arrays, wrong shapes, labels that do not match the
images or pixel values outside 0–255 raise ``DataFormatError`` naming the file and the
problem. Images may be stored as uint8 (0–255), as other integers in 0–255, or as
floats in [0, 1] (scaled by 255) or in [0, 255]; anything else is refused.
"""
from __future__ import annotations

import hashlib
import zipfile
import zlib
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from tfdpfair.data.dataset import Dataset
from tfdpfair.data.jpeg import load_decoded
from tfdpfair.errors import DataFormatError

_READ_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, KeyError)
LAYOUT_HINT = "see shared/data/README.md for the layouts tfdpfair reads"


def find_file(data_dir: Optional[str], filenames: Sequence[str]) -> Optional[Path]:
    """The first of ``filenames`` that exists in ``data_dir``, or None."""
    if not data_dir:
        return None
    for filename in filenames:
        path = Path(data_dir).expanduser() / filename
        if path.is_file():
            return path
    return None


def _corrupt(path: Path, err: Exception) -> DataFormatError:
    return DataFormatError(f"{path} cannot be read as an .npz file ({type(err).__name__}: {err}); it may be "
                           "truncated or corrupt: compare it with SHA256SUMS, or re-create it")


def to_uint8_images(x: np.ndarray, where: str) -> np.ndarray:
    """Images as uint8 0–255: uint8 as is; integers in 0–255; floats in [0, 1] (× 255) or [0, 255] (rounded)."""
    if x.dtype == np.uint8:
        return x
    if x.size == 0:
        raise DataFormatError(f"{where} holds no images")
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise DataFormatError(f"{where} has dtype {x.dtype}; images must be uint8 (0–255) or floats in [0, 1]")
    if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
        raise DataFormatError(f"{where} contains NaN or infinite pixel values")
    low, high = float(x.min()), float(x.max())
    if low < 0 or high > 255:
        raise DataFormatError(f"{where} has pixel values in [{low:g}, {high:g}]; expected 0–255 (or floats in [0, 1])")
    if np.issubdtype(x.dtype, np.floating) and high <= 1.0:
        x = x * 255.0
    return np.rint(x).astype(np.uint8)


def _images(x: np.ndarray, where: str) -> np.ndarray:
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise DataFormatError(f"{where} has shape {x.shape}; expected (N, H, W) or (N, H, W, 1 or 3)")
    return to_uint8_images(x, where)


def _labels(y: np.ndarray, n: int, where: str) -> np.ndarray:
    if y.ndim != 1 or len(y) != n:
        raise DataFormatError(f"{where} has shape {y.shape} for {n} images; expected ({n},): one label per image")
    if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.integer) or y.dtype == bool:
        raise DataFormatError(f"{where} has dtype {y.dtype}; labels must be integers 0, 1, …")
    if n and y.min() < 0:
        raise DataFormatError(f"{where} has negative labels (min {y.min()}); labels must be 0, 1, …")
    return y.astype(np.int64)


def _array(f, key: str, path: Path) -> np.ndarray:
    try:
        return f[key]
    except _READ_ERRORS as err:
        raise _corrupt(path, err) from None


def _fingerprint(f, key: str, offsets: np.ndarray) -> str:
    """The content of array ``key`` in the open archive ``f`` without reading it: its CRC-32 and size as stored
    (from the zip directory), with a hash of ``offsets``."""
    info = f.zip.getinfo(f"{key}.npy")
    digest = hashlib.sha256(np.ascontiguousarray(offsets).tobytes()).hexdigest()[:16]
    return f"{info.CRC:08x}-{info.file_size}-{offsets.dtype.str}-{digest}"


def _open_archive(path: Path, single_array: str):
    """``np.load(path)`` of an .npz archive (no pickles); ``DataFormatError(single_array)`` for a lone .npy array."""
    try:
        f = np.load(path, allow_pickle=False)
    except _READ_ERRORS as err:
        raise _corrupt(path, err) from None
    if not hasattr(f, "files"):
        raise DataFormatError(single_array)
    return f


def load_npz(name: str, split: str, path: Path) -> Dataset:
    """Read one split of ``name`` from ``path``; ``DataFormatError`` when the file cannot be used."""
    source = f"npz:{path.name}"
    with _open_archive(path, f"{path} holds a single array, not an .npz archive of named arrays; {LAYOUT_HINT}") as f:
        keys = set(f.files)
        where = lambda key: f"{path.name}[{key!r}]"  # noqa: E731
        class_names = tuple(str(c) for c in _array(f, "class_names", path)) if "class_names" in keys else ()
        if "attrs" in keys:
            if split not in ("train", "all"):
                raise DataFormatError(
                    f"{path.name} holds only images from the official train partition; "
                    f"use split 'train' and split it yourself (asked for {split!r})")
            missing = {"x", "attr_names"} - keys
            if missing:
                raise DataFormatError(f"{path.name} has 'attrs' but lacks {sorted(missing)}; {LAYOUT_HINT}")
            x = _images(_array(f, "x", path), where("x"))
            attrs, attr_names = _array(f, "attrs", path), _array(f, "attr_names", path)
            if attrs.ndim != 2 or len(attrs) != len(x) or attrs.shape[1] != len(attr_names):
                raise DataFormatError(f"{where('attrs')} has shape {attrs.shape}; expected ({len(x)}, "
                                      f"{len(attr_names)}): one row per image, one column per attribute name")
            if attrs.size and not np.isin(attrs, (0, 1)).all():
                raise DataFormatError(f"{where('attrs')} must hold 0 or 1")
            return Dataset(name, split, x, None, source, attrs=attrs.astype(np.int8),
                           attr_names=tuple(str(a) for a in attr_names))
        if f"{split}_jpeg" in keys:
            needed = {f"{split}_offsets", f"y_{split}"} - keys
            if needed:
                raise DataFormatError(f"{path.name} has {split}_jpeg but lacks {sorted(needed)}; {LAYOUT_HINT}")
            offsets = _array(f, f"{split}_offsets", path)
            x = load_decoded(stem=path.stem, split=split, fingerprint=_fingerprint(f, f"{split}_jpeg", offsets),
                             blob_of=lambda: _array(f, f"{split}_jpeg", path), offsets=offsets,
                             where=where(f"{split}_jpeg"))
        elif f"x_{split}" in keys:
            if f"y_{split}" not in keys:
                raise DataFormatError(f"{path.name} has x_{split} but no y_{split}; {LAYOUT_HINT}")
            x = _images(_array(f, f"x_{split}", path), where(f"x_{split}"))
        else:
            raise DataFormatError(f"{path.name} has no split {split!r}: expected arrays x_{split} and y_{split} "
                                  f"(or {split}_jpeg), found {', '.join(sorted(keys)) or 'none'}; {LAYOUT_HINT}")
        y = _labels(_array(f, f"y_{split}", path), len(x), where(f"y_{split}"))
        if class_names and len(y) and y.max() >= len(class_names):
            raise DataFormatError(f"{where(f'y_{split}')} has label {y.max()} but only {len(class_names)} class names")
        return Dataset(name, split, x, y, source, class_names=class_names)


def check_file(path: Path) -> Optional[str]:
    """Why ``path`` cannot be read (truncated, corrupt, no known layout), or None; reads only array headers."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {n[:-4]: n for n in archive.namelist() if n.endswith(".npy")}
            for key, member in members.items():
                with archive.open(member) as fp:
                    version = np.lib.format.read_magic(fp)
                    header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    header(fp)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as err:
        return f"unreadable ({type(err).__name__}: {err})"
    known = {"x_train", "x_test", "train_jpeg", "test_jpeg", "attrs"}
    if not known & set(members):
        return f"no known layout (arrays: {', '.join(sorted(members)) or 'none'})"
    return None


def load_xy(path: Path, *, role: str = "examples") -> tuple:
    """Arrays ``x`` (n, ...) and ``y`` (n,) integer labels of a user's ``.npz`` file (e.g. members to attack).

    ``x`` must be numeric and finite; uint8 stays uint8 (the caller decides on scaling).
    Anything else raises ``DataFormatError`` naming the file, the ``role`` and the problem.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFormatError(f"{role}: {path} is not a file; want an .npz with arrays x and y")
    with _open_archive(path, f"{role}: {path} is a single .npy array, not an .npz with arrays x and y") as f:
        missing = [k for k in ("x", "y") if k not in f.files]
        if missing:
            raise DataFormatError(f"{role}: {path} lacks array(s) {', '.join(missing)} (it has "
                                  f"{', '.join(f.files) or 'none'}); want x (inputs) and y (integer labels)")
        x, y = _array(f, "x", path), _array(f, "y", path)
    where = f"{role} ({path})"
    if x.ndim < 1 or len(x) == 0:
        raise DataFormatError(f"{where}: x holds no examples")
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise DataFormatError(f"{where}: x has dtype {x.dtype}; want numbers")
    if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
        raise DataFormatError(f"{where}: x contains NaN or infinity")
    return x, _labels(y, len(x), f"{where}: y")
