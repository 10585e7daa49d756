"""The DCGAN sweep's recipes in ``reproductions/dp_dcgan.py`` (the script's own runs are in test_reproductions)."""
import dataclasses

import pytest


@pytest.fixture(scope="module")
def dp_dcgan(load_script):
    return load_script("dp_dcgan")


@pytest.mark.parametrize("preset", ["smoke", "quick", "paper"])
def test_dp_models_train_with_the_recipe_and_the_non_private_one_only_with_scaled_learning_rates(dp_dcgan, preset):
    config = dataclasses.replace(dp_dcgan.PRESETS[preset], gan_nonprivate_lr_scale=0.25)
    recipe = dataclasses.replace(config.gan, max_steps=400, decay_step=200)
    _, settings = dp_dcgan._gan_settings(config, examples=4000)
    assert [label for label, _, _ in settings][-1] == "non-private"
    for label, eps, dp in settings:
        got = dp_dcgan._recipe(config, recipe, dp)
        if eps is not None:
            assert dp.enabled and got == recipe, label
        else:
            assert not dp.enabled
            assert got.learning_rate == pytest.approx(recipe.learning_rate / 4)
            assert got.learning_rate_after == pytest.approx(recipe.learning_rate_after / 4)
            changed = {f.name for f in dataclasses.fields(got) if getattr(got, f.name) != getattr(recipe, f.name)}
            assert changed == {"learning_rate", "learning_rate_after"}


def test_scale_one_trains_the_non_private_model_with_the_dp_recipe(dp_dcgan):
    config = dataclasses.replace(dp_dcgan.PRESETS["quick"], gan_nonprivate_lr_scale=1)
    assert dp_dcgan._recipe(config, config.gan, config.dp.disabled()) == config.gan


@pytest.mark.parametrize("scale", [0, -0.2, float("nan"), True])
def test_the_scale_must_be_a_positive_number(dp_dcgan, scale):
    with pytest.raises(ValueError, match="gan_nonprivate_lr_scale"):
        dataclasses.replace(dp_dcgan.PRESETS["quick"], gan_nonprivate_lr_scale=scale)


def test_trace_epochs_are_wincotts_for_thirty_epochs_and_inside_any_run(dp_dcgan):
    assert dp_dcgan._trace_epochs(30) == (10, 30, (5, 10, 20, 30))  # Figure 6.3 shows epochs 5, 10, 20 and 30
    assert dp_dcgan._trace_epochs(2) == (1, 2, (1, 2))
    assert dp_dcgan._trace_epochs(1) == (1, 1, (1,))
    for epochs in range(1, 61):
        early, final, reported = dp_dcgan._trace_epochs(epochs)
        assert 1 <= early <= final == epochs and early in reported and reported[-1] == epochs
        assert all(1 <= e <= epochs for e in reported) and list(reported) == sorted(set(reported))


def test_trace_findings_compare_an_early_epoch_with_the_last_at_the_lowest_and_highest_epsilon(dp_dcgan):
    from tfdpfair.reporting.findings import Finding, effects

    assert dp_dcgan._trace_findings([1.0, 10.0], epochs=5) == []  # no middle to compare
    findings = [Finding.from_dict(f) for f in dp_dcgan._trace_findings([10.0, 1.0, 3.0], epochs=30)]
    assert len(findings) == 4
    fid = {eps: {epoch: 50.0 for epoch in (10, 30)} for eps in (1.0, 10.0)}
    fid[1.0][30] = 80.0  # the lowest ε degrades late; the highest improves
    fid[10.0][30] = 20.0
    share = {eps: {10: 0.5, 30: 0.4} for eps in (1.0, 10.0)}  # both lose confident digits late
    rows = [{"table": dp_dcgan._TRACE_TABLE, "setting": {"epsilon": eps, "epoch": epoch}, "metric": metric,
             "ours": value} for metric, table in (("judge_fid", fid), ("confident", share))
            for eps, by_epoch in table.items() for epoch, value in by_epoch.items()]
    got = {f.claim: effects(f, rows) for f in findings}
    assert got == {"lowest ε: better at epoch 10 than at the end (judge FID)": [30.0],
                   "highest ε: better at the end than at epoch 10 (judge FID)": [30.0],
                   "lowest ε: better at epoch 10 than at the end (confident share)": [pytest.approx(0.1)],
                   "highest ε: better at the end than at epoch 10 (confident share)": [pytest.approx(-0.1)]}


def test_trace_findings_claim_the_rise_to_the_end_only_at_wincotts_high_epsilon(dp_dcgan):
    claims = [f["claim"] for f in dp_dcgan._trace_findings([1.0, 5.0], epochs=30)]
    assert claims == ["lowest ε: better at epoch 10 than at the end (judge FID)",
                      "lowest ε: better at epoch 10 than at the end (confident share)"]
    assert len(dp_dcgan._trace_findings([1.0, 9.0], epochs=30)) == 4


@pytest.mark.parametrize("d_steps", [1, 2, 3])
def test_each_dp_model_is_calibrated_for_the_discriminator_steps_of_its_passes(dp_dcgan, d_steps):
    from tfdpfair.privacy import privacy_spend

    base = dp_dcgan.PRESETS["smoke"]
    config = dataclasses.replace(base, gan=dataclasses.replace(base.gan, d_steps=d_steps), gan_epochs=3)
    examples = 1010  # not a multiple of batch · d_steps: a pass drops the last partial batch
    steps, settings = dp_dcgan._gan_settings(config, examples=examples)
    schedule = dp_dcgan._schedule(config, steps)
    # gan_epochs passes, each of examples // (batch · d_steps) generator steps of d_steps discriminator steps
    assert schedule.max_steps == 3 * (examples // (config.gan.batch_size * d_steps))
    assert schedule.max_steps * d_steps == steps and schedule.decay_step == steps // 2
    for label, eps, dp in settings:
        if eps is None:
            continue
        spend = privacy_spend(sampling_rate=config.gan.batch_size / examples, noise_multiplier=dp.noise_multiplier,
                              steps=steps, delta=dp.delta)
        assert spend.epsilon_classic == pytest.approx(eps, rel=0.02) and spend.epsilon_classic <= eps * 1.0001, label


@pytest.mark.parametrize("baseline", [True, False])
def test_the_gan_baseline_flag_adds_or_leaves_out_only_the_non_private_model_and_its_finding(dp_dcgan, baseline):
    config = dataclasses.replace(dp_dcgan.PRESETS["paper"], gan_baseline=baseline)
    _, settings = dp_dcgan._gan_settings(config, examples=60000)
    assert [eps for _, eps, _ in settings] == list(config.gan_epsilons) + [None] * baseline
    assert all(dp.enabled == (eps is not None) for _, eps, dp in settings)
    measured = {"judge_fid": {eps: 10.0 / eps for eps in config.gan_epsilons}
                | ({"non-private": 0.5} if baseline else {})}
    claims = [f["claim"] for f in dp_dcgan._gan_findings(list(config.gan_epsilons), measured)]
    assert ("non-private best (judge FID)" in claims) == baseline
    assert {"lowest ε worst (judge FID)", "quality falls as ε falls (judge FID)"} <= set(claims)


@pytest.mark.parametrize("private,claims", [
    ([10.0], ["highest ε: better at the end than at epoch 10"]),  # one ε ≥ 9: Wincott's ε = 9 claim only
    ([5.0], ["lowest ε: better at epoch 10 than at the end"]),
    ([1.0, 10.0], ["lowest ε: better at epoch 10 than at the end", "highest ε: better at the end than at epoch 10"]),
])
def test_a_sweep_of_one_epsilon_gets_the_trace_claim_that_fits_its_value(dp_dcgan, private, claims):
    got = [f["claim"] for f in dp_dcgan._trace_findings(private, epochs=30)]
    assert got == [f"{c} ({m})" for m in ("judge FID", "confident share") for c in claims]


def test_the_privacy_plan_without_the_baseline_lists_every_dp_model(dp_dcgan, tmp_path):
    from tfdpfair import experiment

    config = dataclasses.replace(dp_dcgan.PRESETS["smoke"], gan_baseline=False, stages=("gan",))
    ctx = experiment.RunContext(slug="dp_dcgan", preset="smoke", out=tmp_path, data_dir=None, seed=0, resume=False)
    labels = [p["setting"] for p in dp_dcgan.plan(config, ctx).privacy]
    assert labels == [f"DP-DCGAN eps={e:g}" for e in config.gan_epsilons]
