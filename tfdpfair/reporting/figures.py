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
