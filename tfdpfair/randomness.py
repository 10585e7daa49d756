"""The random streams of one training run: DP noise, batch sampling, augmentation, GAN latents (no TensorFlow here).

DP-SGD's guarantee assumes that every noise draw is fresh: a draw used twice (a resumed
run that restarts its generator, two models of a sweep seeded alike) can be subtracted
by anyone holding both outputs. So every run draws from its own streams, and a stream
is a pure function of a key and a step counter, never of "how far a generator got":

* ``RunStreams(seed=s, name="dcgan/eps=2")`` — reproducible: the root key is
  SHA-256 of (s, name), so runs with another seed *or another name* (each model of a
  sweep, each shadow model, each stage) get independent streams, and the draw of step
  t is the same whether the run was interrupted before t or not. ``--resume`` restores
  the step counter from the checkpoint, so a resumed run continues the stream exactly.
* ``RunStreams(name=...)`` (``seed=None``) — a root key of 128 bits from the operating
  system, recorded in the run's checkpoints so that every resume continues the stream.
* ``RunStreams(..., secure=True)`` — every noise draw (each tensor of each step) and every
  epoch's batch sampling get their own 128 fresh bits from ``os.urandom`` (nothing is
  reproducible, nothing is stored); the noise sums four Gaussians and halves them, as
  Opacus's secure mode does against floating-point attacks (Mironov 2012). Use it for models trained on
  sensitive data that will be released: whoever knows the seed of a seeded run can
  regenerate its noise, and DP assumes the noise is secret.

Purposes (``"noise"``, ``"sampling"``, ``"augmentation"``, ``"latent"``) get independent
keys from the same root.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import secrets
from typing import Optional, Tuple

import numpy as np

PURPOSES = ("noise", "sampling", "augmentation", "latent", "init", "evaluation", "adversary")
_DOMAIN = b"tfdpfair/streams/v1"


def _int64_pair(digest: bytes) -> Tuple[int, int]:
    """The first 16 bytes of ``digest`` as two signed 64-bit integers (a stateless TF seed)."""
    a, b = np.frombuffer(digest[:16], dtype="<i8")
    return int(a), int(b)


def os_entropy_seeds(n: int) -> np.ndarray:
    """``n`` stateless seeds of 128 fresh bits each from the operating system: int64 array of shape (n, 2)."""
    return np.frombuffer(os.urandom(16 * n), dtype="<i8").reshape(n, 2).copy()


@dataclasses.dataclass(frozen=True)
class RunStreams:
    """Where one run's randomness comes from.

    Attributes:
      seed: the experiment's seed (int ≥ 0), or None for 128 random bits from the OS.
      name: the run's name within its experiment (e.g. ``"classifier/DP-SGD"``,
        ``"dcgan/eps=2"``, ``"shadow/17"``); runs of one seed with different names
        draw independent streams.
      secure: DP noise and sampling from OS entropy at each draw (not reproducible).
      entropy: the root when ``seed`` is None (filled in at construction; pass it back
        only to rebuild the streams of a checkpointed run).
    """

    seed: Optional[int] = None
    name: str = ""
    secure: bool = False
    entropy: Optional[int] = None

    def __post_init__(self) -> None:
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer))
                                      or self.seed < 0):
            raise ValueError(f"seed must be None or an integer >= 0, got {self.seed!r}")
        if not isinstance(self.name, str):
            raise ValueError(f"name must be a string, got {self.name!r}")
        if self.seed is None and self.entropy is None:
            object.__setattr__(self, "entropy", secrets.randbits(128))

    @property
    def reproducible(self) -> bool:
        """True when the noise and sampling are a function of (seed, name) alone."""
        return self.seed is not None and not self.secure

    def _root(self) -> bytes:
        if self.seed is None:
            material = b"entropy\0" + int(self.entropy).to_bytes(16, "little")
        else:
            material = b"seed\0" + str(int(self.seed)).encode()
        return hashlib.sha256(_DOMAIN + b"\0" + material + b"\0" + self.name.encode("utf-8")).digest()

    def key(self, purpose: str) -> Tuple[int, int]:
        """The stateless seed of one purpose: two int64 from SHA-256 of (root, purpose), so distinct purposes,
        names and seeds give unrelated keys."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown stream purpose {purpose!r}; choose one of {', '.join(PURPOSES)}")
        return _int64_pair(hashlib.sha256(self._root() + b"\0" + purpose.encode()).digest())

    def int_seed(self, purpose: str) -> int:
        """A 31-bit integer seed of one purpose (for APIs that take one int, e.g. Keras' global seed)."""
        return self.key(purpose)[0] & 0x7FFFFFFF

    def numpy_rng(self, purpose: str, *counters: int) -> np.random.Generator:
        """A numpy generator for draw ``counters`` (e.g. an epoch) of ``purpose``; OS entropy when ``secure``."""
        if self.secure and purpose in ("noise", "sampling"):
            return np.random.default_rng(secrets.randbits(128))
        words = [w & 0xFFFFFFFFFFFFFFFF for w in self.key(purpose)]
        return np.random.default_rng([*words, *[int(c) for c in counters]])

    def child(self, name: str) -> "RunStreams":
        """The streams of a sub-run (``name`` appended with ``/``): independent of this one."""
        return dataclasses.replace(self, name=f"{self.name}/{name}" if self.name else name)

    def describe(self) -> str:
        """One line for logs and reports."""
        if self.secure:
            return "secure (OS entropy at every draw; not reproducible)"
        if self.seed is None:
            return "random root key from the OS (kept in the checkpoint; not reproducible)"
        return f"seeded: SHA-256(seed={self.seed}, name={self.name!r})"
