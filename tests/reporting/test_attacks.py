import matplotlib.pyplot as plt
import numpy as np
import pytest

from tfdpfair.reporting import Results
from tfdpfair.reporting.attacks import add_attack_report


def _summary(auc_threshold, auc_mlp, audit):
    roc = [np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.8, 1.0])]
    return {"members": 100, "non_members": 100, "auc": {"threshold": auc_threshold, "mlp": auc_mlp},
            "best": {"attack": "mlp" if auc_mlp > auc_threshold else "threshold", "auc": max(auc_threshold, auc_mlp)},
            "audit": {"epsilon": audit, "attack": None, "confidence": 0.95},
            "roc": {"threshold": roc, "mlp": roc}}


def test_attack_report_rows_table_figure_and_note():
    results, figures = Results(paper="x", preset="smoke", seed=0, data_source="test"), {}
    spend = {"epsilon": 0.9, "epsilon_classic": 1.2}
    add_attack_report(results, figures, {"DP": (_summary(0.51, 0.53, 0.0), spend),
                                         "non-private": (_summary(0.7, 0.6, 1.4), None)},
                      attacks=("threshold", "mlp", "rf"))
    aucs = [(r.setting["model"], r.setting["attack"], r.ours) for r in results.rows if r.metric == "auc"]
    assert aucs == [("DP", "threshold", 0.51), ("DP", "mlp", 0.53), ("non-private", "threshold", 0.7),
                    ("non-private", "mlp", 0.6)]
    audits = {r.setting["model"]: r.ours for r in results.rows if r.metric == "epsilon_lower_bound_95"}
    assert audits == {"DP": 0.0, "non-private": 1.4}
    (table,) = results.tables
    assert table["header"][:4] == ["model", "ε classic", "ε tight", "audit: ε ≥ (95 %)"]
    assert table["rows"][0][:7] == ["DP", 1.2, 0.9, 0.0, 0.51, 0.53, None]  # rf not run: empty cell
    assert table["rows"][1][1:3] == [None, None]
    fig = figures["membership_roc"]
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert any(label.startswith("DP: mlp") for label in labels)
    assert any(label.startswith("non-private: threshold") for label in labels)
    assert "exchangeable" in results.notes[-1]
    plt.close(fig)


def test_attack_report_needs_the_best_attack_roc():
    summary = _summary(0.5, 0.6, 0.0)
    del summary["roc"]["mlp"]
    with pytest.raises(KeyError):
        add_attack_report(Results(paper="x", preset="smoke", seed=0, data_source="t"), {}, {"m": (summary, None)},
                          attacks=("mlp",))
