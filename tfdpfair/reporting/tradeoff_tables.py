"""Tables, figures and findings of a generalization-technique study (Hassanpour et al. 2025) from ``TechniqueRun``s.

Each builder takes the measured runs of one stage, appends ``ResultRow``s (ours beside
the paper's number where the text states one) to a ``Results``, and returns figures
and findings (one line each: the claim, the verdict, the numbers, the noise).
Accuracies are in %, AUC and bias as fractions. ``measured`` maps (variant, dp) to
[(rung label, run)], variant being the unbiased dataset's key or the skewed one's.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from tfdpfair.reporting.results import ResultRow, Results
from tfdpfair.reporting.verdicts import (accuracy_standard_error, all_verdict, auc_standard_error, difference_noise,
                                         verdict)

Runs = List[Tuple[str, object]]
ONION_POWER = 0.02  # an AUC noise wider than this cannot tell "the same" from a real change of a few points


def _privacy(dp: bool) -> str:
    return "DP" if dp else "non-DP"


def _acc_se(run) -> float:
    """Standard error of a run's mean test accuracy (%): binomial on one domain's test images (the domains are
    the same images, so averaging them does not shrink it much)."""
    return 100 * accuracy_standard_error(accuracy=run.mean_accuracy, examples=max(run.test_examples, 1))


def _bias_se(run) -> float:
    """The bias's bootstrap standard error; a run without one cannot be judged (a 0 would call any change real)."""
    if run.bias_se is None:
        raise ValueError("a run with a bias has no bootstrap standard error for it (stored by an older tfdpfair, "
                         "whose train_and_measure dropped it): start a new run")
    return run.bias_se


def _auc_se(run) -> float:
    n = max(run.attack_members, 1)
    return auc_standard_error(auc=min(max(run.reported_auc, 0.0), 1.0), members=n, non_members=n)


def ablation_tables(results: Results, measured: Dict[tuple, Runs], *, plain: Optional[str], skewed: Optional[str],
                    names: Tuple[str, str], paper_table2: dict, paper_table5: dict, dataset: str) -> None:
    """Tables 2 (unbiased), 3 and 5 (skewed) and 6 (skewed, all techniques) from the ladders that were trained.

    ``paper_table2``: (dataset, dp) → {rung: accuracy %}; ``paper_table5``: dp → {rung: bias} for this
    dataset (its "+SAT" entry is also Table 6's bias); empty where the paper states none.
    """
    for dp in (False, True):
        if (plain, dp) in measured:
            title2 = f"Table 2: {names[0]}, {_privacy(dp)} ablation"
            paper = paper_table2.get((dataset, dp), {})
            for label, run in measured[(plain, dp)]:
                setting = {"privacy": _privacy(dp), "techniques": label}
                results.rows += [ResultRow(title2, setting, "accuracy", 100 * run.accuracy["test"], paper.get(label)),
                                 ResultRow(title2, setting, f"auc_{run.reported_attack}", run.reported_auc),
                                 ResultRow(title2, setting, "ggap", 100 * run.ggap)]
        if (skewed, dp) in measured:
            title3 = f"Table 3 and 5: {names[1]}, {_privacy(dp)} ablation"
            for label, run in measured[(skewed, dp)]:
                setting = {"privacy": _privacy(dp), "techniques": label}
                results.rows += [ResultRow(title3, setting, "accuracy_color", 100 * run.accuracy["color"]),
                                 ResultRow(title3, setting, "accuracy_gray", 100 * run.accuracy["gray"]),
                                 ResultRow(title3, setting, f"auc_{run.reported_attack}", run.reported_auc),
                                 ResultRow(title3, setting, "bias", run.bias, paper_table5.get(dp, {}).get(label))]
            label, run = measured[(skewed, dp)][-1]
            setting = {"privacy": _privacy(dp), "techniques": "all"}
            title = f"Table 6: {names[1]}, all techniques"
            results.rows += [ResultRow(title, setting, "accuracy_mean", 100 * run.mean_accuracy),
                             ResultRow(title, setting, f"auc_{run.reported_attack}", run.reported_auc),
                             ResultRow(title, setting, "bias", run.bias, paper_table5.get(dp, {}).get("+SAT")),
                             ResultRow(title, setting, "harmonic_score", run.harmonic)]
    attack_names = sorted({a for runs in measured.values() for _, r in runs for a in r.auc})
    rows = []
    for (variant, dp), runs in measured.items():
        for label, run in runs:
            rows.append([names[variant != plain], _privacy(dp), label] + [round(run.auc.get(a, float("nan")), 3)
                                                                          for a in attack_names])
    reported = next(iter(measured.values()))[0][1].reported_attack
    results.tables.append({"title": f"Every attack's AUC (Figure 1c–d; the tables report the {reported.upper()} "
                                    "attack)", "header": ["dataset", "privacy", "techniques"] + attack_names,
                           "rows": rows})


def ablation_findings(measured: Dict[tuple, Runs], *, plain: Optional[str], skewed: Optional[str]) -> List[str]:
    """The ablation's findings: techniques raise accuracy (± DP), amplify bias, and DP lowers the attack's AUC."""
    notes = []
    variants = [v for v in (plain, skewed) if (v, False) in measured]
    for variant in variants:
        for dp in (False, True):
            (_, bl), (_, final) = measured[(variant, dp)][0], measured[(variant, dp)][-1]
            gain = 100 * (final.mean_accuracy - bl.mean_accuracy)
            noise = difference_noise(_acc_se(bl), _acc_se(final))
            notes.append(f"Techniques raise accuracy ({_privacy(dp)}, {'unbiased' if variant == plain else 'skewed'}): "
                         f"{verdict(gain, noise=noise)}; BL {100 * bl.mean_accuracy:.1f} % → all "
                         f"{100 * final.mean_accuracy:.1f} % ({gain:+.1f} pp, noise ±{noise:.1f} pp).")
    if skewed in variants:
        for dp in (False, True):
            (_, bl), (_, final) = measured[(skewed, dp)][0], measured[(skewed, dp)][-1]
            noise = difference_noise(_bias_se(bl), _bias_se(final))
            notes.append(f"Techniques amplify bias ({_privacy(dp)}, skewed): "
                         f"{verdict(final.bias - bl.bias, noise=noise)}; Eq. 1 bias {bl.bias:.3f} → {final.bias:.3f} "
                         f"(noise ±{noise:.3f}, bootstrap over test images).")
    effects, parts, noises = [], [], []
    for variant in variants:
        (_, nondp), (_, dp) = measured[(variant, False)][-1], measured[(variant, True)][-1]
        effects.append(nondp.reported_auc - dp.reported_auc)
        noises.append(difference_noise(_auc_se(nondp), _auc_se(dp)))
        parts.append(f"{'unbiased' if variant == plain else 'skewed'} {nondp.reported_auc:.3f} → {dp.reported_auc:.3f}")
    notes.append(f"DP lowers the attack's AUC (all techniques): {all_verdict(effects, noise=max(noises))}; non-DP → DP "
                 f"{', '.join(parts)} (noise ±{max(noises):.3f}).")
    return notes


def individual_table(results: Results, alone: Dict[tuple, Runs], *, plain: str, skewed: str,
                     names: Tuple[str, str]) -> None:
    """Table 8: each technique added to BL alone."""
    for (variant, dp), runs in alone.items():
        title = f"Table 8: each technique alone, {names[variant != plain]}, {_privacy(dp)}"
        for label, run in runs:
            setting = {"privacy": _privacy(dp), "techniques": label}
            results.rows += [ResultRow(title, setting, "accuracy_mean", 100 * run.mean_accuracy),
                             ResultRow(title, setting, f"auc_{run.reported_attack}", run.reported_auc),
                             ResultRow(title, setting, "ggap", 100 * run.ggap)]
            if run.bias is not None:
                results.rows.append(ResultRow(title, setting, "bias", run.bias))


def dp_sat_table(results: Results, table4: Dict[float, dict], *, paper: dict) -> List[str]:
    """Table 4: DP-SGD vs DP-SAT at each ε; returns the finding (DP-SAT ≥ DP-SGD at every ε)."""
    effects, noises = [], []
    for eps, pair in sorted(table4.items()):
        for method, run in pair.items():
            results.rows.append(ResultRow("Table 4: DP-SGD vs DP-SAT (all techniques)", {"method": method,
                                                                                         "epsilon": eps},
                                          "accuracy", 100 * run.accuracy["test"], paper.get(method, {}).get(eps)))
        effects.append(100 * (pair["DP-SAT"].mean_accuracy - pair["DP-SGD"].mean_accuracy))
        noises.append(difference_noise(_acc_se(pair["DP-SAT"]), _acc_se(pair["DP-SGD"])))
    return [f"DP-SAT beats DP-SGD at every ε (Table 4): {all_verdict(effects, noise=max(noises))}; DP-SAT − DP-SGD = "
            + ", ".join(f"ε {eps:g}: {e:+.1f} pp" for eps, e in zip(sorted(table4), effects))
            + f" (noise ±{max(noises):.1f} pp)."]


def skew_figures(results: Results, grid: dict, refs: dict, unbiased: dict, *, skews: Sequence[float],
                 epsilons: Sequence[float], names: Tuple[str, str]):
    """Figures 3 (accuracy, AUC, bias vs ε per skew) and 4 (HS); findings on skew."""
    from tfdpfair.reporting.figures import plot_lines

    metrics = {"a_accuracy": ("accuracy (%, mean of COLOR and GRAY)", lambda r: 100 * r.mean_accuracy),
               "b_auc": ("MIA AUC", lambda r: r.reported_auc), "c_bias": ("bias (Eq. 1)", lambda r: r.bias)}
    figures = {}
    for tag, (ylabel, value) in metrics.items():
        series = {f"DP {names[1]} ({100 * s:g} %)": [(eps, value(grid[(s, eps)])) for eps in epsilons] for s in skews}
        if tag != "c_bias":
            series[f"DP {names[0]}"] = [(eps, value(unbiased[eps])) for eps in epsilons]
        styles = {}
        for i, (label, run) in enumerate(refs.items()):
            v = value(run)
            if v is not None:
                series[label] = [(eps, v) for eps in epsilons]
                styles[label] = {"linestyle": ":", "marker": "", "color": f"C{len(skews) + 1 + i}"}
        figures[f"figure3{tag[0]}_{tag[2:]}_vs_epsilon"] = plot_lines(
            series, xlabel="ε", ylabel=ylabel, xticks=list(epsilons), styles=styles,
            title=f"Figure 3({tag[0]}): all techniques; dotted: non-private")
        for s in skews:
            for eps in epsilons:
                v = value(grid[(s, eps)])
                if v is not None:
                    results.rows.append(ResultRow("Figure 3: skew × ε (all techniques, DP)",
                                                  {"skew": s, "epsilon": eps}, tag[2:], v))
    figures["figure4_harmonic_score_vs_epsilon"] = plot_lines(
        {f"{100 * s:g} %": [(eps, grid[(s, eps)].harmonic) for eps in epsilons] for s in skews},
        xlabel="ε", ylabel="harmonic score (Eq. 3)", xticks=list(epsilons), title=f"Figure 4: DP {names[1]}")
    notes = []
    if len(skews) >= 2:
        hi, lo = max(skews), min(skews)
        acc = [100 * (grid[(lo, e)].mean_accuracy - grid[(hi, e)].mean_accuracy) for e in epsilons]
        acc_noise = max(difference_noise(_acc_se(grid[(lo, e)]), _acc_se(grid[(hi, e)])) for e in epsilons)
        auc = [grid[(hi, e)].reported_auc - grid[(lo, e)].reported_auc for e in epsilons]
        auc_noise = max(difference_noise(_auc_se(grid[(lo, e)]), _auc_se(grid[(hi, e)])) for e in epsilons)
        bias = [grid[(hi, e)].bias - grid[(lo, e)].bias for e in epsilons]
        bias_noise = max(difference_noise(_bias_se(grid[(lo, e)]), _bias_se(grid[(hi, e)])) for e in epsilons)
        notes += [
            f"More skew lowers accuracy (Figure 3a, {100 * hi:g} % vs {100 * lo:g} %): "
            f"{all_verdict(acc, noise=acc_noise)}; " + ", ".join(f"ε {e:g}: {-d:+.1f} pp" for e, d in zip(epsilons, acc))
            + f" (noise ±{acc_noise:.1f}).",
            f"More skew raises the attack's AUC (Figure 3b): {all_verdict(auc, noise=auc_noise)}; "
            + ", ".join(f"ε {e:g}: {d:+.3f}" for e, d in zip(epsilons, auc)) + f" (noise ±{auc_noise:.3f}).",
            "More skew raises bias (Figure 3c): " + all_verdict(bias, noise=bias_noise) + "; "
            + ", ".join(f"ε {e:g}: {d:+.3f}" for e, d in zip(epsilons, bias)) + f" (noise ±{bias_noise:.3f})."]
    return figures, notes


def onion_figures(results: Results, rounds: Dict[tuple, List[tuple]], *, plain: str, skewed: str,
                  names: Tuple[str, str]):
    """Figures 5 (accuracy, AUC, bias over removal rounds) and 6 (HS); findings of the onion effect."""
    from tfdpfair.reporting.figures import plot_lines

    def label(variant, dp):
        return f"{_privacy(dp)} {names[variant != plain]}"

    figures = {}
    for tag, ylabel, value in (("a", "accuracy (%)", lambda r: 100 * r.mean_accuracy),
                               ("b", "MIA AUC", lambda r: r.reported_auc), ("c", "bias (Eq. 1)", lambda r: r.bias),
                               ("6", "harmonic score (Eq. 3)", lambda r: r.harmonic)):
        series = {label(v, dp): [(removed, value(run)) for removed, run in runs]
                  for (v, dp), runs in rounds.items() if value(runs[0][1]) is not None}
        name = "figure6_harmonic_score_onion" if tag == "6" else f"figure5{tag}_{ylabel.split(' ')[0].lower()}_onion"
        figures[name] = plot_lines(series, xlabel="training examples removed (most exposed first)", ylabel=ylabel,
                                   title="Figure 6" if tag == "6" else f"Figure 5({tag}): onion effect")
    drops, auc_changes, acc_noise, auc_noise = [], [], 0.0, 0.0
    for (v, dp), runs in rounds.items():
        for removed, run in runs:
            setting = {"run": label(v, dp), "removed": removed}
            results.rows += [ResultRow("Figures 5–6: onion effect", setting, "accuracy_mean", 100 * run.mean_accuracy),
                             ResultRow("Figures 5–6: onion effect", setting, f"auc_{run.reported_attack}",
                                       run.reported_auc)]
            if run.bias is not None:
                results.rows += [ResultRow("Figures 5–6: onion effect", setting, "bias", run.bias),
                                 ResultRow("Figures 5–6: onion effect", setting, "harmonic_score", run.harmonic)]
        first, last = runs[0][1], runs[-1][1]
        drops.append(100 * (first.mean_accuracy - last.mean_accuracy))
        auc_changes.append(last.reported_auc - first.reported_auc)
        acc_noise = max(acc_noise, difference_noise(_acc_se(first), _acc_se(last)))
        auc_noise = max(auc_noise, difference_noise(_auc_se(first), _auc_se(last)))
    # the paper: the AUC "stays the same or goes slightly down" — refuted only by a clear rise
    holds = max(auc_changes) <= auc_noise
    power = "" if auc_noise <= ONION_POWER else f"; underpowered: the noise exceeds ±{ONION_POWER:g}"
    notes = [f"Removing the most exposed examples lowers accuracy (Figure 5a): {all_verdict(drops, noise=acc_noise)}; "
             + ", ".join(f"{label(v, dp)} {-d:+.1f} pp" for (v, dp), d in zip(rounds, drops))
             + f" after all rounds (noise ±{acc_noise:.1f}).",
             "…and does not raise the attack's AUC (Figure 5b, the onion effect: it stays or falls slightly): "
             + ("reproduced" if holds else "not reproduced") + "; "
             + ", ".join(f"{label(v, dp)} {c:+.3f}" for (v, dp), c in zip(rounds, auc_changes))
             + f" (noise ±{auc_noise:.3f}{power})."]
    return figures, notes


def curve_figures(curves: Dict[bool, Runs]):
    """Figure 2: train / test accuracy, the attack's AUC and the most exposed member's risk score over training."""
    import matplotlib.pyplot as plt

    panels = [(dp, label, run) for dp, runs in curves.items() for label, run in runs if run.curve]
    if not panels:
        return {}
    fig, axes = plt.subplots(2, len(panels), figsize=(3.3 * len(panels), 5.4), squeeze=False, sharex="col")
    for i, (dp, label, run) in enumerate(panels):
        steps = [r["step"] for r in run.curve]
        top, bottom = axes[0][i], axes[1][i]
        top.plot(steps, [r["train_accuracy"] for r in run.curve], label="train")
        top.plot(steps, [r["test_accuracy"] for r in run.curve], label="test")
        top.set_title(f"{_privacy(dp)}, {'BL' if label == 'BL' else 'all techniques'}", fontsize=9)
        bottom.plot(steps, [r["auc"] for r in run.curve], label="attack AUC", color="C3")
        bottom.plot(steps, [r["risk"] for r in run.curve], label="member's risk score", color="C4", linestyle="--")
        bottom.set_xlabel("training step")
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy")
    axes[1][0].set_ylabel("AUC / membership probability")
    axes[0][0].legend(fontsize=8)
    axes[1][0].legend(fontsize=8)
    fig.tight_layout()
    return {"figure2_training_curves_and_membership": fig}


def run_table(results: Results, runs: Dict[str, object]) -> None:
    """One row per trained model: what was measured and how long it took."""
    rows = []
    for name, run in sorted(runs.items()):
        eps = run.training.privacy
        rows.append([name, " | ".join(f"{100 * v:.1f}" for v in run.accuracy.values()), f"{100 * run.ggap:+.1f}",
                     " ".join(f"{k} {v:.3f}" for k, v in run.auc.items()),
                     "—" if run.bias is None else f"{run.bias:.3f}",
                     "—" if run.harmonic is None else f"{run.harmonic:.3f}",
                     "—" if eps is None else f"{eps.epsilon:.2f} (σ {eps.noise_multiplier:.2f})",
                     run.training.steps, run.stopped_epoch or "—", round(run.training.seconds, 1)])
    results.tables.append({"title": "Every model (accuracy per test domain in %; GGap = validation − training, pp)",
                           "header": ["model", "accuracy %", "GGap", "AUC", "bias", "HS", "ε",
                                      "steps", "stopped at epoch", "seconds"], "rows": rows})


def celeba_table(results: Results, runs: Dict[str, object], *, paper: Dict[str, Tuple[float, ...]]) -> List[str]:
    """Table 7 (mAP %, bias, mean AUC over all attributes and over skew ≥ 0.8) and its findings.

    ``runs``: {"Baseline", "Baseline + GT", "Baseline + DP", "Baseline + GT + DP"} → ``AttributeRun``.
    """
    from tfdpfair.evaluation.attribute_runs import HIGH_SKEW

    for label, run in runs.items():
        expected = paper.get(label, (None,) * 4)
        for metric, value, ref in (("mAP", 100 * run.map_test, expected[0]), ("bias", run.amplification, expected[1]),
                                   ("auc_all", run.mean_auc(), expected[2]),
                                   (f"auc_skew_ge_{HIGH_SKEW:g}", run.mean_auc(min_skew=HIGH_SKEW), expected[3])):
            results.rows.append(ResultRow("Table 7: CelebA (test set)", {"model": label}, metric, value, ref))
    notes = []
    for dp in (False, True):
        base, gt = runs["Baseline + DP" if dp else "Baseline"], runs["Baseline + GT + DP" if dp else "Baseline + GT"]
        notes.append(f"CelebA, {_privacy(dp)}: techniques raise mAP {100 * base.map_test:.1f} → {100 * gt.map_test:.1f} "
                     f"% ({'yes' if gt.map_test > base.map_test else 'no'}) and bias {base.amplification:+.3f} → "
                     f"{gt.amplification:+.3f} ({'yes' if gt.amplification > base.amplification else 'no'}); one "
                     "model each, no interval: a direction, not a reproduction.")
    high = [run.mean_auc(min_skew=HIGH_SKEW) - run.mean_auc() for run in runs.values()]
    notes.append("CelebA: more skewed attributes are more attackable (AUC over skew ≥ 0.8 minus over all): "
                 + ", ".join(f"{label} {d:+.3f}" for label, d in zip(runs, high)) + ".")
    return notes


def celeba_figure(*, baseline, other, label: str):
    """Figure 7: per attribute, AP change (validation, percentage points) of ``other`` vs ``baseline`` against skew."""
    import matplotlib.pyplot as plt
    import numpy as np

    from tfdpfair.evaluation.attribute_runs import HIGH_SKEW

    skew = np.asarray(baseline.skew, float)
    change = 100 * (np.asarray(other.ap_validation, float) - np.asarray(baseline.ap_validation, float))
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    ax.scatter(skew, change, s=14)
    for mask, text in ((skew >= HIGH_SKEW, f"≥ {HIGH_SKEW:g}"), (skew < HIGH_SKEW, f"< {HIGH_SKEW:g}")):
        if mask.any():
            mean = float(np.nanmean(change[mask]))
            ax.hlines(mean, skew[mask].min(), skew[mask].max(), colors="C3", linestyles="--")
            ax.annotate(f"mean {mean:+.1f} (skew {text})", (skew[mask].min(), mean), fontsize=7, color="C3")
    ax.axhline(0, color="gray", linewidth=0.8)
    ax.set_xlabel("gender skew of the attribute (training set)")
    ax.set_ylabel("AP change (pp, validation)")
    ax.set_title(f"Figure 7: {label} vs Baseline", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
