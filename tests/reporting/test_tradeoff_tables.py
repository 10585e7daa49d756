"""The study's tables, figures and findings from hand-made runs: the numbers land in the right rows, verdicts follow."""
import matplotlib

matplotlib.use("Agg")

import dataclasses  # noqa: E402

import pytest  # noqa: E402

from tfdpfair.evaluation.technique_runs import TechniqueRun  # noqa: E402
from tfdpfair.reporting import tradeoff_tables as tables  # noqa: E402
from tfdpfair.reporting.results import Results  # noqa: E402
from tfdpfair.training.classifier import TrainingRun  # noqa: E402

LABELS = ["BL", "+GN", "+OBS", "+WS", "+AM", "+PA", "+SAT"]


def _run(acc, auc, bias=None, n=10_000):
    accuracy = {"test": acc} if bias is None else {"color": acc, "gray": acc}
    return TechniqueRun(accuracy=accuracy, train_accuracy=min(1.0, acc + 0.1), validation_accuracy=acc,
                        auc={"mlp": auc, "threshold": auc - 0.01}, reported_attack="mlp", bias=bias,
                        bias_se=None if bias is None else 0.005,
                        training=TrainingRun(history={}, privacy=None, steps=10, stopped_by_budget=False, seconds=1.0),
                        attack_members=n, test_examples=n)


def _ladder(start, step, auc, bias=None, bias_step=0.0):
    return [(label, _run(start + i * step, auc, None if bias is None else bias + i * bias_step))
            for i, label in enumerate(LABELS)]


def _measured(dp_auc=0.52):
    return {("plain", False): _ladder(0.60, 0.05, 0.60), ("plain", True): _ladder(0.40, 0.05, dp_auc),
            ("skew", False): _ladder(0.55, 0.05, 0.62, 0.01, 0.01), ("skew", True): _ladder(0.35, 0.05, dp_auc, 0.04, 0.01)}


def test_ablation_tables_put_each_number_beside_the_papers():
    results = Results(paper="t", preset="smoke", seed=0, data_source="test")
    tables.ablation_tables(results, _measured(), plain="plain", skewed="skew", names=("CIFAR-10", "CIFAR-10S"),
                           paper_table2={("cifar10", True): {"BL": 49.47}}, paper_table5={}, dataset="cifar10")
    row = next(r for r in results.rows if r.table.startswith("Table 2") and r.setting == {"privacy": "DP",
                                                                                           "techniques": "BL"}
               and r.metric == "accuracy")
    assert row.ours == pytest.approx(40.0) and row.paper == 49.47
    ggap = next(r for r in results.rows if r.metric == "ggap")
    assert ggap.ours == pytest.approx(-10.0)  # validation − training
    hs = [r for r in results.rows if r.metric == "harmonic_score"]
    assert len(hs) == 2 and all(0 < r.ours < 1 for r in hs)
    assert results.tables[0]["header"][-2:] == ["mlp", "threshold"] and len(results.tables[0]["rows"]) == 28


def test_ablation_findings_follow_the_measured_effects():
    notes = tables.ablation_findings(_measured(dp_auc=0.52), plain="plain", skewed="skew")
    assert notes[0].startswith("Techniques raise accuracy (non-DP, unbiased): reproduced")
    assert notes[1].startswith("Techniques raise accuracy (DP, unbiased): reproduced")
    assert "amplify bias (DP, skewed): reproduced" in notes[5]
    assert notes[-1].startswith("DP lowers the attack's AUC (all techniques): reproduced")
    flat = tables.ablation_findings(_measured(dp_auc=0.61), plain="plain", skewed="skew")
    assert flat[-1].startswith("DP lowers the attack's AUC (all techniques): not reproduced")
    only_skewed = {k: v for k, v in _measured().items() if k[0] == "skew"}
    notes = tables.ablation_findings(only_skewed, plain=None, skewed="skew")
    assert len(notes) == 5 and "(non-DP, skewed)" in notes[0]
    results = Results(paper="t", preset="smoke", seed=0, data_source="test")
    tables.ablation_tables(results, only_skewed, plain=None, skewed="skew", names=("C", "CS"), paper_table2={},
                           paper_table5={}, dataset="cifar10")
    assert not [r for r in results.rows if r.table.startswith("Table 2")] and len(results.tables[0]["rows"]) == 14


def test_a_bias_change_within_its_bootstrap_noise_is_not_reproduced_and_a_missing_noise_is_refused():
    measured = _measured()
    noisy = {k: [(label, dataclasses.replace(run, bias_se=None if run.bias is None else 0.05)) for label, run in v]
             for k, v in measured.items()}
    notes = tables.ablation_findings(noisy, plain="plain", skewed="skew")
    assert "amplify bias (DP, skewed): reproduced" not in notes[5]  # +0.06 against ±0.14
    unjudged = {k: [(label, dataclasses.replace(run, bias_se=None)) for label, run in v] for k, v in measured.items()}
    with pytest.raises(ValueError, match="no bootstrap standard error"):
        tables.ablation_findings(unjudged, plain="plain", skewed="skew")


def test_dp_sat_finding_needs_every_epsilon_beyond_the_noise():
    table = {eps: {"DP-SGD": _run(0.5, 0.5), "DP-SAT": _run(0.55, 0.5)} for eps in (1.0, 8.0)}
    results = Results(paper="t", preset="smoke", seed=0, data_source="test")
    (note,) = tables.dp_sat_table(results, table, paper={"DP-SAT": {8.0: 81.11}})
    assert note.startswith("DP-SAT beats DP-SGD at every ε (Table 4): reproduced")
    assert [r.paper for r in results.rows if r.setting == {"method": "DP-SAT", "epsilon": 8.0}] == [81.11]
    table[1.0]["DP-SAT"] = _run(0.501, 0.5, n=100)  # +0.1 pp on 100 images: noise
    (note,) = tables.dp_sat_table(results, table, paper={})
    assert "within the noise" in note


def test_skew_and_onion_figures_and_findings():
    eps = (1.0, 8.0)
    grid = ({(0.95, e): dataclasses.replace(_run(0.5, 0.62, 0.2), bias_se=0.005) for e in eps}
            | {(0.75, e): dataclasses.replace(_run(0.6, 0.55, 0.1), bias_se=0.005) for e in eps})
    results = Results(paper="t", preset="smoke", seed=0, data_source="test")
    figures, notes = tables.skew_figures(results, grid, {"non-DP CIFAR-10": _run(0.8, 0.6)},
                                         {e: _run(0.6, 0.52) for e in eps}, skews=(0.95, 0.75), epsilons=eps,
                                         names=("CIFAR-10", "CIFAR-10S"))
    assert set(figures) == {"figure3a_accuracy_vs_epsilon", "figure3b_auc_vs_epsilon", "figure3c_bias_vs_epsilon",
                            "figure4_harmonic_score_vs_epsilon"}
    assert all("reproduced" in n and "not reproduced" not in n for n in notes)
    rounds = {("plain", False): [(0, _run(0.8, 0.6)), (100, _run(0.7, 0.6))],
              ("skew", True): [(0, _run(0.5, 0.55, 0.1)), (100, _run(0.45, 0.551, 0.12))]}
    figures, notes = tables.onion_figures(results, rounds, plain="plain", skewed="skew", names=("C", "CS"))
    assert "figure6_harmonic_score_onion" in figures and len(figures) == 4
    assert notes[0].startswith("Removing the most exposed examples lowers accuracy (Figure 5a): reproduced")
    assert "the onion effect: it stays or falls slightly): reproduced" in notes[1] and "underpowered" not in notes[1]
    rounds[("skew", True)][1] = (100, _run(0.45, 0.62, 0.12))  # a clear rise of the AUC refutes it
    _, notes = tables.onion_figures(results, rounds, plain="plain", skewed="skew", names=("C", "CS"))
    assert "slightly): not reproduced" in notes[1]
    small = {k: [(r, dataclasses.replace(run, attack_members=50)) for r, run in v] for k, v in rounds.items()}
    assert "underpowered" in tables.onion_figures(results, small, plain="plain", skewed="skew", names=("C", "CS"))[1][1]
