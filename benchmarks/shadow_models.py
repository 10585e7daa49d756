#!/usr/bin/env python
"""Seconds per LiRA shadow model at a DeMem-quick-like scale, measured, and what 16 of them will take.

Not a test (shared machines are noisy). Trains ``--models`` shadow models (default 2 of
a 16-model keep matrix) with ``tfdpfair.evaluation.lira.train_shadow_models`` — each on
its half of a pool of CIFAR-10 training images, then queried on the whole pool, original
and flipped — and prints the seconds of each and the extrapolation to 16 models.

Assumed scale of DeMem's ``quick`` preset (issue 13 will fix it): a pool of 10,000
CIFAR-10 images (5,000 IN per model), the zoo's ResNet-18 at width 16 with GroupNorm, 32 × 32,
batch 256, SGD, standard training. PGD adversarial training with 3 steps costs about 4×
a standard step (3 extra forward-backward passes per batch), which the printout adds.

    python benchmarks/shadow_models.py --data-dir ../shared/data
    python benchmarks/shadow_models.py --data-dir ../shared/data --pool 4000 --epochs 3 --models 1
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--data-dir", required=True, help="folder with cifar10.npz (see shared/data/README.md)")
    parser.add_argument("--pool", type=int, default=10_000, help="pool size (each model trains on half)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--width", type=int, default=16, help="ResNet-18 first-stage width")
    parser.add_argument("--models", type=int, default=2, help="models to train now (of a 16-model keep matrix)")
    args = parser.parse_args()

    from tfdpfair.quiet import import_tensorflow

    tf = import_tensorflow()
    from tfdpfair import data, models
    from tfdpfair.evaluation.lira import classifier_trainer, run_lira, train_shadow_models
    from tfdpfair.privacy import DPConfig
    from tfdpfair.training import TrainConfig

    train = data.load("cifar10", "train", data_dir=args.data_dir, source="npz")
    x, y = train.as_float()[: args.pool], train.y[: args.pool]
    trainer = classifier_trainer(
        build=lambda: models.get("resnet18", input_shape=x.shape[1:], num_classes=10, width=args.width, groups=8),
        dp=DPConfig().disabled(), seed=0,
        train=TrainConfig(batch_size=256, epochs=args.epochs, learning_rate=0.1, optimizer="sgd"))
    seconds = []
    with tempfile.TemporaryDirectory() as folder:
        for k in range(args.models):
            start = time.perf_counter()
            shadows = train_shadow_models(x=x, y=y, train_fn=trainer, directory=folder, models=16, seed=0,
                                          indices=[k], progress=None)
            seconds.append(time.perf_counter() - start)
            print(f"shadow model {k}: {seconds[-1]:.1f} s", flush=True)
        if len(shadows.finished) >= 3:
            print(f"LiRA AUC over {len(shadows.finished)} models: {run_lira(shadows).auc:.3f}")
    mean = sum(seconds) / len(seconds)
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, TF {tf.__version__}")
    print(f"pool {args.pool} CIFAR-10 images (half IN per model), ResNet-18 width {args.width}, {args.epochs} epochs, "
          f"batch 256, queries original + flip")
    print(f"mean {mean:.1f} s per shadow model → 16 models ≈ {16 * mean / 60:.0f} min standard training; "
          f"≈ {4 * 16 * mean / 60:.0f} min with 3-step PGD adversarial training (≈ 4× per step)")


if __name__ == "__main__":
    main()
