"""Report pieces for membership inference: the table of attack AUCs and the audit bound beside the accountant's ε.

Input: per model, ``tfdpfair.evaluation.membership.attack_summary``'s stored dict and the
model's privacy entry (``PrivacySpend.as_dict``; None when not private).
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from tfdpfair.reporting.results import ResultRow, Results

AUDIT_NOTE = (
    "Membership inference (not in the paper): TF Privacy's attacks on members sampled from the training set and "
    "as many non-members from the test set (AUC 0.5 = chance); its trained attacks (MLP, RF) score each example by "
    "2-fold cross-validation over the target's own outputs, not with shadow models. 'audit: ε ≥' is a 95 % lower "
    "bound on ε from those scores (threshold and ratio chosen on one half, Clopper–Pearson on the other, "
    "Bonferroni over the attacks), valid when members and non-members are exchangeable; for a correct DP "
    "implementation it stays below the accountant's ε, and black-box attacks on one model are weak auditors, so it "
    "is usually far below.")


def add_attack_report(results: Results, figures: Dict[str, object],
                      attacked: Dict[str, Tuple[dict, Optional[dict]]], *, attacks: Sequence[str],
                      table: str = "Membership inference (TF Privacy)", note: str = AUDIT_NOTE) -> None:
    """Rows (AUC per model × attack, audit bound per model), one summary table, the ROC figure and the note.

    ``attacked``: model label → (attack summary, privacy entry or None).
    """
    from tfdpfair.reporting.figures import plot_roc_pair

    header = ["model", "ε classic", "ε tight", "audit: ε ≥ (95 %)", *[f"AUC {a}" for a in attacks],
              "members / non-members"]
    rows, curves = [], {}
    for label, (summary, spend) in attacked.items():
        rows.append([label, None if spend is None else round(spend["epsilon_classic"], 3),
                     None if spend is None else round(spend["epsilon"], 3), round(summary["audit"]["epsilon"], 3),
                     *[round(summary["auc"][a], 3) if a in summary["auc"] else None for a in attacks],
                     f"{summary['members']} / {summary['non_members']}"])
        for attack, auc in summary["auc"].items():
            results.rows.append(ResultRow(table, {"model": label, "attack": attack}, "auc", auc, None))
        results.rows.append(ResultRow("Empirical audit beside the accountant", {"model": label},
                                      "epsilon_lower_bound_95", summary["audit"]["epsilon"], None))
        best = summary["best"]["attack"]
        curves[f"{label}: {best}"] = tuple(np.asarray(v) for v in summary["roc"][best])
    results.tables.append({"title": f"{table}: AUC and the empirical ε lower bound beside the accountant's ε",
                           "header": header, "rows": rows})
    figures["membership_roc"] = plot_roc_pair(curves, title="best attack per model")
    results.notes.append(note)
