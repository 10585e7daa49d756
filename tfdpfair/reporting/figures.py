"""Figures. Every function returns a matplotlib ``Figure``; callers save it (``write_results``)."""
from __future__ import annotations

from typing import Dict, Sequence

import matplotlib

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
    import numpy as np

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
               categorical_x: bool = False, styles=None) -> "plt.Figure":
    """One line per label: ``series`` = {label: [(x, y), ...]}.

    ``intervals`` = {label: [(low, high), ...]} (same order as the points) draws error bars;
    ``categorical_x`` places the x values evenly, labelled as given (e.g. imbalance levels);
    ``styles`` = {label: matplotlib line keywords} (e.g. ``{"color": "C0", "linestyle": "--"}``).
    """
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    categories = sorted({x for points in series.values() for x, _ in points}) if categorical_x else None
    for label, points in series.items():
        xs = [categories.index(x) if categorical_x else x for x, _ in points]
        ys = [y for _, y in points]
        (line,) = ax.plot(xs, ys, marker="o", markersize=4, label=label, **(styles or {}).get(label, {}))
        if intervals and label in intervals:  # drawn as ranges: a percentile interval need not contain the value
            lows, highs = zip(*intervals[label])
            ax.vlines(xs, lows, highs, color=line.get_color(), alpha=0.6, linewidth=1.5)
    if categorical_x:
        ax.set_xticks(range(len(categories)))
        ax.set_xticklabels([str(c) for c in (xticks or categories)])
    elif xticks is not None:
        ax.set_xticks(list(xticks))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
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
