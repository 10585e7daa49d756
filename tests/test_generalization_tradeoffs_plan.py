"""The privacy plan of ``reproductions/generalization_tradeoffs.py`` (the script's own runs are in test_reproductions)."""
import dataclasses

import pytest


@pytest.fixture(scope="module")
def gt(load_script):
    return load_script("generalization_tradeoffs")


def _settings(gt, stages):
    config = dataclasses.replace(gt.PRESETS["smoke"], stages=stages, variants=("unbiased", "skewed"))
    return [entry["setting"] for entry in gt._privacy_entries(config, 1000)]


def test_a_celeba_only_run_plans_no_cifar_privacy(gt):
    assert _settings(gt, ("celeba",)) == []


def test_the_plan_lists_the_obs_batch_at_every_epsilon_only_for_the_stages_that_train_it(gt):
    config = gt.PRESETS["smoke"]
    ablation = _settings(gt, ("ablation", "celeba"))
    swept = _settings(gt, ("ablation", "dp_sat"))
    assert ablation and set(ablation) < set(swept)
    obs = gt.ladder(config, True)[-1][1].batch_size
    assert {f"eps={eps:g}, batch {obs}" for eps in config.epsilons} <= set(swept)


def test_table1_as_printed_spends_the_papers_epsilons_with_de_et_als_steps(gt):
    """Reading check: Table 1's σ at the steps of De et al.'s configurations give the ε each column is labelled with."""
    entries = gt._paper_table1_entries(gt.PRESETS["paper"])
    assert len(entries) == sum(len(rows) for rows in gt.PAPER_TABLE1_DP.values())
    for entry in entries:
        target = float(entry["setting"].split("eps=")[1].split(",")[0])
        assert entry["epsilon"] == pytest.approx(target, rel=0.02), entry
        assert entry["epsilon_classic"] > entry["epsilon"]


def test_the_celeba_stage_plans_its_two_dp_models_on_its_training_size(gt):
    config = dataclasses.replace(gt.PRESETS["smoke"], stages=("celeba",))
    entries = gt._celeba_entries(config)
    batches = [gt.ladder(config, True)[rung][1].batch_size for rung in (0, -1)]
    assert [e["setting"] for e in entries] == [f"CelebA Baseline + DP, eps={config.epsilon:g}, batch {batches[0]}",
                                               f"CelebA Baseline + GT + DP, eps={config.epsilon:g}, batch {batches[1]}"]
    for entry, batch in zip(entries, batches):
        assert entry["examples"] == config.celeba_sizes[0] and entry["sampling_rate"] == pytest.approx(batch / entry["examples"])
        assert entry["epsilon"] == pytest.approx(config.epsilon, rel=1e-3)
    # the full partition, with the paper preset's training (smoke's 2 epochs on 160,000 images are an accountant edge:
    # the pinned stack's dp_accounting cannot bracket σ at q = 3e-4)
    paper = gt.PRESETS["paper"]
    full = gt._celeba_entries(dataclasses.replace(paper, celeba_sizes=(None, 1000, 500)))
    assert len(full) == 2 and all(e["examples"] == gt.CELEBA_TRAIN - 1500 and "full training partition" in e["setting"]
                                  and e["epsilon"] == pytest.approx(paper.epsilon, rel=1e-3) for e in full)
    assert gt._celeba_entries(dataclasses.replace(config, stages=("ablation",))) == []
