"""Datasets from ``.npz`` files in a folder, in the layouts of ``shared/data/README.md``.

Three layouts are read:

* arrays: ``x_train``, ``y_train``, ``x_test``, ``y_test`` (MNIST, decoded CIFAR-10);
  grayscale (N, H, W) gets a channel axis;
* JPEG blob: ``<split>_jpeg`` bytes with ``<split>_offsets`` (N + 1) and ``y_<split>``
  (``cifar10_full_jpeg.npz``, the complete CIFAR-10), decoded with Pillow;
* attributes: ``x``, ``attrs``, ``attr_names`` (``celeba.npz``: ids 1–8,000, all from
  the official train partition, so only split ``train`` (or ``all``) exists).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from tfdpfair.data.dataset import Dataset


def find_file(data_dir: Optional[str], filenames: Sequence[str]) -> Optional[Path]:
    """The first of ``filenames`` that exists in ``data_dir``, or None."""
    if not data_dir:
        return None
    for filename in filenames:
        path = Path(data_dir).expanduser() / filename
        if path.is_file():
            return path
    return None


def _decode_jpegs(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    from PIL import Image

    images = [
        np.asarray(Image.open(io.BytesIO(blob[offsets[i]:offsets[i + 1]].tobytes())).convert("RGB"))
        for i in range(len(offsets) - 1)
    ]
    return np.stack(images).astype(np.uint8)


def load_npz(name: str, split: str, path: Path) -> Dataset:
    """Read one split of ``name`` from ``path``."""
    source = f"npz:{path.name}"
    with np.load(path, allow_pickle=False) as f:
        keys = set(f.files)
        class_names = tuple(str(c) for c in f["class_names"]) if "class_names" in keys else ()
        if "attrs" in keys:
            if split not in ("train", "all"):
                raise ValueError(
                    f"{path.name} holds only images from the official train partition; "
                    f"use split 'train' and split it yourself (asked for {split!r})"
                )
            return Dataset(name, split, f["x"], None, source, attrs=f["attrs"].astype(np.int8),
                           attr_names=tuple(str(a) for a in f["attr_names"]))
        if f"{split}_jpeg" in keys:
            x = _decode_jpegs(f[f"{split}_jpeg"], f[f"{split}_offsets"])
        elif f"x_{split}" in keys:
            x = f[f"x_{split}"]
        else:
            raise ValueError(f"{path} has no split {split!r} (arrays: {', '.join(sorted(keys))})")
        if x.ndim == 3:
            x = x[..., None]
        return Dataset(name, split, x.astype(np.uint8), f[f"y_{split}"].astype(np.int64), source,
                       class_names=class_names)
