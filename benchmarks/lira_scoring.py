#!/usr/bin/env python
"""LiRA scoring: TF Privacy's ``compute_score_lira`` against ``lira.compute_score_lira_stacked``, same inputs.

Not a test (shared machines are noisy). Builds the lists one target's scoring gets from a
pool of ``--models`` models (a keep matrix puts every example IN for half of them; the
target's own model left out, equal IN and OUT counts as ``lira_scores`` uses them) with
random statistics for ``--views`` query views, times both functions on them in this one
process, checks that the scores are identical, and prints the seconds and their ratio.

    python benchmarks/lira_scoring.py
    python benchmarks/lira_scoring.py --examples 50000 --models 128 --tfp-examples 2000
"""
from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _lists(*, examples: int, models: int, views: int, seed: int):
    import numpy as np

    from tfdpfair.evaluation import lira

    rng = np.random.default_rng(seed)
    keep = lira.keep_matrix(models=models, examples=examples, seed=seed)[1:]  # model 0 is the target
    stats = rng.normal(size=(models, examples, views)).astype(np.float32)
    stat_in = [stats[1:][keep[:, i], i] for i in range(examples)]
    stat_out = [stats[1:][~keep[:, i], i] for i in range(examples)]
    stat_in, stat_out = lira.equal_count_shadows(stat_in, stat_out, rng=np.random.default_rng(seed))
    return stats[0], stat_in, stat_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--examples", type=int, default=20_000, help="pool examples scored by the stacked function")
    parser.add_argument("--tfp-examples", type=int, default=2_000,
                        help="the first this many are also scored by TF Privacy's (seconds scale linearly)")
    parser.add_argument("--models", type=int, default=16)
    parser.add_argument("--views", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="the best of this many timings is printed")
    args = parser.parse_args()

    import numpy as np

    from tfdpfair.evaluation import lira
    from tfdpfair.evaluation.membership import tf_privacy_tests

    target, stat_in, stat_out = _lists(examples=args.examples, models=args.models, views=args.views, seed=0)
    n = min(args.tfp_examples, args.examples)
    advanced_mia = tf_privacy_tests().advanced_mia

    def best(fn):
        times, result = [], None
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - start)
        return min(times), result

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        tfp_s, tfp = best(lambda: advanced_mia.compute_score_lira(target[:n], stat_in[:n], stat_out[:n]))
        small_s, small = best(lambda: lira.compute_score_lira_stacked(target[:n], stat_in[:n], stat_out[:n]))
        large_s, _ = best(lambda: lira.compute_score_lira_stacked(target, stat_in, stat_out))
    if not np.array_equal(tfp, small):
        raise SystemExit("the stacked scores differ from TF Privacy's: do not use them")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs; "
          f"{args.models} models ({len(stat_in[0])} IN / {len(stat_out[0])} OUT shadows per example), "
          f"{args.views} views; best of {args.repeats}")
    print(f"{n:>7} examples: TF Privacy {tfp_s:.3f} s, stacked {small_s:.4f} s: {tfp_s / small_s:.0f}x faster, "
          "identical scores")
    print(f"{args.examples:>7} examples: stacked {large_s:.3f} s (TF Privacy, scaled linearly: "
          f"{tfp_s * args.examples / n:.1f} s)")


if __name__ == "__main__":
    main()
