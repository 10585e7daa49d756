"""The results folder of one run: claimed atomically, locked while in use, replaced only by a run that succeeded.

* A new run claims ``OUT`` if it does not exist or is empty, else the first free
  ``OUT-run2``, ``OUT-run3``, …; the claim is a ``mkdir`` plus an exclusive lock, so two
  runs started together end in two folders.
* ``--overwrite`` runs in ``OUT.overwrite`` beside the old run and swaps it in only when
  it has succeeded; a failed or killed overwrite leaves the old run untouched.
* ``--resume`` reuses the folder (``OUT``, or ``OUT.overwrite`` with ``--overwrite``) of an
  earlier run, refused while another process holds its lock.
* The lock is ``OUT/.lock``, held with ``flock`` (released by the kernel even when the
  owner is killed) and naming the owner's process id.
* A finished run leaves ``complete.json`` (a dry run does not); tools test for it.
"""
from __future__ import annotations

import datetime
import os
import shutil
import socket
from pathlib import Path
from typing import Optional

from tfdpfair.errors import InputError
from tfdpfair.reporting.files import write_json

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the lock file is written but not enforced
    fcntl = None

MARKER = "complete.json"
LOCK = ".lock"
STAGING_SUFFIX = ".overwrite"
WORK = ("units", "checkpoints")  # what a run has done, as opposed to what it wrote before starting


class OutputDirError(InputError, RuntimeError):
    """The output folder cannot be used as asked (a file in its path, in use, nothing to resume)."""


def check_out_path(out: Path) -> None:
    """Refuse an ``--out`` that is a file or lies under a file, before anything is written."""
    out = Path(out)
    for part in [out, *out.parents]:
        if part.exists() and not part.is_dir():
            where = "is a file" if part == out else f"lies under {part}, which is a file"
            raise OutputDirError(f"--out {out} {where}; choose a folder path")


def holds_run(path: Path) -> bool:
    """True when ``path`` is a folder with anything in it (a run, a lock, a dry run)."""
    return Path(path).is_dir() and any(Path(path).iterdir())


def staging_path(out: Path) -> Path:
    return Path(out).with_name(Path(out).name + STAGING_SUFFIX)


def _owner(path: Path) -> str:
    try:
        return (path / LOCK).read_text().strip() or "another process"
    except OSError:
        return "another process"


def _lock(path: Path) -> int:
    """Take ``path``'s lock (non-blocking); raise ``OutputDirError`` naming the holder when it is taken."""
    fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputDirError(f"{path} is in use by {_owner(path)}; wait for it to finish or choose another --out")
    os.ftruncate(fd, 0)
    os.write(fd, f"process {os.getpid()} on {socket.gethostname()} since "
                 f"{datetime.datetime.now().isoformat(timespec='seconds')}\n".encode())
    return fd


def _unlock(path: Path, fd: Optional[int]) -> None:
    if fd is None:
        return
    try:
        (path / LOCK).unlink(missing_ok=True)
    finally:
        os.close(fd)


def _claim_free(candidate: Path) -> Optional[tuple]:
    """(created, lock fd) when ``candidate`` could be claimed as a new run's folder, else None."""
    try:
        candidate.mkdir()
        created = True
    except FileExistsError:
        if not candidate.is_dir() or holds_run(candidate):
            return None
        created = False
    try:
        fd = _lock(candidate)
    except OutputDirError:
        return None
    if any(p.name != LOCK for p in candidate.iterdir()):  # claimed and used by someone else meanwhile
        _unlock(candidate, fd)
        return None
    return created, fd


class RunDir:
    """A claimed run folder. ``path``: where this run writes; ``target``: where its results end up."""

    def __init__(self, path: Path, target: Path, *, created: bool, staged: bool, fd: Optional[int]):
        self.path, self.target = Path(path), Path(target)
        self.created, self.staged = created, staged
        self._fd = fd

    @classmethod
    def claim(cls, out: Path, *, overwrite: bool = False, resume: bool = False) -> "RunDir":
        """Claim the folder a run writes to (see the module docstring)."""
        out = Path(out)
        check_out_path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if resume:
            path = staging_path(out) if overwrite else out
            if not (path / "config.json").is_file():
                hint = " (an --overwrite run that was interrupted resumes with --resume --overwrite)" if not overwrite \
                    else ""
                raise OutputDirError(f"--resume: {path} holds no run to resume (no config.json); start it without "
                                     f"--resume{hint}")
            return cls(path, out, created=False, staged=overwrite, fd=_lock(path))
        if overwrite and holds_run(out):
            if (out / LOCK).exists():
                os.close(_lock(out))  # refuse to replace a run that is still writing; release at once
                (out / LOCK).unlink(missing_ok=True)
            staging = staging_path(out)
            if staging.exists():  # an earlier --overwrite that never finished: start it again
                fd = _lock(staging)
                for child in staging.iterdir():
                    if child.name != LOCK:
                        shutil.rmtree(child) if child.is_dir() else child.unlink()
                return cls(staging, out, created=True, staged=True, fd=fd)
            staging.mkdir()
            return cls(staging, out, created=True, staged=True, fd=_lock(staging))
        candidates = [out] if overwrite else [out] + [out.with_name(f"{out.name}-run{n}") for n in range(2, 10_000)]
        for candidate in candidates:
            claimed = _claim_free(candidate)
            if claimed is not None:
                return cls(candidate, candidate, created=claimed[0], staged=False, fd=claimed[1])
        raise OutputDirError(f"no free output folder next to {out}: choose another --out")

    def has_work(self) -> bool:
        """True once the run stored a finished unit or a checkpoint (then a failure keeps the folder)."""
        return any((self.path / name).exists() for name in WORK)

    def finish(self, record: dict) -> Path:
        """Mark the run complete (``complete.json`` holds ``record``), swap a staged run in, release the lock."""
        write_json(self.path / MARKER, record)
        if self.staged:
            old = None
            if self.target.exists():
                old = self.target.with_name(f"{self.target.name}.replaced-{os.getpid()}")
                os.rename(self.target, old)
            os.rename(self.path, self.target)
            self.path = self.target
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        self.release()
        return self.path

    def release(self) -> None:
        """Release the lock, keeping everything written (an interrupted run, to be resumed)."""
        _unlock(self.path, self._fd)
        self._fd = None

    def abandon(self) -> None:
        """Release the lock after a failure; remove the folder if this run created it and did no work in it."""
        self.release()
        if self.created and not self.has_work():
            shutil.rmtree(self.path, ignore_errors=True)
