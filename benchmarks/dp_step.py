#!/usr/bin/env python
"""Seconds per training step: non-private Keras vs TF Privacy's two DP backends, measured in one run.

Not a test (shared machines are noisy): it prints median s/step over ``--steps`` timed
steps after warm-up, and ratios taken within this one process.

    python benchmarks/dp_step.py [--batch-size 250] [--steps 20] [--slow-steps 3] [--json]

Currently the MNIST CNN (``wincott_cnn``); the engine issue adds WRN-16-4 and tfdpfair's own step.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfdpfair import models  # noqa: E402
from tfdpfair.privacy import DPConfig  # noqa: E402
from tfdpfair.training import TrainConfig, compile_for_training  # noqa: E402

tf.get_logger().setLevel("ERROR")


def seconds_per_step(dp: DPConfig, backend: str, *, batch_size: int, steps: int) -> float:
    tf.keras.utils.set_random_seed(0)
    model = models.get("wincott_cnn")
    trainable = compile_for_training(model, dp=dp, train=TrainConfig(batch_size=batch_size, backend=backend))
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(batch_size, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, size=batch_size)
    for _ in range(2):  # trace and warm up
        trainable.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        trainable.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--steps", type=int, default=20, help="timed steps for the fast methods")
    p.add_argument("--slow-steps", type=int, default=3, help="timed steps for the per-microbatch optimizer")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    dp = DPConfig(l2_norm_clip=1.5, noise_multiplier=1.3)
    kw = dict(batch_size=args.batch_size)
    result = {
        "non_private": seconds_per_step(dp.disabled(), "dp_model", steps=args.steps, **kw),
        "tfp_dp_model": seconds_per_step(dp, "dp_model", steps=args.steps, **kw),
        "tfp_dp_optimizer": seconds_per_step(dp, "dp_optimizer", steps=args.slow_steps, **kw),
    }
    result["dp_model_over_nonprivate"] = result["tfp_dp_model"] / result["non_private"]
    result["dp_optimizer_over_dp_model"] = result["tfp_dp_optimizer"] / result["tfp_dp_model"]
    if args.json:
        print(json.dumps({"wincott_cnn": result}))
        return
    print(f"wincott_cnn, batch {args.batch_size}, {os.cpu_count()} CPUs (median s/step)")
    for name in ("non_private", "tfp_dp_model", "tfp_dp_optimizer"):
        print(f"  {name:<18} {result[name]:.4f} s  ({args.batch_size / result[name]:.0f} examples/s)")
    print(f"  DPModel / non-private:        {result['dp_model_over_nonprivate']:.1f}x")
    print(f"  DP optimizer / DPModel:       {result['dp_optimizer_over_dp_model']:.0f}x")


if __name__ == "__main__":
    main()
