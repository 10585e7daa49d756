"""The common command line of every reproduction script (DESIGN.md), and the resumable run around it.

A script supplies its slug, its presets (frozen config dataclasses), a ``plan``
function (the privacy plan, without training) and a ``run`` function (returns
``Results`` and figures); ``run_script`` does the rest:

``--preset --out --data-dir --seed --resume --overwrite --secure-noise --set key=value --dry-run``,
and ``--seeds 0,1,2``: the same run once per seed, each in ``OUT/seed<k>/`` (a run folder of its
own, resumable), then ``OUT/report.md`` and ``OUT/seeds.json`` over the seeds (mean ± std,
median and range per number; the script's findings judged beyond the seed spread,
``tfdpfair.reporting.findings``). ``--resume`` reuses finished seeds and resumes the others.

What the run around a script guarantees:

* bad flags, bad ``--set`` values, bad data and bad folders end with one line on stderr
  and exit status 2 (``tfdpfair.errors.InputError``); Ctrl-C ends with one line saying
  what was saved and how to resume, exit status 130;
* a script's work is a sequence of *units* (a model of a sweep, a stage): ``ctx.unit``
  stores each finished unit atomically under ``OUT/units/`` and ``--resume`` returns the
  stored result instead of redoing it; a unit killed half-way resumes from its last
  epoch checkpoint, with its noise stream continued, so the resumed run equals an
  uninterrupted one;
* each unit draws from its own random streams, ``RunStreams(seed, "<slug>/<unit>")``:
  no two models of a sweep share DP noise (``--secure-noise``: OS entropy instead);
* the output folder is claimed atomically and locked; results files are written
  atomically; ``complete.json`` marks a finished run (``tfdpfair.reporting.rundir``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import shlex
import shutil
import signal
import sys
import threading
import time
import typing
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from tfdpfair.errors import InputError, one_line

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any TensorFlow import: no C++ info chatter

PRESETS = ("smoke", "quick", "paper")
UNITS = "units"
UNITS_FORMAT = "2"  # 2: a unit is stored as <name>.json (format 1 replaced a dotted "suffix": "z=0.5" → "z=0.json")


class ConfigError(InputError):
    """A bad flag, ``--set`` or preset; printed as one line, exit status 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (e.g. a cluster's pre-emption), handled like Ctrl-C."""


# -- units: the resumable pieces of a run -------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Unit:
    """One resumable piece of a reproduction, as its function sees it.

    Attributes:
      name: the unit's name within the run (e.g. ``"dcgan/eps=2"``).
      checkpoint_dir: where its training checkpoints go.
      resume: True when ``checkpoint_dir`` holds a checkpoint to continue from.
      streams: its random streams (DP noise, sampling, augmentation, latents).
      out: the run folder (models go here, via ``save_model``).
    """

    name: str
    checkpoint_dir: Path
    resume: bool
    streams: Any
    out: Path

    def save_model(self, model, filename: str) -> Path:
        """``model.save(OUT/filename)`` atomically (a ``.keras`` file is whole or absent)."""
        from tfdpfair.reporting.files import atomic_path

        path = self.out / filename
        with atomic_path(path) as tmp:
            model.save(tmp)
        return path


def unit_path(name: str) -> Path:
    """Where unit ``name`` is stored, relative to ``OUT/units/`` (and to ``OUT/checkpoints/``): its ``/``-separated
    parts, each with characters other than letters, digits and ``._=+-`` replaced by ``_``."""
    if not name or name.startswith("/") or ".." in name.split("/"):
        raise ValueError(f"bad unit name {name!r}")
    return Path(*[re.sub(r"[^A-Za-z0-9._=+-]", "_", part) for part in name.split("/")])


@dataclasses.dataclass(frozen=True)
class RunContext:
    """Where and how a reproduction runs (everything from the command line but the config)."""

    slug: str
    preset: str
    out: Path
    data_dir: Optional[str]
    seed: int
    resume: bool
    secure_noise: bool = False

    def checkpoint_dir(self, name: str) -> Path:
        return self.out / "checkpoints" / unit_path(name)

    def streams(self, name: str):
        """The random streams of unit ``name``: ``RunStreams(seed, "<slug>/<name>")`` (or secure ones)."""
        from tfdpfair.randomness import RunStreams

        return RunStreams(seed=self.seed, name=f"{self.slug}/{name}", secure=self.secure_noise)

    def completed_units(self) -> List[str]:
        root = self.out / UNITS
        return sorted(str(p.relative_to(root))[:-len(".json")] for p in root.rglob("*.json")) if root.is_dir() else []

    def _check_units_format(self) -> None:
        """Refuse a run folder whose stored units use format 1 (where two names could share a file)."""
        root = self.out / UNITS
        marker = root / "FORMAT"
        if marker.is_file():
            if marker.read_text().strip() != UNITS_FORMAT:
                raise InputError(f"{self.out}: its stored runs use unit format {marker.read_text().strip()!r}, this "
                                 f"tfdpfair reads {UNITS_FORMAT!r}; start a new run (another --out)")
            return
        if root.is_dir() and any(root.rglob("*.json")):
            raise InputError(f"{self.out} holds runs stored by an older tfdpfair, whose unit files could be shared "
                             "by two runs with dotted names (z=0.5 and z=0.7); its results may be wrong: start a new "
                             "run (another --out)")

    def unit(self, name: str, fn: Callable[[Unit], dict]) -> dict:
        """Run ``fn(unit)`` once per run folder and return its result, stored as it finishes.

        ``fn`` returns a dict of JSON values and numpy arrays (nested dicts and lists
        allowed); it is written atomically to ``OUT/units/<name>.json`` (+ ``.npz``) and
        the unit's checkpoints are then deleted. When that file exists, ``unit`` returns
        its content without calling ``fn``; that is how ``--resume`` skips finished work.
        Before ``fn`` runs, TensorFlow, numpy and Python are seeded from the unit's own
        stream, so a unit does not depend on what ran before it in the process.
        """
        from tfdpfair import serialization
        from tfdpfair.reporting.files import write_bytes, write_text

        self._check_units_format()
        base = self.out / UNITS / unit_path(name)
        # name + ".json", never Path.with_suffix: a name such as "eps=0.5" has a "suffix" (".5") that with_suffix
        # would replace, mapping "z=0.5" and "z=0.7" to one file (finished runs then load each other's results)
        stored, npz = base.parent / (base.name + ".json"), base.parent / (base.name + ".npz")
        if stored.is_file():
            print(f"\n== {name}: done earlier, loaded from {stored} ==", flush=True)
            return serialization.unpack(stored.read_text(), npz.read_bytes() if npz.is_file() else b"")
        from tfdpfair.compat import keras

        streams = self.streams(name)
        keras.utils.set_random_seed(streams.int_seed("init"))
        checkpoints = self.checkpoint_dir(name)
        resume = (checkpoints / "checkpoint").is_file()
        print(f"\n== {name}: resuming from {checkpoints} ==" if resume else f"\n== {name}: started ==", flush=True)
        result = fn(Unit(name=name, checkpoint_dir=checkpoints, resume=resume, streams=streams, out=self.out))
        text, arrays = serialization.pack(result)
        base.parent.mkdir(parents=True, exist_ok=True)
        if not (self.out / UNITS / "FORMAT").is_file():  # written with the first stored unit (see _check_units_format)
            write_text(self.out / UNITS / "FORMAT", UNITS_FORMAT + "\n")
        if arrays:
            write_bytes(npz, arrays)
        write_text(stored, text)  # last: its presence marks the unit done
        shutil.rmtree(checkpoints, ignore_errors=True)
        return result


def load_data(ctx: "RunContext", *, dataset: str, source: str, splits: Sequence[str] = ("train", "test"),
              limits: Sequence[Optional[int]] = (), require_full: bool = False) -> tuple:
    """The splits a script needs (``tfdpfair.data.load``), each cut to its limit (None = all); prints the source.

    ``require_full`` refuses the embedded subsets (the paper presets).
    """
    from tfdpfair import data

    loaded = [data.load(dataset, split, data_dir=ctx.data_dir, source=source) for split in splits]
    if require_full and loaded[0].source.startswith("embedded"):
        raise data.DataUnavailableError(
            f"preset {ctx.preset} needs the full {dataset}, but only {loaded[0].source} was found: pass --data-dir "
            f"with {dataset}.npz, or --set data_source=tfds to download it")
    limits = list(limits) + [None] * (len(loaded) - len(limits))
    loaded = [d.take(n) for d, n in zip(loaded, limits)]
    fallback = " (no --data-dir given: the data that ships with an installed package)" \
        if loaded[0].source.startswith("embedded") and source == "auto" else ""
    print(f"data: {dataset} from {loaded[0].source}{fallback}; "
          + ", ".join(f"{split} {len(d)}" for split, d in zip(splits, loaded)), flush=True)
    return tuple(loaded)


@dataclasses.dataclass
class RunOutput:
    """What a script's ``run`` returns: the results, the report title and figures by file stem."""

    results: Any
    title: str
    figures: Dict[str, Any] = dataclasses.field(default_factory=dict)


# -- --set key=value -------------------------------------------------------------------------------------------
def _finite(value: float, key: str, text: str) -> float:
    if not math.isfinite(value):
        raise ConfigError(f"--set {key}: expected a finite number, got {text!r}")
    return value


def _parse_scalar(text: str, hint: Any, key: str) -> Any:
    if hint is bool:
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise ConfigError(f"--set {key}: expected true or false, got {text!r}")
    try:
        value = hint(text)
    except ValueError:
        raise ConfigError(f"--set {key}: expected {hint.__name__}, got {text!r}") from None
    return _finite(value, key, text) if hint is float else value


def _list_item(item: Any, hint: Any, key: str) -> Any:
    """One element of a JSON list, checked against the element type (``Any`` for a bare ``tuple``)."""
    if isinstance(item, bool) and hint is not bool:
        raise ConfigError(f"--set {key}: list elements must be {getattr(hint, '__name__', 'numbers or strings')}, "
                          f"got {json.dumps(item)}")
    if hint is float and isinstance(item, (int, float)):
        return _finite(float(item), key, json.dumps(item))
    if hint in (int, str, bool) and isinstance(item, hint):
        return item
    if hint is Any and isinstance(item, (int, float, str)) and not (isinstance(item, float) and not math.isfinite(item)):
        return item
    expected = getattr(hint, "__name__", "numbers or strings")
    raise ConfigError(f"--set {key}: list elements must be {expected}, got {json.dumps(item)}")


def _parse_value(text: str, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union and type(None) in args:  # Optional[X]
        if text.lower() in ("none", "null"):
            return None
        inner = [a for a in args if a is not type(None)]
        return _parse_value(text, inner[0], key)
    if hint in (bool, int, float, str):
        return _parse_scalar(text, hint, key)
    if origin in (tuple, list) or hint in (tuple, list):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, list):
            raise ConfigError(f"--set {key}: expected a JSON list such as [1, 2], got {text!r}")
        element = args[0] if args and (len(args) == 1 or args[-1] is Ellipsis) else Any
        return tuple(_list_item(item, element, key) for item in value)
    raise ConfigError(f"--set {key}: fields of type {hint} cannot be set from the command line")


def apply_overrides(config: Any, assignments: Sequence[str]) -> Any:
    """``config`` with each ``key=value`` applied; dotted keys reach nested dataclasses.

    Values are parsed by the field's type; unknown keys and bad values raise ``ConfigError``.
    """
    for assignment in assignments:
        if "=" not in assignment:
            raise ConfigError(f"--set expects key=value, got {assignment!r}")
        key, text = assignment.split("=", 1)
        config = _set(config, key.strip().split("."), text.strip(), key.strip())
    return config


def _set(obj: Any, path: List[str], text: str, full_key: str) -> Any:
    hints = typing.get_type_hints(type(obj))
    fields = {f.name for f in dataclasses.fields(obj)}
    name = path[0]
    if name not in fields:
        raise ConfigError(f"--set {full_key}: unknown key {name!r}; known: {', '.join(sorted(fields))}")
    current = getattr(obj, name)
    if len(path) > 1:
        if not dataclasses.is_dataclass(current):
            raise ConfigError(f"--set {full_key}: {name!r} has no sub-keys")
        value = _set(current, path[1:], text, full_key)
    elif dataclasses.is_dataclass(current):
        sub = ", ".join(f"{name}.{f.name}" for f in dataclasses.fields(current))
        raise ConfigError(f"--set {full_key}: set one of its fields instead: {sub}")
    else:
        value = _parse_value(text, hints[name], full_key)
    try:
        return dataclasses.replace(obj, **{name: value})
    except (ValueError, TypeError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        raise ConfigError(f"--set {full_key}={text}: {message}") from None


def config_to_dict(config: Any) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _same_config(stored: Any, config: Any) -> bool:
    """A resumed run's stored config equals ``config``, up to fields added to the code since (at their defaults)."""
    from tfdpfair.serialization import same_but_for_added_defaults

    try:
        defaults = config_to_dict(type(config)())
    except TypeError:  # a config class without defaults for every field: exact comparison
        defaults = {}
    return same_but_for_added_defaults(stored=stored, current=config_to_dict(config), defaults=defaults)


# -- the command line ------------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise ConfigError(f"{self.prog}: {message} (see --help)")


def _seed_list(text: str) -> List[int]:
    try:
        seeds = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated seeds such as 0,1,2, got {text!r}") from None
    if len(seeds) < 2 or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"need at least two distinct seeds >= 0, got {text!r}")
    return seeds


def build_parser(slug: str, description: str) -> argparse.ArgumentParser:
    p = _Parser(prog=f"{slug}.py", description=description)
    p.add_argument("--preset", choices=PRESETS, default=None,
                   help="smoke: seconds (tests); quick (default): a 2-core CPU in minutes on real data; paper: the "
                        "paper's hyper-parameters")
    p.add_argument("--out", default=None, help=f"output folder (default results/{slug}/<preset>)")
    p.add_argument("--data-dir", default=None, help="folder with <name>.npz files, or a TFDS data_dir")
    p.add_argument("--seed", type=int, default=None, help="seed of every random stream (default 0)")
    p.add_argument("--seeds", type=_seed_list, default=None, metavar="S,S,...",
                   help="run once per seed (e.g. 0,1,2), each in OUT/seed<S>, then report every number and the "
                        f"paper's findings over the seeds in OUT (default results/{slug}/<preset>-seeds)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in OUT where it stopped (finished units are kept, the one in progress "
                        "continues from its checkpoint); flags not given are taken from OUT/config.json")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run in OUT, but only once the new run has succeeded (it runs in OUT.overwrite)")
    p.add_argument("--secure-noise", action="store_true",
                   help="draw DP noise and batch sampling from the OS's entropy (not reproducible; for models that "
                        "will be released)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config field (dotted keys for nested ones, e.g. dp.noise_multiplier=1.1)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the privacy plan and write config.json and results.json (privacy only); no training")
    return p


def quiet_tensorflow():
    """Import TensorFlow without its start-up chatter and silence its Python warnings; returns the module."""
    from tfdpfair.quiet import import_tensorflow

    return import_tensorflow()


def _resolved(data_dir: Optional[str]) -> Optional[str]:
    return None if data_dir is None else str(Path(data_dir).expanduser().resolve())


@dataclasses.dataclass(frozen=True)
class _Invocation:
    """The command line resolved against an earlier run's config.json (for --resume)."""

    preset: str
    seed: int
    data_dir: Optional[str]
    secure_noise: bool
    overrides: List[str]
    out: Path
    saved: Optional[dict] = None  # the resumed run's config.json


def _resolve_invocation(args, slug: str) -> _Invocation:
    from tfdpfair.reporting.rundir import staging_path

    preset = args.preset or "quick"
    out = Path(args.out) if args.out else Path("results") / slug / preset
    if not args.resume:
        return _Invocation(preset, 0 if args.seed is None else args.seed, args.data_dir, args.secure_noise,
                           list(args.overrides), out)
    folder = staging_path(out) if args.overwrite else out
    try:
        saved = json.loads((folder / "config.json").read_text())
    except FileNotFoundError:  # RunDir.claim says there is nothing to resume
        return _Invocation(preset, args.seed or 0, args.data_dir, args.secure_noise, list(args.overrides), out)
    except (OSError, ValueError) as err:
        raise ConfigError(f"--resume: cannot read {folder}/config.json ({err}); start a new run instead") from None
    if not (isinstance(saved, dict) and isinstance(saved.get("seed"), int) and saved.get("preset") in PRESETS
            and isinstance(saved.get("overrides", []), list) and isinstance(saved.get("config"), dict)):
        raise ConfigError(f"--resume: {folder}/config.json is not the config of a tfdpfair run; start a new run")
    if saved.get("paper") != slug:
        raise ConfigError(f"--resume: {folder} holds a run of {saved.get('paper')!r}, not {slug!r}; resume it with "
                          f"reproductions/{saved.get('paper')}.py")

    def differs(flag: str, given: Any, stored: Any) -> ConfigError:
        return ConfigError(f"--resume: {flag} {given} differs from this run's {stored!r} in {folder}/config.json; "
                           "resume with the run's own flags (or leave them out), or start a new run")

    if args.preset is not None and args.preset != saved.get("preset"):
        raise differs("--preset", args.preset, saved.get("preset"))
    if args.seed is not None and args.seed != saved.get("seed"):
        raise differs("--seed", args.seed, saved.get("seed"))
    if args.data_dir is not None and _resolved(args.data_dir) != saved.get("data_dir_resolved"):
        raise differs("--data-dir", args.data_dir, saved.get("data_dir"))
    if args.secure_noise and not saved.get("secure_noise", False):
        raise differs("--secure-noise", True, False)
    data_dir = saved.get("data_dir") if args.data_dir is None else args.data_dir
    if data_dir is not None and _resolved(data_dir) != saved.get("data_dir_resolved"):
        data_dir = saved.get("data_dir_resolved")  # resumed from another working directory
    return _Invocation(saved.get("preset", preset), int(saved.get("seed", 0)), data_dir,
                       bool(saved.get("secure_noise", False)),
                       list(args.overrides) if args.overrides else list(saved.get("overrides", [])), out, saved)


class _Interrupts:
    """Ctrl-C and SIGTERM that cannot get lost.

    CPython ignores an exception raised inside a weakref callback or ``__del__`` ("Exception
    ignored in ..."), and TensorFlow / Keras run many of those during garbage collection: a
    KeyboardInterrupt that lands there vanishes and the run goes on to the end (measured: a
    Ctrl-C during the DP-SGD membership attacks of ``dp_dcgan --preset smoke`` was lost in
    about one try in three). The handler raises as Python's does, and a watcher thread raises
    the same signal again every ``repeat`` seconds until the script has handled one (a cleanup that
    takes longer than that while unwinding may see a second KeyboardInterrupt, as after a second Ctrl-C).
    """

    def __init__(self, repeat: float = 2.0):
        self.repeat = repeat
        self.pending: Optional[int] = None
        self.handled = False
        self._watcher: Optional[threading.Thread] = None
        # a repeat is sent only under the lock, so once acknowledge() returns none can be in flight
        # except one already tripped, which reaches our handler (still installed) and is dropped
        self._lock = threading.Lock()

    def handler(self, signum, frame):
        if self.handled:  # a repeat that raced the script's handling of the first one
            return
        self.pending = signum
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="tfdpfair-interrupts", daemon=True)
            self._watcher.start()
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    def _watch(self) -> None:
        import _thread

        while not self.handled:
            time.sleep(self.repeat)
            with self._lock:
                if self.pending is not None and not self.handled:
                    _thread.interrupt_main(self.pending)

    def acknowledge(self) -> None:
        """The script has caught the interrupt: stop repeating it."""
        with self._lock:
            self.handled = True
            self.pending = None

    def _unraisable(self, unraisable) -> None:
        """Drop the "Exception ignored" report of a lost interrupt (it is raised again); pass on the rest."""
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and self.pending is not None:
            return
        self._previous_unraisable(unraisable)

    def install(self) -> Dict[int, Any]:
        """Handle SIGINT and SIGTERM (main thread only); returns the previous handlers (``restore`` takes them)."""
        if threading.current_thread() is not threading.main_thread():
            return {}
        self._previous_unraisable = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        return {signum: signal.signal(signum, self.handler) for signum in (signal.SIGINT, signal.SIGTERM)}

    def restore(self, previous: Dict[int, Any]) -> None:
        """Stop repeating and put back what ``install`` replaced."""
        self.acknowledge()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if previous:
            sys.unraisablehook = self._previous_unraisable


_INTERRUPTS: Optional[_Interrupts] = None


def _acknowledge_interrupt() -> None:
    if _INTERRUPTS is not None:
        _INTERRUPTS.acknowledge()


def run_script(
    *,
    slug: str,
    description: str,
    presets: Dict[str, Any],
    plan: Callable[[Any, RunContext], Any],
    run: Callable[[Any, RunContext], RunOutput],
    argv: Optional[Sequence[str]] = None,
) -> Optional[Path]:
    """A script's entry point, in a shell or a notebook cell: run it, then exit status on failure.

    Returns the output folder on success (and, inside IPython, displays its report and
    figures) instead of calling ``sys.exit(0)``, which a notebook would show as an error.
    Exit status 2: bad input (one line on stderr); 130: interrupted (Ctrl-C), 143: SIGTERM.
    """
    global _INTERRUPTS
    _INTERRUPTS = _Interrupts()
    previous = _INTERRUPTS.install()
    try:
        code, out = _main(slug=slug, description=description, presets=presets, plan=plan, run=run, argv=argv)
    finally:
        _INTERRUPTS.restore(previous)
    if code:
        raise SystemExit(code)
    if out is not None and _in_ipython():
        _display_run(out)
    return out


def _in_ipython() -> bool:
    ipython = sys.modules.get("IPython")
    return ipython is not None and ipython.get_ipython() is not None


def _display_run(out: Path) -> None:  # pragma: no cover - exercised by the notebook tests
    from IPython.display import Image, Markdown, display

    report = out / "report.md"
    if report.exists():
        display(Markdown(report.read_text()))
    for png in sorted((out / "figures").glob("*.png")):
        display(Markdown(f"`{png.name}`"), Image(filename=str(png)))


def _resume_command(slug: str, rundir) -> str:
    script = f"reproductions/{slug}.py"
    words = ["python", script, "--out", str(rundir.target), "--resume"] + (["--overwrite"] if rundir.staged else [])
    return " ".join(shlex.quote(w) for w in words)


def _interrupted_line(slug: str, rundir, ctx: Optional[RunContext]) -> str:
    done = ctx.completed_units() if ctx is not None else []
    in_progress = [p.parent for p in (rundir.path / "checkpoints").rglob("checkpoint")] \
        if (rundir.path / "checkpoints").is_dir() else []
    saved = f"{len(done)} finished unit(s) in {rundir.path / UNITS}" if done else "no finished unit yet"
    if in_progress:
        saved += f" and the last epoch checkpoint of {len(in_progress)} unit(s) in progress"
    return f"interrupted: {saved}; continue with: {_resume_command(slug, rundir)}"


def _main(*, slug, description, presets, plan, run, argv) -> tuple:
    from tfdpfair.reporting.rundir import RunDir

    rundir, ctx, inv = None, None, None
    try:
        args = build_parser(slug, description).parse_args(argv)
        if args.seeds is not None:
            return _main_seeds(args, slug=slug, description=description, presets=presets, plan=plan, run=run)
        if args.dry_run and (args.resume or args.overwrite):
            raise ConfigError(f"--dry-run and --{'resume' if args.resume else 'overwrite'} exclude each other: a "
                              "dry run trains nothing, and writes its plan to a new folder")
        inv = _resolve_invocation(args, slug)
        config = apply_overrides(presets[inv.preset], inv.overrides)
        from tfdpfair.data.loading import check_data_dir

        check_data_dir(inv.data_dir)
        config_dict = {"paper": slug, "preset": inv.preset, "seed": inv.seed, "data_dir": inv.data_dir,
                       "data_dir_resolved": _resolved(inv.data_dir), "secure_noise": inv.secure_noise,
                       "overrides": inv.overrides, "config": config_to_dict(config)}
        if inv.saved is not None and not _same_config(inv.saved.get("config"), config):
            raise ConfigError(f"--resume: the config differs from the run's config.json in {inv.out}; resume with "
                              "the same --set values (or none), or start a new run")
        rundir = RunDir.claim(inv.out, overwrite=args.overwrite, resume=args.resume)
        if not args.resume:
            from tfdpfair.reporting.files import write_json

            write_json(rundir.path / "config.json", config_dict)
        ctx = RunContext(slug=slug, preset=inv.preset, out=rundir.path, data_dir=inv.data_dir, seed=inv.seed,
                         resume=args.resume, secure_noise=inv.secure_noise)
        where = f"{rundir.path} (replaces {rundir.target} when it succeeds)" if rundir.staged else f"{rundir.path}"
        print(f"{slug}: preset {inv.preset}, seed {inv.seed}, noise "
              f"{'secure (OS entropy)' if inv.secure_noise else 'seeded per unit'}, "
              f"{'resuming in' if args.resume else 'writing to'} {where}", flush=True)
        quiet_tensorflow()
        start = time.perf_counter()
        if args.dry_run:
            from tfdpfair.reporting.files import write_json
            from tfdpfair.reporting.results import privacy_markdown

            results = plan(config, ctx)
            results.wall_seconds = time.perf_counter() - start
            write_json(rundir.path / "results.json",
                       {k: v for k, v in results.to_dict().items() if k != "rows"} | {"rows": []})
            rundir.release()
            print("Privacy plan (no training):\n\n" + privacy_markdown(results.privacy))
            return 0, rundir.path
        output = run(config, ctx)
        output.results.wall_seconds = time.perf_counter() - start
        from tfdpfair.reporting import write_results

        written = write_results(rundir.path, output.results, title=output.title, figures=output.figures)
        staged = rundir.path
        final = rundir.finish({"paper": slug, "preset": inv.preset, "seed": inv.seed,
                               "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
                               "wall_seconds_last_process": output.results.wall_seconds,
                               "units": ctx.completed_units()})
        shutil.rmtree(final / "checkpoints", ignore_errors=True)
    except InputError as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        if rundir is not None:
            rundir.abandon()
        return 2, None
    except KeyboardInterrupt as interrupt:
        _acknowledge_interrupt()
        if rundir is None:
            print("interrupted before anything was written", file=sys.stderr)
        else:
            rundir.release()
            print(_interrupted_line(slug, rundir, ctx), file=sys.stderr)
        return (143 if isinstance(interrupt, Terminated) else 130), None
    except BaseException:
        if rundir is not None:
            rundir.abandon()
        raise
    from tfdpfair.reporting.results import privacy_markdown, rows_markdown

    print("\n" + privacy_markdown(output.results.privacy) if output.results.privacy else "")
    print("\n" + rows_markdown(output.results.rows))
    if output.results.findings:
        from tfdpfair.reporting.findings import findings_lines

        print("\nFindings on this seed (one draw of the training randomness; --seeds 0,1,2 judges them over seeds):\n"
              + "\n".join(f"- {line}" for line in findings_lines(output.results.findings,
                                                                  [r.as_dict() for r in output.results.rows])))
    print(f"\nwall time {output.results.wall_seconds:.1f} s; wrote "
          + ", ".join(str(final / p.relative_to(staged)) for p in written) + f"; {final / 'complete.json'}")
    return 0, final


# -- one run per seed, and the report over the seeds -----------------------------------------------------------
SEEDS_KIND = "seeds"


def _seeds_invocation(args, slug: str, out: Path) -> dict:
    """The seeds run's own config.json: new from the flags, or the stored one checked against them (--resume)."""
    for flag, given in (("--seed", args.seed is not None), ("--dry-run", args.dry_run),
                        ("--overwrite", args.overwrite)):
        if given:
            raise ConfigError(f"--seeds and {flag} exclude each other" + (
                ": each seed's run gets its own --seed" if flag == "--seed" else
                ": the privacy plan does not depend on the seed; dry-run one seed" if flag == "--dry-run" else
                ": runs over seeds are never replaced; choose a new --out"))
    if not args.resume:
        return {"paper": slug, "kind": SEEDS_KIND, "preset": args.preset or "quick", "seeds": list(args.seeds),
                "data_dir": args.data_dir, "data_dir_resolved": _resolved(args.data_dir),
                "secure_noise": args.secure_noise, "overrides": list(args.overrides)}
    try:
        saved = json.loads((out / "config.json").read_text())
    except FileNotFoundError:
        raise ConfigError(f"--resume: {out} holds no run over seeds (no config.json); start it without --resume") \
            from None
    except (OSError, ValueError) as err:
        raise ConfigError(f"--resume: cannot read {out}/config.json ({err}); start a new run instead") from None
    if not isinstance(saved, dict) or saved.get("kind") != SEEDS_KIND or saved.get("paper") != slug:
        raise ConfigError(f"--resume --seeds: {out} does not hold a run of {slug} over seeds; resume it without "
                          "--seeds, or choose its own --out")
    for flag, given, stored in (("--seeds", args.seeds, saved["seeds"]), ("--preset", args.preset, saved["preset"]),
                                ("--set", args.overrides or None, saved["overrides"]),
                                ("--data-dir", _resolved(args.data_dir), saved["data_dir_resolved"])):
        if given is not None and given != stored:
            raise ConfigError(f"--resume: {flag} {given} differs from this run's {stored!r} in {out}/config.json; "
                              "resume with the run's own flags (or leave them out)")
    if args.secure_noise and not saved["secure_noise"]:
        raise ConfigError(f"--resume: --secure-noise differs from the run's own setting in {out}/config.json")
    return saved


def _seed_argv(saved: dict, seed: int, folder: Path) -> List[str]:
    argv = ["--preset", saved["preset"], "--seed", str(seed), "--out", str(folder)]
    if saved["data_dir_resolved"] is not None:
        argv += ["--data-dir", saved["data_dir_resolved"]]
    if saved["secure_noise"]:
        argv.append("--secure-noise")
    for assignment in saved["overrides"]:
        argv += ["--set", assignment]
    if (folder / "config.json").is_file():
        argv.append("--resume")
    return argv


def _reclaim_empty(folder: Path) -> None:
    """A seed folder left holding only its lock (a run killed while claiming it) is claimed again, not skipped."""
    from tfdpfair.reporting.rundir import LOCK, in_use

    if folder.is_dir() and [p.name for p in folder.iterdir()] == [LOCK] and not in_use(folder):
        (folder / LOCK).unlink()
        folder.rmdir()


def _main_seeds(args, *, slug, description, presets, plan, run) -> tuple:
    """``--seeds``: each seed's run in OUT/seed<k> (finished ones reused), then the report over the seeds."""
    from tfdpfair.data.loading import check_data_dir
    from tfdpfair.reporting.files import write_json, write_text
    from tfdpfair.reporting.rundir import MARKER, RunDir
    from tfdpfair.reporting.seeds import combine_seeds, load_run, seeds_dict, seeds_markdown

    preset = args.preset or "quick"
    out = Path(args.out) if args.out else Path("results") / slug / f"{preset}-seeds"
    saved = _seeds_invocation(args, slug, out)
    apply_overrides(presets[saved["preset"]], saved["overrides"])  # a bad --set fails before any folder exists
    check_data_dir(saved["data_dir_resolved"])
    rundir = RunDir.claim(out, resume=args.resume)
    resume = (f"python reproductions/{slug}.py --seeds {','.join(map(str, saved['seeds']))} "
              f"--out {shlex.quote(str(rundir.path))} --resume")

    def keep_or_abandon() -> None:  # never delete a folder that holds a seed's run
        if any(rundir.path.glob("seed*")):
            rundir.release()
        else:
            rundir.abandon()

    try:
        if not args.resume:
            write_json(rundir.path / "config.json", saved)
        print(f"{slug}: preset {saved['preset']}, seeds {saved['seeds']}, one run per seed in {rundir.path}/seed<k>",
              flush=True)
        folders = []
        for seed in saved["seeds"]:
            folder = rundir.path / f"seed{seed}"
            folders.append(folder)
            if (folder / MARKER).is_file():
                print(f"{slug}: seed {seed} finished earlier in {folder}: reused", flush=True)
                continue
            _reclaim_empty(folder)
            code, written = _main(slug=slug, description=description, presets=presets, plan=plan, run=run,
                                  argv=_seed_argv(saved, seed, folder))
            if code:
                rundir.release()
                if code in (130, 143):
                    print(f"interrupted during seed {seed}: the finished seeds are kept; continue all with: {resume}",
                          file=sys.stderr)
                return code, None
            if Path(written).resolve() != folder.resolve():
                raise ConfigError(f"seed {seed} was written to {written}, not {folder}; move it there and resume")
        runs = [load_run(folder) for folder in folders]
        rows = combine_seeds(runs)
        report = seeds_markdown(runs, rows)
        write_text(rundir.path / "report.md", report)
        write_json(rundir.path / "seeds.json", seeds_dict(runs, rows))
        final = rundir.finish({"paper": slug, "preset": saved["preset"], "seeds": saved["seeds"],
                               "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
    except InputError as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        keep_or_abandon()
        return 2, None
    except KeyboardInterrupt as interrupt:
        _acknowledge_interrupt()
        rundir.release()
        print(f"interrupted: the finished seeds are kept; continue with: {resume}", file=sys.stderr)
        return (143 if isinstance(interrupt, Terminated) else 130), None
    except BaseException:
        keep_or_abandon()
        raise
    findings = report.split("## Findings over seeds", 1)
    if len(findings) == 2:
        print("\n## Findings over seeds" + findings[1].split("\n### ", 1)[0])
    print(f"\n{len(runs)} seeds; wrote {final / 'report.md'}, {final / 'seeds.json'}, {final / MARKER}")
    return 0, final
