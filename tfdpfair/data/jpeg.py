"""JPEG (or PNG) blobs → uint8 images, decoded once per file and kept in an on-disk cache.

Decoding CIFAR-10's 60,000 JPEGs with Pillow takes 10–15 s of one CPU core, and every
process that reads the file pays it: each run, each resumed run, each test process. The
decoded split is therefore saved as a ``.npy`` file the first time and read back after
(≈ 0.2 s). Its name is keyed by the blob's content (the archive's CRC-32 and size of the
stored blob, a hash of the offsets), the split and Pillow's version, so a changed file or
decoder is decoded anew whatever its name, size or modification time; a cache file that does
not load, or holds another image count, dtype or channel count, is decoded again and replaced.
Writes go to a private temporary file renamed into place, so processes that decode the same
file at once cannot leave a half-written cache file.

Where: ``$TFDPFAIR_CACHE_DIR`` if set (an empty value turns the cache off), else
``$XDG_CACHE_HOME/tfdpfair``, else ``~/.cache/tfdpfair``. A folder that cannot be made or
written (or no home folder) only costs the decoding time. Nothing is ever removed: delete the
folder at any time to reclaim the space (CIFAR-10: 184 MB per version of the file and of Pillow).
"""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from tfdpfair.errors import DataFormatError

CACHE_ENV = "TFDPFAIR_CACHE_DIR"


def cache_dir() -> Optional[Path]:
    """The decoded-image cache folder, or None: ``$TFDPFAIR_CACHE_DIR`` set empty (caching off), or no home folder."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        return Path(configured).expanduser() if configured.strip() else None
    try:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    except RuntimeError:  # no HOME and an unknown user
        return None
    return Path(base) / "tfdpfair"


def decode_images(blob: np.ndarray, offsets: np.ndarray, where: str) -> np.ndarray:
    """(N, H, W, 3) uint8 from N images concatenated in ``blob`` (uint8), image i at ``offsets[i]:offsets[i + 1]``.

    ``DataFormatError`` (naming ``where``) when the offsets do not index the blob, an image
    does not decode, or the images differ in size.
    """
    from PIL import Image, UnidentifiedImageError

    if blob.ndim != 1 or offsets.ndim != 1 or len(offsets) < 1 or np.any(np.diff(offsets) < 0) \
            or offsets[0] < 0 or offsets[-1] > len(blob):
        raise DataFormatError(f"{where}: the JPEG offsets do not index the blob (need N + 1 increasing offsets "
                              f"within its {len(blob)} bytes)")
    try:
        images = [np.asarray(Image.open(io.BytesIO(blob[offsets[i]:offsets[i + 1]].tobytes())).convert("RGB"))
                  for i in range(len(offsets) - 1)]
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise DataFormatError(f"{where}: an image does not decode as JPEG ({err})") from None
    if not images or len({im.shape for im in images}) != 1:
        raise DataFormatError(f"{where}: the JPEG images are missing or differ in size")
    return np.stack(images).astype(np.uint8)


def _cache_file(folder: Path, stem: str, split: str, fingerprint: str) -> Path:
    import PIL

    key = f"{fingerprint}|{split}|Pillow {PIL.__version__}"
    return folder / f"{stem}-{split}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npy"


def _read(path: Path, count: int) -> Optional[np.ndarray]:
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    ok = isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.ndim == 4 and len(x) == count and x.shape[-1] == 3
    return x if ok else None


def _write(path: Path, x: np.ndarray) -> None:
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        with os.fdopen(handle, "wb") as f:
            np.save(f, x, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError:  # a read-only or full disk costs the decoding time, nothing else
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass


def load_decoded(*, stem: str, split: str, fingerprint: str, blob_of: Callable[[], np.ndarray],
                 offsets: np.ndarray, where: str) -> np.ndarray:
    """The images of ``split`` of the data file named ``stem``: from the cache, else decoded and cached.

    ``fingerprint`` identifies the blob's content (``npz.py`` gives the archive's CRC-32 and
    size of the stored blob and a hash of the offsets). ``blob_of()`` returns the blob; it is
    read only when the cache cannot answer (reading the compressed blob costs time too).
    """
    folder = cache_dir()
    path = _cache_file(folder, stem, split, fingerprint) if folder is not None else None
    if path is not None and path.is_file():
        cached = _read(path, len(offsets) - 1)
        if cached is not None:
            return cached
    x = decode_images(blob_of(), offsets, where)
    if path is not None:
        _write(path, x)
    return x
