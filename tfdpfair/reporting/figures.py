"""Figures. Every function returns a matplotlib ``Figure``; callers save it (``write_results``)."""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

AXIS_LABELS = {
    "accuracy": "training accuracy",
    "val_accuracy": "validation accuracy",
    "loss": "training loss",
    "epsilon": "ε (tight)",
    "epsilon_classic": "ε (classic)",
    "dp_steps": "DP steps",
}


def plot_training_curves(
    histories: Dict[str, dict], *, metrics: Sequence[str] = ("accuracy", "epsilon_classic")
) -> "plt.Figure":
    """One panel per metric, one line per run, x = epoch (1-based). Missing metrics are skipped per run."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for label, history in histories.items():
            values = history.get(metric)
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(AXIS_LABELS.get(metric, metric.replace("_", " ")))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def image_grid(images, *, rows: int, cols: int, titles=None, row_labels=None) -> "plt.Figure":
    """A rows × cols grid of images (N, H, W, C) with values in [0, 1] or [−1, 1]; N ≥ rows·cols is cut."""
    images = np.asarray(images)
    if images.min() < 0:
        images = (images + 1.0) / 2.0
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.9 + 0.3), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            img = images[i]
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None,
                      vmin=0, vmax=1)
        if titles is not None and i < cols:
            ax.set_title(str(titles[i]), fontsize=7)
    if row_labels is not None:
        for r, label in enumerate(row_labels):
            axes[r, 0].text(-0.1, 0.5, str(label), transform=axes[r, 0].transAxes, ha="right", va="center",
                            fontsize=7)
    fig.tight_layout(pad=0.2)
    return fig


def plot_metric_vs_epsilon(points, *, ylabel: str, reference=None, reference_label: str = "non-private",
                           title: str = "") -> "plt.Figure":
    """``points``: [(ε, value), ...] of private runs; ``reference``: the non-private value (a dashed line)."""
    points = sorted(points)
    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label="DP")
    if reference is not None:
        ax.axhline(reference, linestyle="--", color="gray", label=reference_label)
    ax.set_xlabel("ε (classic)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_lines(series, *, xlabel: str, ylabel: str, title: str = "", intervals=None, xticks=None,
               categorical_x: bool = False, integer_x: bool = False, log_y: bool = False, styles=None) -> "plt.Figure":
    """One line per label: ``series`` = {label: [(x, y), ...]}.

    ``intervals`` = {label: [(low, high), ...]} (same order as the points) draws error bars;
    ``categorical_x`` places the x values evenly, labelled as given (e.g. imbalance levels);
    ``integer_x`` puts ticks on whole numbers only (epochs; ignored with ``categorical_x`` or ``xticks``);
    ``log_y`` draws y on a log scale (values spanning decades, e.g. FID; every y must be > 0, else ValueError);
    ``styles`` = {label: matplotlib line keywords} (e.g. ``{"color": "C0", "linestyle": "--"}``).
    """
    if log_y and any(not y > 0 for points in series.values() for _, y in points):
        raise ValueError("plot_lines(log_y=True) needs every y > 0")
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    categories = sorted({x for points in series.values() for x, _ in points}) if categorical_x else None
    for label, points in series.items():
        xs = [categories.index(x) if categorical_x else x for x, _ in points]
        ys = [y for _, y in points]
        style = {"marker": "o", "markersize": 4, **(styles or {}).get(label, {})}
        (line,) = ax.plot(xs, ys, label=label, **style)
        if intervals and label in intervals:  # drawn as ranges: a percentile interval need not contain the value
            lows, highs = zip(*intervals[label])
            ax.vlines(xs, lows, highs, color=line.get_color(), alpha=0.6, linewidth=1.5)
    if categorical_x:
        ax.set_xticks(range(len(categories)))
        ax.set_xticklabels([str(c) for c in (xticks or categories)])
    elif xticks is not None:
        ax.set_xticks(list(xticks))
    elif integer_x:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, which="both" if log_y else "major")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_step_curves(curves, *, keys: Sequence[str], key_labels: Dict[str, str] = None,
                     ylabel: str = "accuracy") -> "plt.Figure":
    """One panel per run: ``curves`` = {run label: [{"step": s, key: value, ...}, ...]}, one line per key."""
    key_labels = key_labels or {}
    fig, axes = plt.subplots(1, len(curves), figsize=(3.4 * len(curves), 3.2), squeeze=False, sharey=True)
    for ax, (label, records) in zip(axes[0], curves.items()):
        steps = [r["step"] for r in records]
        for key in keys:
            ax.plot(steps, [r.get(key, float("nan")) for r in records], label=key_labels.get(key, key))
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- membership-inference attack results -------------------------------------------------------------------

ROC_LOG_FLOOR = 1e-5  # log-log ROC: rates are clipped to this floor (0.001 %, the lowest FPR level reported)
_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy ≥ 2 renamed trapz


def _draw_roc(ax, curves, *, log_scale: bool) -> None:
    """One line per label (AUC in its legend text) and a dashed y = x chance line, into ``ax``."""
    floor = ROC_LOG_FLOOR if log_scale else 0.0
    for label, (fpr, tpr) in curves.items():
        fpr, tpr = np.asarray(fpr, dtype=float), np.asarray(tpr, dtype=float)
        if fpr.shape != tpr.shape or fpr.ndim != 1:
            raise ValueError(f"{label!r}: fpr and tpr must be 1-d arrays of one length, got {fpr.shape}, {tpr.shape}")
        order = np.lexsort((tpr, fpr))
        fpr, tpr = fpr[order], tpr[order]
        auc = float(_trapezoid(tpr, fpr))  # of the unclipped curve
        if log_scale:
            fpr, tpr = np.maximum(fpr, floor), np.maximum(tpr, floor)
        ax.plot(fpr, tpr, linewidth=1.5, label=f"{label} (AUC {auc:.3f})")
    ax.plot([floor, 1.0], [floor, 1.0], linestyle="--", color="gray", linewidth=1, label="chance")
    if log_scale:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlim(floor, 1.0)
    ax.set_ylim(floor, 1.0)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")


def plot_roc_curves(curves: Dict[str, Tuple["np.ndarray", "np.ndarray"]], *, log_scale: bool = False,
                    title: Optional[str] = None) -> "plt.Figure":
    """ROC curves of attacks: ``curves`` = {label: (fpr, tpr)}, 1-d arrays in [0, 1] of one length per pair.

    The legend gives each curve's AUC (of the unclipped curve). ``log_scale`` draws the log-log ROC of
    Carlini et al. (2022): rates are clipped to ``ROC_LOG_FLOOR`` (1e-5) and both axes span [1e-5, 1].
    """
    fig, ax = plt.subplots(figsize=(4.5, 4.0))
    _draw_roc(ax, curves, log_scale=log_scale)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_roc_pair(curves: Dict[str, Tuple["np.ndarray", "np.ndarray"]], *, title: Optional[str] = None
                  ) -> "plt.Figure":
    """The same ROC curves (as in ``plot_roc_curves``) in two panels: linear axes left, log-log right."""
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 4.0))
    _draw_roc(axes[0], curves, log_scale=False)
    _draw_roc(axes[1], curves, log_scale=True)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def _missing(rate) -> bool:
    """None or NaN (below resolution, or no examples): drawn as "n/a"."""
    return rate is None or not np.isfinite(rate)


def _rate_ylim(rates) -> float:
    """Upper y limit for rates in [0, 1]: 15 % headroom above the largest, at least 0.05."""
    present = [r for r in rates if not _missing(r)]
    return max(0.05, 1.15 * max(present)) if present else 0.05


def _na_text(ax, x, top: float) -> None:
    ax.text(x, 0.02 * top, "n/a", ha="center", va="bottom", fontsize=7, color="gray")


def plot_tpr_at_fpr(values: Dict[str, Dict[float, Optional[float]]], *, title: Optional[str] = None
                    ) -> "plt.Figure":
    """Grouped bars of TPR at fixed FPR levels: ``values`` = {label: {fpr level (e.g. 0.001): tpr or None}}.

    Groups are FPR levels (largest first), one bar per label; rates are fractions in [0, 1]. ``None`` (or a
    level missing for a label) means below resolution (too few non-members): no bar, a grey "n/a" instead.
    """
    levels = sorted({level for per_level in values.values() for level in per_level}, reverse=True)
    top = _rate_ylim([tpr for per_level in values.values() for tpr in per_level.values()])
    width = 0.8 / max(len(values), 1)
    fig, ax = plt.subplots(figsize=(max(4.5, 1.6 * len(levels) + 1.5), 3.6))
    for i, (label, per_level) in enumerate(values.items()):
        xs = [g - 0.4 + (i + 0.5) * width for g in range(len(levels))]
        tprs = [per_level.get(level) for level in levels]
        ax.bar([x for x, t in zip(xs, tprs) if not _missing(t)], [t for t in tprs if not _missing(t)], width,
               color=f"C{i}", label=label)
        for x, tpr in zip(xs, tprs):
            if _missing(tpr):
                _na_text(ax, x, top)
    ax.set_xticks(range(len(levels)))
    ax.set_xticklabels([f"TPR @ {100 * level:g}% FPR" for level in levels])
    ax.set_ylabel("true positive rate")
    ax.set_ylim(0, top)
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    if values:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_memorization_bins(bins: Sequence[Tuple[str, int, Optional[float]]], *, title: Optional[str] = None
                           ) -> "plt.Figure":
    """Attack TPR per memorization-score bin (DeMem, Fig. 1): ``bins`` = [(bin label, count, tpr or None), ...].

    Top: TPR at the attack's fixed FPR, a fraction in [0, 1] (``None`` or NaN: below resolution or an empty
    bin, "n/a" instead of a bar). Bottom: examples per bin, on a log axis when the largest count exceeds 100 × the smallest positive one.
    """
    labels = [str(b[0]) for b in bins]
    counts = [int(b[1]) for b in bins]
    tprs = [b[2] for b in bins]
    xs = list(range(len(bins)))
    fig, (ax_tpr, ax_count) = plt.subplots(2, 1, sharex=True, figsize=(max(4.5, 0.6 * len(bins) + 1.5), 5.0))
    top = _rate_ylim(tprs)
    ax_tpr.bar([x for x, t in zip(xs, tprs) if not _missing(t)], [t for t in tprs if not _missing(t)], 0.7,
               color="C0")
    for x, tpr in zip(xs, tprs):
        if _missing(tpr):
            _na_text(ax_tpr, x, top)
    ax_tpr.set_ylim(0, top)
    ax_tpr.set_ylabel("TPR at fixed FPR")
    ax_tpr.grid(alpha=0.3, axis="y")
    if title:
        ax_tpr.set_title(title, fontsize=9)
    ax_count.bar(xs, counts, 0.7, color="C7")
    positive = [c for c in counts if c > 0]
    if positive and max(positive) / min(positive) > 100:
        ax_count.set_yscale("log")
    ax_count.set_ylabel("examples")
    ax_count.grid(alpha=0.3, axis="y")
    ax_count.set_xticks(xs)
    ax_count.set_xticklabels(labels, rotation=45, ha="right")
    fig.tight_layout()
    return fig
