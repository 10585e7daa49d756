"""The ``tfdpfair`` command: ``epsilon``, ``noise`` and ``list``. Thin; the logic lives in the library.

Bad arguments exit with status 2 and one line on stderr saying what is wrong and
how to fix it; no traceback.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Optional, Sequence

from tfdpfair.errors import one_line
from tfdpfair.privacy import accounting


class UsageError(Exception):
    """A bad command line; printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage + message; we print one line
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _json(obj: dict) -> str:
    """Strict JSON: an infinite ε (no noise) is null, with the reason beside it."""
    if any(isinstance(v, float) and not math.isfinite(v) for v in obj.values()):
        obj = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in obj.items()}
        obj["note"] = "epsilon null: unbounded (the noise is zero or negligible)"
    return json.dumps(obj, allow_nan=False)


def _add_run_shape(p: argparse.ArgumentParser) -> None:
    p.add_argument("--examples", type=_positive_int, required=True, help="training set size N")
    p.add_argument("--batch-size", type=_positive_int, required=True, help="batch size B (q = B/N)")
    length = p.add_mutually_exclusive_group(required=True)
    length.add_argument("--epochs", type=_number, help="passes over the data (steps = epochs * (N // B))")
    length.add_argument("--steps", type=_count, help="number of noisy steps")
    p.add_argument("--delta", type=_number, required=True, help="δ, in (0, 1)")
    p.add_argument("--accounting", choices=accounting.ACCOUNTINGS, default="rdp")
    p.add_argument("--conversion", choices=accounting.CONVERSIONS, default="tight",
                   help="tight: the accountant's own conversion; classic: min_α RDP(α)+log(1/δ)/(α−1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tfdpfair", description="Differential privacy accounting and the tfdpfair catalogue.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="{epsilon,noise,list}")
    sub.required = True
    eps = sub.add_parser("epsilon", help="ε of a DP-SGD run (Poisson-sampled Gaussian steps)")
    _add_run_shape(eps)
    eps.add_argument("--noise-multiplier", type=_number, required=True, help="σ, noise std / clip norm")
    noise = sub.add_parser("noise", help="smallest noise multiplier that meets a target ε")
    _add_run_shape(noise)
    noise.add_argument("--target-epsilon", type=_number, required=True)
    lst = sub.add_parser("list", help="reproductions, presets, model-zoo names, datasets available offline")
    lst.add_argument("--data-dir", default=None, help="also look for .npz datasets here")
    lst.add_argument("--json", action="store_true")
    return parser


def _steps(args) -> int:
    if args.batch_size > args.examples:
        raise UsageError(
            f"--batch-size {args.batch_size} is larger than --examples {args.examples}; "
            "the batch must be a subset of the data."
        )
    if args.steps is not None:
        if args.steps < 0:
            raise UsageError(f"--steps must be >= 0, got {args.steps}.")
        return args.steps
    if args.epochs < 0:
        raise UsageError(f"--epochs must be >= 0, got {args.epochs}.")
    return accounting.steps_from_epochs(examples=args.examples, batch_size=args.batch_size, epochs=args.epochs)


def _check_common(args) -> None:
    if not 0 < args.delta < 1:
        raise UsageError(f"--delta must be in (0, 1), got {args.delta:g}; a common choice is 1e-5 or 1/N.")
    if args.conversion == "classic" and args.accounting != "rdp":
        raise UsageError("--conversion classic is defined for RDP only; use --accounting rdp.")


def _cmd_epsilon(args) -> str:
    _check_common(args)
    if args.noise_multiplier < 0:
        raise UsageError(f"--noise-multiplier must be >= 0, got {args.noise_multiplier:g}.")
    steps = _steps(args)
    q = args.batch_size / args.examples
    eps = accounting.compute_epsilon(
        sampling_rate=q, noise_multiplier=args.noise_multiplier, steps=steps, delta=args.delta,
        accounting=args.accounting, conversion=args.conversion,
    )
    if args.json:
        return _json({
            "epsilon": eps, "delta": args.delta, "noise_multiplier": args.noise_multiplier,
            "sampling_rate": q, "steps": steps, "accounting": args.accounting, "conversion": args.conversion,
        })
    shown = f"{eps:.4g}" if math.isfinite(eps) else "inf (no finite epsilon: the noise is zero or negligible)"
    return (f"epsilon = {shown} ({args.conversion} {args.accounting}; q = {q:.6g}, steps = {steps}, "
            f"noise multiplier = {args.noise_multiplier:g}, delta = {args.delta:g})")


def _cmd_noise(args) -> str:
    _check_common(args)
    if args.target_epsilon <= 0:
        raise UsageError(f"--target-epsilon must be > 0, got {args.target_epsilon:g}.")
    steps = _steps(args)
    q = args.batch_size / args.examples
    try:
        sigma = accounting.noise_multiplier_for_epsilon(
            sampling_rate=q, steps=steps, target_epsilon=args.target_epsilon, delta=args.delta,
            accounting=args.accounting, conversion=args.conversion,
        )
    except accounting.PrivacyConfigError as err:
        raise UsageError(str(err)) from None
    eps = accounting.compute_epsilon(sampling_rate=q, noise_multiplier=sigma, steps=steps, delta=args.delta,
                                     accounting=args.accounting, conversion=args.conversion)
    if args.json:
        return _json({
            "noise_multiplier": sigma, "epsilon": eps, "target_epsilon": args.target_epsilon, "delta": args.delta,
            "sampling_rate": q, "steps": steps, "accounting": args.accounting, "conversion": args.conversion,
        })
    return (f"noise multiplier = {sigma:.4f} (epsilon = {eps:.4g} <= {args.target_epsilon:g}, "
            f"{args.conversion} {args.accounting}; q = {q:.6g}, steps = {steps}, delta = {args.delta:g})")


def _cmd_list(args) -> str:
    from tfdpfair.quiet import import_tensorflow

    import_tensorflow()  # the model zoo imports TensorFlow: without its start-up chatter
    from tfdpfair import catalogue

    from tfdpfair.data.loading import DataUnavailableError, check_data_dir

    try:
        check_data_dir(args.data_dir, allow_empty=True)
    except DataUnavailableError as err:
        raise UsageError(f"--data-dir: {err}") from None
    info = catalogue.describe(data_dir=args.data_dir)
    if args.json:
        return json.dumps(info, indent=2)
    return catalogue.format_text(info)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handler = {"epsilon": _cmd_epsilon, "noise": _cmd_noise, "list": _cmd_list}[args.command]
        print(handler(args))
    except UsageError as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    except accounting.PrivacyConfigError as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
