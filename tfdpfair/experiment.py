"""The common command line of every reproduction script (DESIGN.md), and the run around it.

A script supplies its slug, its presets (frozen config dataclasses), a ``plan``
function (the privacy plan, without training) and a ``run`` function (returns
``Results`` and figures); ``main`` does the rest:

``--preset --out --data-dir --seed --resume --overwrite --set key=value --dry-run``.
Bad flags and bad ``--set`` values exit 2 with one line.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import typing
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any TensorFlow import: no C++ info chatter

PRESETS = ("smoke", "quick", "paper")


class ConfigError(ValueError):
    """A bad ``--set`` or preset; printed as one line, exit status 2."""


@dataclasses.dataclass(frozen=True)
class RunContext:
    """Where and how a reproduction runs (everything from the command line but the config)."""

    slug: str
    preset: str
    out: Path
    data_dir: Optional[str]
    seed: int
    resume: bool

    def checkpoint_dir(self, name: str) -> Path:
        return self.out / "checkpoints" / name


@dataclasses.dataclass
class RunOutput:
    """What a script's ``run`` returns: the results, the report title and figures by file stem."""

    results: Any
    title: str
    figures: Dict[str, Any] = dataclasses.field(default_factory=dict)


def _parse_value(text: str, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union and type(None) in args:  # Optional[X]
        if text.lower() in ("none", "null"):
            return None
        inner = [a for a in args if a is not type(None)]
        return _parse_value(text, inner[0], key)
    if hint is bool:
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise ConfigError(f"--set {key}: expected true or false, got {text!r}")
    if hint in (int, float, str):
        try:
            return hint(text)
        except ValueError:
            raise ConfigError(f"--set {key}: expected {hint.__name__}, got {text!r}") from None
    if origin in (tuple, list) or hint in (tuple, list):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise ConfigError(f"--set {key}: expected a JSON list such as [64,32], got {text!r}") from None
        return tuple(value)
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
    except (ValueError, TypeError) as err:
        raise ConfigError(f"--set {full_key}={text}: {err}") from None


def config_to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise ConfigError(f"{self.prog}: {message} (see --help)")


def build_parser(slug: str, description: str) -> argparse.ArgumentParser:
    p = _Parser(prog=f"{slug}.py", description=description)
    p.add_argument("--preset", choices=PRESETS, default="quick",
                   help="smoke: seconds (tests); quick: a 2-core CPU in minutes on real data; paper: the paper's "
                        "hyper-parameters")
    p.add_argument("--out", default=None, help=f"output folder (default results/{slug}/<preset>)")
    p.add_argument("--data-dir", default=None, help="folder with <name>.npz files, or a TFDS data_dir")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints, accountant state included")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier run in OUT instead of a new run folder")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config field (dotted keys for nested ones, e.g. dp.noise_multiplier=1.1)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the privacy plan and write config.json and results.json (privacy only); no training")
    return p


def quiet_tensorflow() -> None:
    """Silence TensorFlow's Python info/warning chatter (e.g. pfor's while_loop fallbacks)."""
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")


def main(
    *,
    slug: str,
    description: str,
    presets: Dict[str, Any],
    plan: Callable[[Any, RunContext], Any],
    run: Callable[[Any, RunContext], RunOutput],
    argv: Optional[Sequence[str]] = None,
) -> int:
    """Parse the common flags, resolve the config and run (or plan) one reproduction. Returns the exit code."""
    return _main(slug=slug, description=description, presets=presets, plan=plan, run=run, argv=argv)[0]


def run_script(
    *,
    slug: str,
    description: str,
    presets: Dict[str, Any],
    plan: Callable[[Any, RunContext], Any],
    run: Callable[[Any, RunContext], RunOutput],
    argv: Optional[Sequence[str]] = None,
) -> Optional[Path]:
    """A script's entry point, in a shell or a notebook cell: ``main``, then exit status on failure.

    Returns the output folder on success (and, inside IPython, displays its report and
    figures) instead of calling ``sys.exit(0)``, which a notebook would show as an error.
    """
    code, out = _main(slug=slug, description=description, presets=presets, plan=plan, run=run, argv=argv)
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


def _main(*, slug, description, presets, plan, run, argv) -> tuple[int, Optional[Path]]:
    from tfdpfair.data import DataUnavailableError, SubsetError
    from tfdpfair.models.pretrained import PretrainedWeightsError
    from tfdpfair.privacy.accounting import PrivacyConfigError
    from tfdpfair.reporting import OutputDirError, prepare_output_dir, rows_markdown, write_json, write_results
    from tfdpfair.reporting.results import privacy_markdown

    try:
        args = build_parser(slug, description).parse_args(argv)
        config = apply_overrides(presets[args.preset], args.overrides)
        out = Path(args.out) if args.out else Path("results") / slug / args.preset
        if args.resume and args.overwrite:
            raise ConfigError("--resume and --overwrite exclude each other")
        out = prepare_output_dir(out, overwrite=args.overwrite, resume=args.resume)
        config_dict = {"paper": slug, "preset": args.preset, "seed": args.seed, "data_dir": args.data_dir,
                       "config": config_to_dict(config)}
        if args.resume:
            saved = json.loads((out / "config.json").read_text())
            if saved.get("config") != json.loads(json.dumps(config_dict["config"])):
                raise ConfigError(f"--resume: the config differs from {out}/config.json; resume with the same "
                                  "--preset and --set values, or start a new run")
        write_json(out / "config.json", config_dict)
        ctx = RunContext(slug=slug, preset=args.preset, out=out, data_dir=args.data_dir, seed=args.seed,
                         resume=args.resume)
        print(f"{slug}: preset {args.preset}, seed {args.seed}, writing to {out}", flush=True)
        start = time.perf_counter()
        if args.dry_run:
            results = plan(config, ctx)
            results.wall_seconds = time.perf_counter() - start
            write_json(out / "results.json", {k: v for k, v in results.to_dict().items() if k != "rows"} | {"rows": []})
            print("Privacy plan (no training):\n\n" + privacy_markdown(results.privacy))
            return 0, out
        output = run(config, ctx)
        output.results.wall_seconds = time.perf_counter() - start
        written = write_results(out, output.results, title=output.title, figures=output.figures)
    except (ConfigError, PrivacyConfigError, OutputDirError, DataUnavailableError, SubsetError,
            PretrainedWeightsError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2, None
    print("\n" + privacy_markdown(output.results.privacy) if output.results.privacy else "")
    print("\n" + rows_markdown(output.results.rows))
    print(f"\nwall time {output.results.wall_seconds:.1f} s; wrote " + ", ".join(str(p) for p in written))
    return 0, out
