"""The ``tfdpfair`` command: ``epsilon``, ``noise``, ``list``, ``attack`` and ``seeds``. Thin; the logic lives in the library.

Bad arguments exit with status 2 and one line on stderr saying what is wrong and
how to fix it; no traceback.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Optional, Sequence

from tfdpfair.errors import InputError, one_line
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
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="{epsilon,noise,list,attack,seeds}")
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
    attack = sub.add_parser("attack", help="TF Privacy's membership-inference attacks on your own Keras classifier")
    attack.add_argument("--model", required=True, help="a classifier saved with model.save('M.keras')")
    attack.add_argument("--members", required=True, help=".npz with x, y: examples the model was trained on")
    attack.add_argument("--non-members", required=True, help=".npz with x, y: examples it never saw")
    attack.add_argument("--attacks", default="threshold,threshold_entropy,mlp,rf",
                        help="comma-separated, from threshold, threshold_entropy, lr, mlp, rf, knn "
                             "(default: the four of Hassanpour et al.; rf and mlp take minutes on 10,000s of examples)")
    attack.add_argument("--slices", default="entire", help="comma-separated, from entire, class, correctness")
    attack.add_argument("--no-balance", action="store_true",
                        help="attack all examples (default: subsample the larger side to the smaller's size)")
    attack.add_argument("--raw-inputs", action="store_true",
                        help="feed uint8 inputs as they are (default: scale uint8 to [0, 1], as tfdpfair trains)")
    attack.add_argument("--seed", type=_count, default=0)
    attack.add_argument("--json", action="store_true", help="print one JSON object")
    seeds = sub.add_parser("seeds", help="finished runs of one reproduction with different --seed: median and range "
                                         "of every number beside the paper's")
    seeds.add_argument("runs", nargs="+", metavar="RUN_DIR", help="the runs' --out folders, one per seed")
    seeds.add_argument("--json", action="store_true", help="print one JSON object")
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


def _csv(text: str) -> tuple:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _cmd_attack(args) -> str:
    from tfdpfair.data.npz import load_xy
    from tfdpfair.evaluation import membership

    attacks = membership.check_attacks(_csv(args.attacks))
    slices = membership.check_slices(_csv(args.slices))
    if "group" in slices:
        raise UsageError("--slices group needs group labels, which this command does not read; use the library's "
                         "membership_attacks(member_groups=..., non_member_groups=...)")
    sets = {role: load_xy(path, role=role) for role, path in (("--members", args.members),
                                                              ("--non-members", args.non_members))}
    (xm, ym), (xn, yn) = sets.values()
    if xm.shape[1:] != xn.shape[1:]:
        raise UsageError(f"members have inputs of shape {xm.shape[1:]} but non-members {xn.shape[1:]}")
    from tfdpfair.quiet import import_tensorflow

    import_tensorflow()
    from tfdpfair import models

    model = models.load(args.model)
    expected = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    if expected is not None and expected[-1:] == (1,) and len(expected) == xm.ndim:  # grayscale without channel axis
        xm, xn = xm[..., None], xn[..., None]
    if expected is not None and (len(expected) != len(xm.shape[1:])
                                 or any(e not in (None, g) for e, g in zip(expected, xm.shape[1:]))):
        raise UsageError(f"the model takes inputs of shape {expected}, the files hold {xm.shape[1:]}")
    if not args.raw_inputs:
        xm, xn = [x.astype("float32") / 255.0 if x.dtype.name == "uint8" else x.astype("float32") for x in (xm, xn)]
    report = membership.membership_attacks(model=model, members=(xm, ym), non_members=(xn, yn), attacks=attacks,
                                           slices=slices, balance=not args.no_balance, seed=args.seed)
    from tfdpfair.evaluation.audit import attack_audit_bound

    audit = attack_audit_bound(report.scores, seed=args.seed)
    best = report.best
    if args.json:
        from tfdpfair.files import dumps

        return dumps({"members": report.members, "non_members": report.non_members, "seed": report.seed,
                      "best": {"attack": best["attack"], "auc": float(best["auc"])},
                      "audit": {"epsilon_lower_bound": audit.epsilon, "attack": audit.attack,
                                "confidence": audit.confidence},
                      "rows": report.table.to_dict(orient="records")})
    return (f"membership inference on {args.model}: {report.members} members vs {report.non_members} non-members "
            f"(seed {report.seed})\n{report.to_text()}\n"
            f"best attack: {best['attack']} (AUC {best['auc']:.3f}; 0.5 = chance)\n"
            f"audit: epsilon >= {audit.epsilon:.3f} with 95 % confidence (threshold chosen on half the scores, "
            "Clopper-Pearson on the other half, Bonferroni over the attacks; assumes members and non-members are "
            "exchangeable). The table's epsilon_lower_bound is TF Privacy's, maximised over thresholds: optimistic.")


def _cmd_seeds(args) -> str:
    from tfdpfair.reporting.seeds import combine_seeds, load_run, seeds_dict, seeds_markdown

    runs = [load_run(folder) for folder in args.runs]
    rows = combine_seeds(runs)
    if args.json:
        return _json(seeds_dict(runs, rows))
    return seeds_markdown(runs, rows)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handler = {"epsilon": _cmd_epsilon, "noise": _cmd_noise, "list": _cmd_list, "attack": _cmd_attack,
                   "seeds": _cmd_seeds}[args.command]
        print(handler(args))
    except (UsageError, InputError) as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    except accounting.PrivacyConfigError as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
