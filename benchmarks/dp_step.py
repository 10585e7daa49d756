#!/usr/bin/env python
"""Seconds per training step of DP-SGD implementations vs the non-private Keras step, measured in one run.

Not a test (shared machines are noisy): median s/step of steps inside ``fit`` after warm-up,
the methods taking turns, and ratios taken within this one process. Methods:

  keras_nonprivate   plain Keras ``fit`` step
  tfp_dp_optimizer   TF Privacy's DPKerasSGDOptimizer, one microbatch per example
  tfp_dp_model       TF Privacy's DPModel, stock layer registry, use_xla=False
  tfdpfair           tfdpfair.privacy.make_private (layerwise per-example clipping)
  *_xla              the same with compile(jit_compile=True) (MNIST CNN; Keras 3 would turn XLA on for GPUs)

TF Privacy's two are Keras 2 code and run on the pinned stack only (the current stack
marks them "Keras 2 only"). Each stack writes ``benchmarks/results_<stack>.json``; the
table in ``benchmarks/results.md`` puts both stacks side by side.

on Wincott's MNIST CNN (batch 250) and WRN-16-4 with GroupNorm + WS (batch 64), plus
examples/s and peak resident memory (VmHWM of a fresh process per method; Linux only),
and a logical batch of 256 on WRN-16-4 processed whole vs in physical chunks of 32.

    python benchmarks/dp_step.py                # table; results_<stack>.json and results.md (both stacks)
    python benchmarks/dp_step.py --json         # one JSON object
    python benchmarks/dp_step.py --ratios-only  # the two ratios only (≈ 3 min), appended to ratio_runs.jsonl
    python benchmarks/dp_step.py --with-slow-wrn  # also TF Privacy's optimizer on WRN (≈ 22 s/step, ≈ 16 GB)
    TF_ENABLE_ONEDNN_OPTS=1 python benchmarks/dp_step.py   # with TensorFlow's oneDNN kernels (see README)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfdpfair import models  # noqa: E402
from tfdpfair.compat import keras  # noqa: E402
from tfdpfair.privacy import DPConfig  # noqa: E402
from tfdpfair.training import TrainConfig, compile_for_training  # noqa: E402
from tfdpfair.compat import KERAS3, STACK, describe  # noqa: E402
from tfdpfair.privacy import tfp  # noqa: E402

tf.get_logger().setLevel("ERROR")
METHODS = ("keras_nonprivate", "tfp_dp_optimizer", "tfp_dp_model", "tfdpfair", "keras_nonprivate_xla",
           "tfdpfair_xla")
XLA_CASES = ("wincott_cnn",)
CASES = {
    "wincott_cnn": dict(kwargs={}, shape=(28, 28, 1), batch=250),
    "wrn16_4": dict(kwargs={"input_shape": (32, 32, 3)}, shape=(32, 32, 3), batch=64),
}


def _peak_memory_mb() -> float:
    """This process's peak resident set (VmHWM), in MB; NaN where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def peak_memory_mb(method: str, model: str, batch: int, physical_batch_size=None) -> float:
    """Peak resident memory of warm-up plus two steps of ``method``, in a fresh process (TF runtime included)."""
    cmd = [sys.executable, __file__, "--probe-memory", method, model, str(batch), str(physical_batch_size or 0)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    try:
        return float(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return float("nan")


def _trainable(method: str, name: str, dp: DPConfig, physical_batch_size=None):
    case = CASES[name]
    keras.utils.set_random_seed(0)
    model = models.get(name, **case["kwargs"])
    if method.endswith("_xla"):
        trainable = _trainable(method[:-len("_xla")], name, dp, physical_batch_size)
        trainable.jit_compile = True
        return trainable
    if method == "tfp_dp_model":
        trainable = tfp.make_dp_model(model, dp, stock_registry=True)
        trainable.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return trainable
    backend = {"keras_nonprivate": "dp_model", "tfp_dp_optimizer": "dp_optimizer", "tfdpfair": "tfdpfair"}[method]
    config = dp.disabled() if method == "keras_nonprivate" else dp
    return compile_for_training(model, dp=config, train=TrainConfig(batch_size=case["batch"], backend=backend,
                                                                     physical_batch_size=physical_batch_size))


def _batch(case: dict, batch: int):
    rng = np.random.default_rng(0)
    return (rng.uniform(size=(batch,) + case["shape"]).astype(np.float32), rng.integers(0, 10, size=batch))


class _StepTimer(keras.callbacks.Callback):
    """Wall seconds of each training step inside ``fit`` (batch begin → batch end)."""

    def __init__(self):
        super().__init__()
        self.times, self._start = [], None

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def _fit_steps(trainable, dataset, steps: int) -> list:
    """Seconds of ``steps`` steps of ``fit``; the first step of the call is run but not returned."""
    timer = _StepTimer()
    trainable.fit(dataset, epochs=1, steps_per_epoch=steps + 1, verbose=0, callbacks=[timer], shuffle=False)
    return timer.times[1:]


def measure(methods, name: str, *, steps: dict, batch=None, physical_batch_size=None, rounds: int = 4,
            memory: bool = True) -> dict:
    """Median s/step of each method inside ``fit`` (how training runs), in ``rounds`` turns per method.

    The methods take turns (a few steps of each, repeated), so drift on a shared machine hits all alike.
    ``fit`` rather than ``train_on_batch``: the latter's per-call overhead differs between Keras 2 and 3
    and no training loop pays it.
    """
    case = CASES[name]
    batch = batch or case["batch"]
    x, y = _batch(case, batch)
    dataset = tf.data.Dataset.from_tensors((x, y)).repeat()
    dp = DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0)
    trainables = {m: _trainable(m, name, dp, physical_batch_size) for m in methods}
    for trainable in trainables.values():
        _fit_steps(trainable, dataset, 1)  # trace and warm up
    times = {m: [] for m in methods}
    turns = {m: min(rounds, steps[m]) for m in methods}
    for r in range(rounds):
        for m in methods:
            if r < turns[m]:
                times[m] += _fit_steps(trainables[m], dataset, -(-steps[m] // turns[m]))
    out = {}
    for m in methods:
        seconds = statistics.median(times[m])
        out[m] = {"seconds_per_step": seconds, "examples_per_second": batch / seconds,
                  "peak_memory_mb": peak_memory_mb(m, name, batch, physical_batch_size) if memory else float("nan")}
    return out


def run(args) -> dict:
    out = {"machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                       "tensorflow": tf.__version__, "stack": STACK, "describe": describe(),
                       "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "TensorFlow's default")}}
    for name, case in CASES.items():
        fast, slow = (args.steps, args.slow_steps) if name == "wincott_cnn" else (args.wrn_steps, 1)
        methods = [m for m in METHODS
                   if not (m == "tfp_dp_optimizer" and name == "wrn16_4" and not args.with_slow_wrn)
                   and not (m.startswith("tfp_") and KERAS3) and not (m.endswith("_xla") and name not in XLA_CASES)]
        print(f"  measuring {name}: {', '.join(methods)} ...", flush=True)
        rows = measure(methods, name, steps={m: slow if m == "tfp_dp_optimizer" else fast for m in methods})
        ours = rows["tfdpfair"]["seconds_per_step"]
        out[name] = {
            "batch_size": case["batch"],
            "seconds_per_step": {m: r["seconds_per_step"] for m, r in rows.items()},
            "examples_per_second": {m: r["examples_per_second"] for m, r in rows.items()},
            "peak_memory_mb": {m: r["peak_memory_mb"] for m, r in rows.items()},
            "dp_over_nonprivate": ours / rows["keras_nonprivate"]["seconds_per_step"],
            "tfp_over_ours": {m: rows[m]["seconds_per_step"] / ours for m in ("tfp_dp_optimizer", "tfp_dp_model")
                              if m in rows},
        }
    print("  measuring wrn16_4 logical batch 256: whole vs physical chunks of 32 ...", flush=True)
    out["logical_batch_wrn16_4"] = {
        "logical_batch": 256,
        "whole": measure(["tfdpfair"], "wrn16_4", steps={"tfdpfair": 2}, batch=256)["tfdpfair"],
        "physical_32": measure(["tfdpfair"], "wrn16_4", steps={"tfdpfair": 2}, batch=256,
                               physical_batch_size=32)["tfdpfair"],
    }
    return out


def ratios_only(args) -> dict:
    """tfdpfair's s/step over the non-private step on both models, nothing else (a few minutes; for repeats)."""
    out = {"stack": STACK, "describe": describe(), "time": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    methods = ["keras_nonprivate", "tfdpfair"]
    for name in CASES:
        steps = args.steps if name == "wincott_cnn" else args.wrn_steps
        print(f"  measuring {name}: {', '.join(methods)} ...", flush=True)
        rows = measure(methods, name, steps={m: steps for m in methods}, memory=False)
        seconds = {m: r["seconds_per_step"] for m, r in rows.items()}
        out[name] = {"seconds_per_step": seconds, "dp_over_nonprivate": seconds["tfdpfair"] / seconds["keras_nonprivate"]}
    return out


STACKS = ("pinned", "current")
RATIO_RUNS = "ratio_runs.jsonl"


def _ratio_runs_section(runs: list) -> list:
    """Markdown lines: every ``--ratios-only`` run's two ratios per stack, with their range."""
    if not runs:
        return []
    lines = ["", "## Repeated runs (`--ratios-only`: the non-private and tfdpfair steps only, one process each)", "",
             "| stack | when | wincott_cnn × non-private | wrn16_4 × non-private | wrn16_4 tfdpfair s/step |",
             "|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['stack']} | {r['time']} | {r['wincott_cnn']['dp_over_nonprivate']:.2f} | "
                     f"{r['wrn16_4']['dp_over_nonprivate']:.2f} | {r['wrn16_4']['seconds_per_step']['tfdpfair']:.3f} |")
    lines.append("")
    for stack in STACKS:
        mine = [r for r in runs if r["stack"] == stack]
        if mine:
            spans = [f"{name} {min(r[name]['dp_over_nonprivate'] for r in mine):.2f}–"
                     f"{max(r[name]['dp_over_nonprivate'] for r in mine):.2f}×" for name in CASES]
            lines.append(f"- {stack}: {len(mine)} runs; " + ", ".join(spans))
    return lines


def _cell(r: dict, method: str) -> str:
    if method not in r["seconds_per_step"]:
        return "— | — | —"
    s = r["seconds_per_step"][method]
    base = r["seconds_per_step"]["keras_nonprivate"]
    return f"{s:.4f} | {s / base:.2f} | {r['peak_memory_mb'][method]:.0f}"


def markdown(results: dict, ratio_runs: tuple = ()) -> str:
    """The side-by-side table of ``results`` = {stack: one run's result}, both stacks or one, then ``ratio_runs``."""
    stacks = [s for s in STACKS if s in results]
    lines = ["# DP step benchmark\n", "Median seconds per step inside `fit`, its ratio to the non-private Keras step of the same "
             "stack and run, and peak resident memory (MB, a fresh process per method). Ratios are comparable "
             "across stacks; seconds only where both ran on the same machine.\n"]
    for stack in stacks:
        m = results[stack]["machine"]
        lines.append(f"- {stack}: {m.get('describe', 'TensorFlow ' + m['tensorflow'])}; {m['cpus']} CPUs "
                     f"({m['processor']}); TF_ENABLE_ONEDNN_OPTS: {m.get('onednn', 'not recorded')}")
    lines.append("")
    header = " | ".join(f"{s} s/step | {s} × non-private | {s} peak MB" for s in stacks)
    lines += [f"| model | batch | method | {header} |", "|---|---|---|" + "---|" * (3 * len(stacks))]
    for name in CASES:
        for method in METHODS:
            cells = [_cell(results[s][name], method) for s in stacks]
            if all(c.startswith("—") for c in cells):
                continue
            lines.append(f"| {name} | {results[stacks[0]][name]['batch_size']} | {method} | " + " | ".join(cells) + " |")
    lines.append("")
    for stack in stacks:
        result = results[stack]
        for name in CASES:
            r = result[name]
            ratios = ", ".join(f"{k} {v:.1f}×" for k, v in r["tfp_over_ours"].items()) or "not run (Keras 2 only)"
            lines.append(f"- {stack}, {name}: tfdpfair / non-private = {r['dp_over_nonprivate']:.2f}×; "
                         f"TF Privacy / tfdpfair: {ratios}")
        lb = result["logical_batch_wrn16_4"]
        lines.append(f"- {stack}, WRN-16-4, logical batch 256: whole batch {lb['whole']['seconds_per_step']:.2f} s/step, "
                     f"peak {lb['whole']['peak_memory_mb']:.0f} MB; physical chunks of 32 "
                     f"{lb['physical_32']['seconds_per_step']:.2f} s/step, peak {lb['physical_32']['peak_memory_mb']:.0f} MB")
    lines += _ratio_runs_section(list(ratio_runs))
    return "\n".join(lines) + "\n"


def _probe_memory(method: str, name: str, batch: str, physical: str) -> None:
    x, y = _batch(CASES[name], int(batch))
    trainable = _trainable(method, name, DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0), int(physical) or None)
    for _ in range(4):
        trainable.train_on_batch(x, y)
    print(_peak_memory_mb())


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--probe-memory":
        return _probe_memory(*sys.argv[2:])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--steps", type=int, default=20, help="timed steps per fast method on the MNIST CNN")
    p.add_argument("--slow-steps", type=int, default=3, help="timed steps of TF Privacy's optimizer (MNIST CNN)")
    p.add_argument("--wrn-steps", type=int, default=5, help="timed steps per method on WRN-16-4")
    p.add_argument("--with-slow-wrn", action="store_true", help="also time TF Privacy's optimizer on WRN-16-4")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--ratios-only", action="store_true",
                   help=f"time only the non-private and tfdpfair steps (no TF Privacy, XLA, memory or logical batch) "
                        f"and append the ratios to {RATIO_RUNS} beside --out; repeat it to see the machine's spread")
    p.add_argument("--out", default=str(Path(__file__).with_name("results.md")),
                   help="the side-by-side table, from this run and the other stack's results_<stack>.json beside it")
    args = p.parse_args()
    if STACK == "current" and not KERAS3:
        p.error("TF_USE_LEGACY_KERAS=1 runs Keras 2 on the current stack: unset it to measure the current stack")
    folder = Path(args.out).parent
    if args.ratios_only:
        result = ratios_only(args)
        with open(folder / RATIO_RUNS, "a") as f:
            f.write(json.dumps(result) + "\n")
    else:
        result = run(args)
        (folder / f"results_{STACK}.json").write_text(json.dumps(result, indent=1) + "\n")
    results = {stack: json.loads((folder / f"results_{stack}.json").read_text()) for stack in STACKS
               if (folder / f"results_{stack}.json").exists()}
    runs = [json.loads(line) for line in (folder / RATIO_RUNS).read_text().splitlines()] \
        if (folder / RATIO_RUNS).exists() else []
    text = markdown(results, runs)
    Path(args.out).write_text(text)
    print(json.dumps(result) if args.json else text)


if __name__ == "__main__":
    main()
