"""The results folder of one run: claimed atomically, locked while in use, replaced only by a run that succeeded.

* A new run claims ``OUT`` if it does not exist or is empty, else the first free
  ``OUT-run2``, ``OUT-run3``, …; the claim is a ``mkdir`` plus an exclusive lock, so two
  runs started together end in two folders.
* ``--overwrite`` runs in ``OUT.overwrite`` beside the old run and swaps it in only when
  it has succeeded; a failed or killed overwrite leaves the old run untouched. The swap
  is two renames (``OUT`` → ``OUT.replaced-<pid>``, ``OUT.overwrite`` → ``OUT``): a kill
  between them leaves both runs on disk under those names, nothing is lost.
* ``--resume`` reuses the folder (``OUT``, or ``OUT.overwrite`` with ``--overwrite``) of an
  earlier run, refused while another process holds its lock.
* The lock is ``OUT/.lock``, held with ``flock`` (released by the kernel even when the
  owner is killed) and naming the owner's process id while held. The file is never
  deleted while the folder lives, so every process locks the same file.
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
    try:
        fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise OutputDirError(f"cannot use {path}: {err.strerror or err}") from None
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputDirError(f"{path} is in use by {_owner(path)}; wait for it to finish or choose another --out")
        try:
            same = os.fstat(fd).st_ino == os.stat(path / LOCK).st_ino
        except OSError:
            same = False
        if not same:  # the folder was removed (an abandoned start) while we opened its lock
            os.close(fd)
            raise OutputDirError(f"{path} was removed while it was being claimed; run again")
    os.ftruncate(fd, 0)
    os.write(fd, f"process {os.getpid()} on {socket.gethostname()} since "
                 f"{datetime.datetime.now().isoformat(timespec='seconds')}\n".encode())
    return fd


def _unlock(path: Path, fd: Optional[int]) -> None:
    if fd is None:
        return
    try:
        os.ftruncate(fd, 0)  # nobody's: the file stays, so that every process locks the same inode
    finally:
        os.close(fd)


def in_use(path: Path) -> bool:
    """True while a process holds ``path``'s lock (a run writing to it)."""
    if not (Path(path) / LOCK).is_file():
        return False
    try:
        _unlock(Path(path), _lock(Path(path)))
        return False
    except OutputDirError:
        return True


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
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            return cls._claim(out, overwrite=overwrite, resume=resume)
        except OSError as err:
            raise OutputDirError(f"cannot write to --out {out}: {err.strerror or err}") from None

    @classmethod
    def _claim(cls, out: Path, *, overwrite: bool, resume: bool) -> "RunDir":
        if resume:
            path = staging_path(out) if overwrite else out
            if not (path / "config.json").is_file():
                hint = " (an --overwrite run that was interrupted resumes with --resume --overwrite)" if not overwrite \
                    else ""
                raise OutputDirError(f"--resume: {path} holds no run to resume (no config.json); start it without "
                                     f"--resume{hint}")
            return cls(path, out, created=False, staged=overwrite, fd=_lock(path))
        if overwrite and holds_run(out):
            _unlock(out, _lock(out))  # refuse to replace a run that is still writing; release at once
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
            target_fd = None
            try:
                if self.target.exists():
                    target_fd = _lock(self.target)  # not while another process (a resume) writes there
            except OutputDirError as err:
                self.release()
                raise OutputDirError(f"the new run finished in {self.path}, but {err}; it was not swapped in: move "
                                     "it yourself once that process has ended") from None
            old = None
            if target_fd is not None:
                old = self.target.with_name(f"{self.target.name}.replaced-{os.getpid()}")
                os.rename(self.target, old)
                os.close(target_fd)
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
