"""``Dataset``: images, labels and group attributes as numpy arrays, plus where they came from."""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from tfdpfair.errors import InputError


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """One split of one dataset, in memory.

    Attributes:
      name: registry name (``mnist``, ``cifar10``, ``celeb_a``, ...).
      split: ``train`` or ``test`` (or ``all`` where the source has no split).
      x: images, uint8, shape (N, H, W, C), pixel values 0–255.
      y: integer class labels, shape (N,), or None (CelebA: use ``attrs``).
      source: where the data came from, for results.json: ``npz:<file>``,
        ``tfds:<name>`` or ``embedded:<what>``.
      attrs: optional binary attributes, int8 (N, A) in {0, 1} (CelebA's 40).
      attr_names: names of the ``attrs`` columns.
      class_names: names of the classes, if known.
    """

    name: str
    split: str
    x: np.ndarray
    y: Optional[np.ndarray]
    source: str
    attrs: Optional[np.ndarray] = None
    attr_names: tuple = ()
    class_names: tuple = ()

    def __post_init__(self) -> None:
        if self.x.ndim != 4 or self.x.dtype != np.uint8:
            raise ValueError(f"x must be uint8 (N, H, W, C), got {self.x.dtype} {self.x.shape}")
        for field in ("y", "attrs"):
            arr = getattr(self, field)
            if arr is not None and len(arr) != len(self.x):
                raise ValueError(f"{field} has {len(arr)} rows but x has {len(self.x)}")

    def __len__(self) -> int:
        return len(self.x)

    @property
    def num_classes(self) -> int:
        if self.class_names:
            return len(self.class_names)
        if self.y is None:
            raise ValueError(f"{self.name} has no class labels")
        return int(self.y.max()) + 1

    def attribute(self, name: str) -> np.ndarray:
        """One binary attribute column by name (e.g. CelebA's ``Male``)."""
        if self.attrs is None or name not in self.attr_names:
            raise KeyError(f"{self.name} has no attribute {name!r}; known: {', '.join(self.attr_names) or 'none'}")
        return self.attrs[:, self.attr_names.index(name)]

    def take(self, n: Optional[int]) -> "Dataset":
        """The first ``n`` examples (all when ``n`` is None); error if fewer exist."""
        if n is None:
            return self
        if n > len(self):
            raise InputError(f"asked for {n} examples of {self.name}/{self.split}, but {self.source} has {len(self)}")
        return dataclasses.replace(
            self,
            x=self.x[:n],
            y=None if self.y is None else self.y[:n],
            attrs=None if self.attrs is None else self.attrs[:n],
        )

    def as_float(self) -> np.ndarray:
        """Images scaled to [0, 1], float32, shape (N, H, W, C)."""
        return self.x.astype(np.float32) / 255.0

    def downsample(self, factor: int) -> "Dataset":
        """Images shrunk by an integer ``factor`` (mean of each factor × factor block, rounded), e.g. 64 → 32 px."""
        if factor == 1:
            return self
        n, h, w, c = self.x.shape
        if factor < 1 or h % factor or w % factor:
            raise InputError(f"the downsampling factor must be a positive divisor of the image size {h}×{w}, "
                             f"got {factor}")
        blocks = self.x.reshape(n, h // factor, factor, w // factor, factor, c).astype(np.float32)
        x = np.rint(blocks.mean(axis=(2, 4))).astype(np.uint8)
        return dataclasses.replace(self, x=x)
