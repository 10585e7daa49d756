#!/usr/bin/env python
"""How many shadow models LiRA needs at DeMem's quick scale: TPR at 1 % and 0.1 % FPR against the shadow count.

Not a test (it trains models). Trains one pool of ``--models`` PGD-AT models with DeMem's
``quick`` preset (Wincott's small CNN, 1,000 CIFAR-10 images at 16 px, each model IN on 500,
ε = 2/255; stored one by one in ``--out``, so a rerun reuses them), then attacks each of
``--targets`` targets with k of the other models as shadows, k from 2 to models − 1, over
``--draws`` random choices of the k. It prints, per k: the AUC and the TPR at 1 % FPR (mean
over targets and draws, the spread of a single target's value between draws of its shadows,
and the spread over targets), and the TPR at 0.1 % FPR pooled over the targets (per target,
500 non-members cannot resolve 0.1 %). A shadow count is enough when adding shadows no longer
moves the mean beyond the spread between draws.

    python benchmarks/lira_shadow_count.py --data-dir ../shared/data --out runs/lira-shadow-count
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]


def _demem():
    spec = importlib.util.spec_from_file_location("_tfdpfair_demem", REPO / "reproductions" / "demem.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script runs
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--data-dir", required=True, help="folder with cifar10.npz (see shared/data/README.md)")
    parser.add_argument("--out", required=True, type=Path, help="pool folder (reused when it exists)")
    parser.add_argument("--models", type=int, default=16, help="models in the pool (even, ≥ 4)")
    parser.add_argument("--targets", type=int, default=8, help="models attacked in turn")
    parser.add_argument("--draws", type=int, default=10, help="random shadow subsets per target and count")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.models < 4 or args.models % 2 or not 1 <= args.targets <= args.models:
        parser.error("--models must be even and ≥ 4, --targets in 1..models")

    import dataclasses

    import numpy as np
    from sklearn.metrics import roc_auc_score

    from tfdpfair import data
    from tfdpfair.evaluation import lira

    demem = _demem()
    config = dataclasses.replace(demem.PRESETS["quick"], models=args.models)
    setting = demem.Setting("pgd_at", 0.0, config.epsilon)
    train, test = (data.load("cifar10", split, data_dir=args.data_dir, source="npz") for split in ("train", "test"))
    step = config.downsample
    x = np.concatenate([train.as_float(), test.as_float()])[:config.pool_size, ::step, ::step]
    y = np.concatenate([train.y, test.y])[:config.pool_size]
    trainer = lira.classifier_trainer(build=demem._builder(config, x.shape[1:], 10, dp=False),
                                      dp=config.dp.disabled(), train=config.train, seed=args.seed,
                                      name="lira_shadow_count", adversarial=demem._adversarial(config, setting))
    start = time.perf_counter()
    pool = lira.train_shadow_models(x=x, y=y, train_fn=trainer, directory=args.out, models=args.models,
                                    queries=config.queries, seed=args.seed, progress=print)
    print(f"pool of {args.models} models ready in {time.perf_counter() - start:.0f} s "
          f"(mean accuracy on members {np.mean(pool.correct[pool.keep[pool.finished]]):.3f}, "
          f"non-members {np.mean(pool.correct[~pool.keep[pool.finished]]):.3f})\n")

    rng = np.random.default_rng(args.seed)
    targets = list(range(args.targets))
    print(f"{'shadows':>7}  {'AUC':>6}  {'TPR@1%':>7}  {'± draws':>7}  {'± targets':>9}  {'pooled TPR@0.1%':>15}"
          f"  (non-members pooled)")
    for k in range(2, args.models):
        auc, tpr1, pooled = [], np.zeros((args.targets, args.draws)), []
        for d in range(args.draws):
            scores, members = [], []
            for i, t in enumerate(targets):
                others = [m for m in range(args.models) if m != t]
                chosen = np.sort(np.r_[t, rng.choice(others, size=k, replace=False)])
                index = np.searchsorted(pool.finished, chosen)
                view = lira.ShadowModels(keep=pool.keep, finished=pool.finished[index], stats=pool.stats[index],
                                         correct=pool.correct[index], queries=pool.queries)
                s = lira.lira_scores(view, target=t)
                member = pool.keep[t]
                tpr1[i, d] = lira.tpr_at_fpr(member_scores=s[member], non_member_scores=s[~member], fpr=0.01)
                scores.append(s)
                members.append(member)
                auc.append(roc_auc_score(member, s))
            s, m = np.concatenate(scores), np.concatenate(members)
            pooled.append(lira.tpr_at_fpr(member_scores=s[m], non_member_scores=s[~m], fpr=0.001))
        pooled_text = ("below resolution" if None in pooled  # too few targets × non-members for 0.1 %
                       else f"{np.mean(pooled):7.4f} ± {np.std(pooled):.4f}")
        print(f"{k:>7}  {np.mean(auc):6.3f}  {tpr1.mean():7.3f}  {tpr1.std(axis=1).mean():7.3f}  "
              f"{tpr1.mean(axis=1).std():9.3f}  {pooled_text}  ({int((~m).sum())})", flush=True)


if __name__ == "__main__":
    main()
