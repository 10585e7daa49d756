#!/usr/bin/env python
"""Farrand, Mireshghallah, Singh & Trask (2020), *Neither Private Nor Fair: Impact of Data Imbalance on Utility and Fairness in Differential Privacy*.

Smile classification on CelebA subsets whose gender balance is manipulated (female
share 99.9 / 99 / 90 / 80 / 70 %) while smiling stays 50/50, trained with DP-SGD at three
noise levels and without DP; a clipping sweep (S = 1, 5, 10) on the 70 / 30 set. Table 1:
overall accuracy and its Δ to non-DP at 90 % female; Figure 1: accuracy gap (female −
male) vs imbalance; Figure 2: per-group accuracy vs S; Figures 3–4: overall / female /
male accuracy during training; Figure 5: ΔDemP and ΔEO vs imbalance.

Paper settings: ResNet18 pre-trained on ImageNet, batch 32, Adam, learning rate 5e-5,
60 epochs, δ = 1e-6, S = 5, z = 1.5 / 0.7 / 0.5 reported as ε = 1.15 / 4.98 / 16.2.
Choices, and why:

* training-set size N = 24,000: the paper's subsets have 30,000 images, but its three ε
  follow from its hyper-parameters only with N = 24,000 (an 80 / 20 train / test split of
  the 30,000): q = 32 / 24,000, 45,000 steps, δ = 1e-6, the classic RDP conversion over the
  orders of TF Privacy's 2019 ``compute_dp_sgd_privacy`` (1.25, 1.5, …, 4.5, 5, …, 63,
  128, 256, 512), as in Bagdasaryan et al.'s code that the paper follows, give 1.147,
  4.980 and 16.22. N = 30,000 gives 1.02 / 4.61 / 14.6. The ``ε (classic)`` column uses
  those orders; ``ε (tight)`` is today's conversion of the same run;
* the evaluation set is balanced (a quarter per gender × smiling cell), disjoint from
  training and the same for every imbalance level (``tfdpfair.data.imbalanced_split``);
* per-example clipping (the paper's code clips micro-batches of 2) and GroupNorm instead
  of BatchNorm (per-example gradients need it); no ImageNet weights ship offline, so runs
  start from scratch unless ``pretrained_weights`` names torchvision's ImageNet ResNet18
  saved as ``.npz`` (see ``tfdpfair.models.pretrained``; the network then has the ImageNet
  stem) or a weights file of the zoo's ``resnet18`` — the report says which;
* membership inference (not in the paper): after each run, TF Privacy's attacks with
  training images as members and evaluation images as non-members (as many of each
  gender on both sides), and the
  best attack's AUC overall and per gender goes into the run table; by default the three
  fast attacks (threshold on loss and entropy, logistic regression: seconds per run);
  ``--set 'attacks=["threshold","threshold_entropy","mlp","rf"]'`` adds the slow ones (≈ 1
  min per run at 1,000 examples per side on 2 cores);
* ``quick``: 3,600 training / 1,000 evaluation images from the 8,000-image offline CelebA
  subset, 32 × 32 pixels, a ResNet18 of width 8, a higher learning rate for training from
  scratch, a few epochs: the whole sweep fits 30 minutes on 2 CPU cores. ε is then not the
  paper's (q is 9× larger, far fewer steps), and is reported as measured.

    python reproductions/neither_private_nor_fair.py --preset quick --data-dir ../shared/data
    python reproductions/neither_private_nor_fair.py --preset paper --dry-run   # the paper's ε
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from tfdpfair import experiment, validation
from tfdpfair.data import SOURCES, names as dataset_names
from tfdpfair.data.tfds_source import CELEBA_ATTRIBUTES
from tfdpfair.evaluation.membership import ATTACKS
from tfdpfair.models.registry import check_name
from tfdpfair.training import TrainConfig

SLUG = "neither_private_nor_fair"
TITLE = "Farrand et al. (2020): Neither Private Nor Fair — DP-SGD under group imbalance on CelebA"
LEVELS = {1.5: "high", 0.7: "medium", 0.5: "low"}  # noise multiplier z → the paper's privacy level
PAPER_EPSILON = {1.5: 1.15, 0.7: 4.98, 0.5: 16.2}
PAPER_TABLE1 = {1.5: (71.05, -20.6), 0.7: (85.61, -6.04), 0.5: (87.51, -4.14), None: (91.65, 0.0)}
# §1: DP adds this much disparity (gap − non-DP gap, percentage points) at ε = 16.2 / 4.98
PAPER_ADDED_GAP = {(0.7, 0.5): 5.1, (0.7, 0.7): 5.2, (0.999, 0.5): 19.0, (0.999, 0.7): 52.0}


# %% Configuration: the paper's settings and the presets
@dataclasses.dataclass(frozen=True)
class Config:
    """One reproduction of the sweep.

    Attributes:
      dataset / data_source: the pool the subsets are drawn from (``tfdpfair.data.load``).
      target / group: attribute names; ``majority_value`` is the majority's ``group`` value
        (Male = 0: women are the majority); ``group_names`` name the values 0 and 1.
      train_size / eval_size: N training images per subset; balanced evaluation images.
      downsample: images are 64 px ÷ this.
      model / model_width / pretrained_weights: the zoo network (first-stage width) and an
        optional local weights file to start from: torchvision's ImageNet weights as ``.npz``
        (``tfdpfair.models.pretrained``), or a file saved from the same zoo network.
      train: optimisation (batch, epochs, learning rate, Adam).
      delta / l2_norm_clip: δ and S of every DP run.
      majority_shares: female shares of the imbalance sweep.
      noise_multipliers: z of the DP runs (a non-DP run is added at each share).
      clip_sweep / clip_sweep_share: the clipping sweep's S values and its female share.
      table1_share: the female share of Table 1.
      curve_points: learning-curve evaluations per run.
      bootstrap_resamples: resamples for the confidence intervals.
      attacks: membership-inference attacks per run (``tfdpfair.evaluation.membership``; empty: none).
      attack_examples: at most this many members and non-members attacked per run.
    """

    dataset: str = "celeb_a"
    data_source: str = "auto"
    target: str = "Smiling"
    group: str = "Male"
    majority_value: int = 0
    group_names: Tuple[str, ...] = ("female", "male")
    train_size: int = 24_000
    eval_size: int = 4_000
    downsample: int = 1
    model: str = "resnet18"
    model_width: int = 64
    pretrained_weights: Optional[str] = None
    train: TrainConfig = TrainConfig(batch_size=32, epochs=60, learning_rate=5e-5, optimizer="adam")
    delta: float = 1e-6
    l2_norm_clip: float = 5.0
    majority_shares: Tuple[float, ...] = (0.999, 0.99, 0.9, 0.8, 0.7)
    noise_multipliers: Tuple[float, ...] = (1.5, 0.7, 0.5)
    clip_sweep: Tuple[float, ...] = (1.0, 5.0, 10.0)
    clip_sweep_share: float = 0.7
    table1_share: float = 0.9
    curve_points: int = 30
    bootstrap_resamples: int = 1000
    attacks: Tuple[str, ...] = ("threshold", "threshold_entropy", "lr")
    attack_examples: int = 4000

    def __post_init__(self) -> None:  # one field at a time; cross-field rules: _check, after every --set
        validation.choice(self.dataset, dataset_names(), "dataset")
        validation.choice(self.data_source, SOURCES, "data_source")
        validation.choice(self.target, CELEBA_ATTRIBUTES, "target attribute")
        validation.choice(self.group, CELEBA_ATTRIBUTES, "group attribute")
        validation.choice(self.majority_value, (0, 1), "majority_value")
        if len(self.group_names) != 2 or len(set(self.group_names)) != 2:
            raise ValueError(f"group_names must be two different names, got {self.group_names}")
        for name in ("train_size", "eval_size", "downsample", "model_width", "curve_points"):
            validation.integer(getattr(self, name), name)
        validation.integer(self.bootstrap_resamples, "bootstrap_resamples", minimum=0)
        validation.subset(self.attacks, ATTACKS, "attacks")
        validation.integer(self.attack_examples, "attack_examples", minimum=2)
        check_name(self.model)
        validation.choice(self.model, ("resnet18", "resnet50"), "model (this sweep takes a zoo ResNet)")
        validation.number(self.delta, "delta", positive=True, at_most=0.5)
        validation.number(self.l2_norm_clip, "l2_norm_clip", positive=True)
        validation.numbers(self.majority_shares, "majority_shares", positive=True, at_most=1.0)
        if min(self.majority_shares) < 0.5:
            raise ValueError(f"majority_shares are the majority's share of training, in [0.5, 1]; got "
                             f"{list(self.majority_shares)}")
        validation.numbers(self.noise_multipliers, "noise_multipliers")
        if min(self.noise_multipliers) < 0:
            raise ValueError(f"noise_multipliers must be >= 0, got {list(self.noise_multipliers)}")
        validation.numbers(self.clip_sweep, "clip_sweep", positive=True)
        for name in ("majority_shares", "noise_multipliers", "clip_sweep"):
            validation.distinct(getattr(self, name), name)
        validation.number(self.clip_sweep_share, "clip_sweep_share", positive=True, at_most=1.0)
        validation.number(self.table1_share, "table1_share", positive=True, at_most=1.0)


PRESETS = {
    # five models: two shares × DP / non-DP, and the clipping sweep's S = 1 (its S = 5 is the 70 % DP model)
    "smoke": Config(train_size=200, eval_size=80, downsample=4, model_width=4, majority_shares=(0.9, 0.7),
                    noise_multipliers=(0.7,), clip_sweep=(1.0, 5.0), curve_points=2, bootstrap_resamples=50,
                    train=TrainConfig(batch_size=32, epochs=2, learning_rate=1e-3, optimizer="adam")),
    # 26 runs of ≈ 50 s (DP) / 30 s (non-DP) each on 2 cores: ResNet18 of width 8 at 32 px, 5 epochs
    "quick": Config(train_size=3600, eval_size=1000, downsample=2, model_width=8, curve_points=12,
                    train=TrainConfig(batch_size=32, epochs=5, learning_rate=1e-3, optimizer="adam")),
    "paper": Config(),
}


# %% The privacy plan (what --dry-run prints): needs no data
def _check(config: Config) -> None:
    """Cross-field rules, checked once all --set overrides are applied."""
    for name in ("table1_share", "clip_sweep_share"):
        if getattr(config, name) not in config.majority_shares:
            raise experiment.ConfigError(f"{name}={getattr(config, name)} must be one of majority_shares "
                                         f"{list(config.majority_shares)}")
    if config.l2_norm_clip not in config.clip_sweep:
        raise experiment.ConfigError(f"l2_norm_clip={config.l2_norm_clip} must be one of clip_sweep "
                                     f"{list(config.clip_sweep)}")
    if not config.noise_multipliers:
        raise experiment.ConfigError("noise_multipliers must name at least one DP setting")


def _spend(config: Config, z: float):
    from tfdpfair.privacy import privacy_spend, steps_from_epochs
    from tfdpfair.privacy.accounting import TFP_2019_RDP_ORDERS

    steps = steps_from_epochs(examples=config.train_size, batch_size=config.train.batch_size,
                              epochs=config.train.epochs)
    return privacy_spend(sampling_rate=config.train.batch_size / config.train_size, noise_multiplier=z,
                         steps=steps, delta=config.delta, classic_orders=TFP_2019_RDP_ORDERS)


def _privacy_entries(config: Config):
    return [_spend(config, z).as_dict(f"z={z:g} ({LEVELS.get(z, 'custom')}; paper ε {PAPER_EPSILON.get(z, '—')})")
            | {"l2_norm_clip": config.l2_norm_clip} for z in config.noise_multipliers]


def plan(config: Config, ctx: experiment.RunContext):
    from tfdpfair.reporting import Results

    _check(config)
    return Results(paper=SLUG, preset=ctx.preset, seed=ctx.seed, data_source="none (dry run: no data loaded)",
                   privacy=_privacy_entries(config))


# %% The reproduction: every run of the sweep, then Table 1, the run table and Figures 1–5
def _runs(config: Config):
    """[(female share, z or None, S)]: the imbalance × privacy sweep, then the clipping sweep's new runs."""
    runs = [(share, z, config.l2_norm_clip) for share in config.majority_shares
            for z in (*config.noise_multipliers, None)]
    runs += [(config.clip_sweep_share, z, s) for s in config.clip_sweep for z in config.noise_multipliers
             if (config.clip_sweep_share, z, s) not in runs]
    return runs


def _label(z) -> str:
    return "non-DP" if z is None else f"z={z:g} ({LEVELS.get(z, 'custom')})"


def run(config: Config, ctx: experiment.RunContext) -> experiment.RunOutput:
    _check(config)
    from tfdpfair import data, models
    from tfdpfair.evaluation.group_runs import GroupRun, train_and_assess
    from tfdpfair.models.pretrained import torchvision_resnet
    from tfdpfair.privacy import DPConfig
    from tfdpfair.reporting import ResultRow, Results
    from tfdpfair.reporting.figures import plot_lines, plot_step_curves

    (pool,) = experiment.load_data(ctx, dataset=config.dataset, source=config.data_source, splits=("train",))
    pool = pool.downsample(config.downsample)
    names = dict(enumerate(config.group_names))
    major, minor = names[config.majority_value], names[1 - config.majority_value]
    splits = {}
    for share in config.majority_shares:
        splits[share] = data.imbalanced_split(pool, target=config.target, group=config.group,
                                              train_size=config.train_size, majority_share=share,
                                              eval_size=config.eval_size, majority_value=config.majority_value,
                                              seed=ctx.seed)

    def build():
        kw = dict(input_shape=pool.x.shape[1:], num_classes=2, width=config.model_width,
                  groups=min(32, max(1, config.model_width // 2)))
        if config.pretrained_weights and config.pretrained_weights.endswith(".npz"):  # torchvision's ImageNet weights
            return torchvision_resnet(config.pretrained_weights, architecture=config.model, **kw)
        return models.get(config.model, weights=config.pretrained_weights, **kw)

    results = Results(paper=SLUG, preset=ctx.preset, seed=ctx.seed, data_source=pool.source)
    runs, measured = _runs(config), {}
    for i, (share, z, clip) in enumerate(runs, 1):
        name = f"female{share:g}_{_label(z).split(' ')[0]}_S{clip:g}"
        dp = DPConfig(l2_norm_clip=clip, noise_multiplier=0.0 if z is None else z, delta=config.delta)

        def assess(unit: experiment.Unit, share=share, z=z, clip=clip, dp=dp, i=i) -> dict:
            print(f"\n== [{i}/{len(runs)}] {major} share {share:g}, {_label(z)}, S={clip:g} ==", flush=True)
            out = train_and_assess(
                build, splits[share], dp=dp if z is not None else dp.disabled(), train=config.train,
                group_names=names, curve_points=config.curve_points, bootstrap_resamples=config.bootstrap_resamples,
                seed=ctx.seed, streams=unit.streams, checkpoint_dir=unit.checkpoint_dir, resume=unit.resume,
                attacks=config.attacks, attack_examples=config.attack_examples)
            v = out.fairness.values
            print(f"accuracy {v['accuracy']:.4f} ({major} {v[f'accuracy[{major}]']:.4f}, {minor} "
                  f"{v[f'accuracy[{minor}]']:.4f}), gap {v['accuracy_gap']:+.4f}, ΔDemP "
                  f"{v['demographic_parity_difference']:.4f}, ΔEO {v['equal_opportunity_difference']:.4f} "
                  f"({out.training.seconds:.0f} s)", flush=True)
            if out.membership:
                print("membership inference: " + ", ".join(_mia_cells(out.membership, major, minor))
                      + f" ({out.membership['seconds']:.0f} s)", flush=True)
            return out.to_stored()

        measured[(share, z, clip)] = out = GroupRun.from_stored(ctx.unit(f"runs/{name}", assess))
        results.sampling = out.training.sampling
    results.privacy = _privacy_entries(config)
    eps = {z: _spend(config, z).epsilon_classic for z in config.noise_multipliers}
    S = config.l2_norm_clip

    def value(share, z, metric, clip=S):
        return 100 * measured[(share, z, clip)].fairness.values[metric]

    # Table 1: overall accuracy and Δ to non-DP at the table's share
    t1 = config.table1_share
    table1 = f"Table 1: accuracy at {100 * t1:g} % {major} (%)"
    for z in (*config.noise_multipliers, None):
        setting = {"female share": t1, "privacy": _label(z), "epsilon": None if z is None else round(eps[z], 3)}
        paper_acc, paper_delta = PAPER_TABLE1.get(z, (None, None))
        results.rows += [
            ResultRow(table1, setting, "accuracy", value(t1, z, "accuracy"), paper_acc if t1 == 0.9 else None),
            ResultRow(table1, setting, "delta_to_non_dp",
                      value(t1, z, "accuracy") - value(t1, None, "accuracy"), paper_delta if t1 == 0.9 else None),
        ]
    for z in config.noise_multipliers:
        results.rows.append(ResultRow("Privacy: ε of the paper's levels", {"privacy": _label(z)}, "epsilon_classic",
                                      eps[z], PAPER_EPSILON.get(z)))
    for share in config.majority_shares:
        for z in config.noise_multipliers:
            results.rows.append(ResultRow(
                "Disparity added by DP: gap − non-DP gap (pp)", {"female share": share, "privacy": _label(z)},
                "added_accuracy_gap", value(share, z, "accuracy_gap") - value(share, None, "accuracy_gap"),
                PAPER_ADDED_GAP.get((share, z))))

    # every run: one row of the run table
    header = ["female share", "privacy", "S", "ε classic", "accuracy %", f"{major} %", f"{minor} %",
              "gap (pp) [95 % CI]", "ΔDemP [95 % CI]", "ΔEO [95 % CI]", "MIA AUC (best)",
              f"MIA AUC {major}", f"MIA AUC {minor}", "seconds"]
    rows = []
    for (share, z, clip), out in measured.items():
        v, ci = out.fairness.values, out.fairness.intervals

        def with_ci(metric, scale=100.0):
            low, high = ci.get(metric, (float("nan"), float("nan")))
            return f"{scale * v[metric]:.2f} [{scale * low:.2f}, {scale * high:.2f}]"

        rows.append([share, _label(z), clip, None if z is None else round(eps[z], 3), round(100 * v["accuracy"], 2),
                     round(100 * v[f"accuracy[{major}]"], 2), round(100 * v[f"accuracy[{minor}]"], 2),
                     with_ci("accuracy_gap"), with_ci("demographic_parity_difference", 1.0),
                     with_ci("equal_opportunity_difference", 1.0), *_mia_cells(out.membership, major, minor),
                     round(out.training.seconds, 1)])
    results.tables.append({"title": "Every run (evaluation set; gap = female − male accuracy)", "header": header,
                           "rows": rows})

    # figures
    levels = (*config.noise_multipliers, None)
    shares = sorted(config.majority_shares, reverse=True)

    def legend(z):
        return "non-DP" if z is None else f"ε={eps[z]:.3g} (z={z:g})"

    def by_share(metric, scale=100.0):
        series = {legend(z): [(s, scale * measured[(s, z, S)].fairness.values[metric]) for s in shares]
                  for z in levels}
        cis = {legend(z): [tuple(scale * b for b in measured[(s, z, S)].fairness.intervals.get(metric, (0, 0)))
                           for s in shares] for z in levels}
        return series, cis

    share_ticks = [f"{100 * s:g} %" for s in sorted(config.majority_shares)]
    figures = {}
    series, cis = by_share("accuracy_gap")
    figures["figure1_accuracy_gap_vs_imbalance"] = plot_lines(
        series, intervals=cis, categorical_x=True, xticks=share_ticks, xlabel=f"{major} share of training",
        ylabel=f"accuracy gap, {major} − {minor} (pp)", title="Figure 1")
    clip_series, clip_styles = {}, {}
    for i, z in enumerate(config.noise_multipliers):
        for group, linestyle in ((major, "-"), (minor, "--")):
            clip_series[f"{legend(z)}, {group}"] = [(c, value(config.clip_sweep_share, z, f"accuracy[{group}]", c))
                                                    for c in config.clip_sweep]
            clip_styles[f"{legend(z)}, {group}"] = {"color": f"C{i}", "linestyle": linestyle}
    figures["figure2_group_accuracy_vs_clipping"] = plot_lines(
        clip_series, styles=clip_styles, xlabel="clip norm S", ylabel="accuracy (%)", xticks=config.clip_sweep,
        title=f"Figure 2 ({100 * config.clip_sweep_share:g} % {major})")
    keys = ("accuracy", f"accuracy[{major}]", f"accuracy[{minor}]")
    key_labels = {"accuracy": "overall", f"accuracy[{major}]": major, f"accuracy[{minor}]": minor}
    figures["figure3_curves_by_privacy"] = plot_step_curves(
        {legend(z): measured[(config.clip_sweep_share, z, S)].curve for z in levels}, keys=keys, key_labels=key_labels)
    z_fig4 = 0.7 if 0.7 in config.noise_multipliers else config.noise_multipliers[0]
    figures["figure4_curves_by_imbalance"] = plot_step_curves(
        {f"{100 * s:g} % {major}": measured[(s, z_fig4, S)].curve for s in shares}, keys=keys, key_labels=key_labels)
    for tag, metric, label in (("a", "demographic_parity_difference", "ΔDemP"),
                               ("b", "equal_opportunity_difference", "ΔEO")):
        series, cis = by_share(metric, scale=1.0)
        figures[f"figure5{tag}_{label.replace('Δ', 'delta_')}_vs_imbalance"] = plot_lines(
            series, intervals=cis, categorical_x=True, xticks=share_ticks, xlabel=f"{major} share of training",
            ylabel=label, title=f"Figure 5({tag})")

    results.notes += _findings(config, measured, major, minor, eps)
    results.findings += _stored_findings(config, table1, eps, major)
    extreme = splits[max(config.majority_shares)]
    n_minor = sum(n for (g, _), n in extreme.train_counts.items() if g != config.majority_value)
    results.notes.append(f"At {100 * max(config.majority_shares):g} % {major} the training set holds {n_minor} {minor} "
                         f"images of {config.train_size} (the paper's 24,000 hold "
                         f"{round(24_000 * (1 - max(config.majority_shares)))}).")
    results.notes += [
        f"ε (classic) uses TF Privacy's 2019 RDP orders, as the paper did; with N = {config.train_size}, batch "
        f"{config.train.batch_size} and {config.train.epochs} epochs. The paper's ε come from N = 24,000 (see the "
        "script's docstring).",
        f"Model: {config.model} (width {config.model_width}, GroupNorm) on {pool.x.shape[1]} × {pool.x.shape[2]} "
        "images, " + (f"started from {config.pretrained_weights}." if config.pretrained_weights else
                      "trained from scratch (the paper fine-tunes ImageNet weights; none are available offline)."),
        f"Batches: {results.sampling}; the accounting assumes Poisson sampling at q = batch/N, as the paper's did.",
        f"Evaluation: {config.eval_size} held-out images, balanced by {config.group} × {config.target}, the same for "
        f"every run; intervals: {config.bootstrap_resamples} bootstrap resamples stratified by cell. One seed "
        f"({ctx.seed}); the paper reports one run per setting too.",
    ]
    if config.attacks:
        results.notes.append(
            f"MIA (not in the paper): TF Privacy's {', '.join(config.attacks)} attacks; members: up to "
            f"{config.attack_examples} training images, non-members: as many evaluation images, with the same number "
            "of each gender on both sides (otherwise the imbalanced training set against the balanced evaluation "
            "set would let the AUC measure the gender mix, not membership); 0.5 = chance. Per-gender columns give "
            "the best attack on that gender's examples (members/non-members): at strong imbalance the minority has "
            "few training images, so its AUC is noisy.")
    return experiment.RunOutput(results=results, title=TITLE, figures=figures)


def _mia_cells(membership, major: str, minor: str) -> list:
    """Best attack's AUC overall and per group ("attack AUC (members/non-members)"), or dashes without attacks."""
    if not membership:
        return ["—", "—", "—"]
    cells = [f"{membership['best']['auc']:.3f} ({membership['best']['attack']})"]
    for group in (major, minor):
        g = membership.get("by_group", {}).get(group)
        cells.append("—" if g is None else f"{g['auc']:.3f} ({g['attack']}; {g['members']}/{g['non_members']})")
    return cells


def _verdict(effects, noise: float) -> str:
    """'reproduced' when every effect (pp, positive = the paper's direction) exceeds the noise level."""
    if all(e > noise for e in effects):
        return "reproduced"
    if all(e > 0 for e in effects):
        return f"same direction, but within the noise (±{noise:.1f} pp)"
    return "not reproduced"


def _stored_findings(config, table1, eps, major):
    """Table 1's trend and Finding 1 as row comparisons, so that ``--seeds`` judges them beyond the seed spread."""
    from tfdpfair.reporting.findings import Finding, Comparison, ordered

    zs = sorted(config.noise_multipliers)
    t1 = config.table1_share

    def row(z):
        return {"female share": t1, "privacy": _label(z), "epsilon": None if z is None else round(eps[z], 3)}

    findings = [ordered(f"Table 1: accuracy falls as privacy tightens ({100 * t1:g} % {major})", table=table1,
                        metric="accuracy", best_first=[row(None)] + [row(z) for z in zs], higher_is_better=True)]
    extreme = max(config.majority_shares)
    others = [s for s in config.majority_shares if s != extreme]
    if others:
        table = "Disparity added by DP: gap − non-DP gap (pp)"
        findings.append(Finding(
            f"Finding 1: DP adds more {major} − minority gap at {100 * extreme:g} % {major} than at any other level",
            tuple(Comparison(table, "added_accuracy_gap", {"female share": extreme, "privacy": _label(z)},
                             {"female share": s, "privacy": _label(z)}, True) for z in zs for s in others)))
    return [f.as_dict() for f in findings]


def _findings(config, measured, major, minor, eps):
    """Which of the paper's three findings this run shows, with the numbers and the noise level."""
    import numpy as np

    from tfdpfair.evaluation.learning_curves import curve_gap

    S, zs = config.l2_norm_clip, config.noise_multipliers
    gap = {k: 100 * m.fairness.values["accuracy_gap"] for k, m in measured.items()}
    # noise: the median half-width of the gap's bootstrap interval over all runs
    widths = [100 * (hi - lo) / 2 for m in measured.values() for lo, hi in [m.fairness.intervals.get(
        "accuracy_gap", (0.0, 0.0))]]
    noise = float(np.median(widths)) if widths else 0.0
    notes = [f"Noise level: the gap's 95 % bootstrap interval has a median half-width of {noise:.1f} pp over the "
             f"{len(measured)} runs ({config.eval_size} evaluation images); effects smaller than that are not "
             "called reproduced."]
    t1 = config.table1_share
    acc = [100 * measured[(t1, z, S)].fairness.values["accuracy"] for z in sorted(zs, reverse=True) + [None]]
    notes.append(f"Table 1 (accuracy falls as privacy tightens, {100 * t1:g} % {major}): "
                 f"{'reproduced' if all(a < b for a, b in zip(acc, acc[1:])) else 'not reproduced'}; "
                 + " < ".join(f"{a:.1f}" for a in acc) + " % from the strictest privacy to non-DP.")
    extreme = max(config.majority_shares)
    others = [s for s in config.majority_shares if s != extreme]
    if others:
        jumps = {z: gap[(extreme, z, S)] - max(gap[(s, z, S)] for s in others) for z in (*zs, None)}
        notes.append(f"Finding 1 (under DP the gap grows sharply at {100 * extreme:g} % {major}): "
                     f"{_verdict([jumps[z] for z in zs], noise)}; gap at {100 * extreme:g} % minus the largest gap "
                     "at the other levels: " + ", ".join(f"{_label(z)} {j:+.1f} pp" for z, j in jumps.items()) + ".")
    if len(zs) > 1 and others:
        strict = max(zs)
        margins = [min(abs(gap[(s, z, S)]) for z in zs if z != strict) - abs(gap[(s, strict, S)]) for s in others]
        notes.append(f"Finding 2 (below {100 * extreme:g} % the strictest privacy, {_label(strict)}, has the smallest "
                     f"gap of the DP runs): {_verdict(margins, noise)}; it does at "
                     f"{sum(m > 0 for m in margins)} of {len(others)} levels; gaps: "
                     + "; ".join(f"{100 * s:g} %: " + ", ".join(f"{_label(z)} {gap[(s, z, S)]:+.1f}" for z in zs)
                                 for s in others) + " pp.")
    share = config.clip_sweep_share
    drift = {}
    for z in (*zs, None):
        g = [v for step, v in curve_gap(measured[(share, z, S)].curve, majority=major, minority=minor) if step > 0]
        if len(g) >= 2:
            k = max(1, len(g) // 4)
            drift[z] = 100 * (sum(g[-k:]) / k - sum(g[:k]) / k)
    if None in drift and len(drift) > 1:
        notes.append(f"Finding 3 (under DP the {major} − {minor} gap diverges during training, without DP it stays "
                     f"flat; {100 * share:g} % {major}): "
                     f"{_verdict([d - drift[None] for z, d in drift.items() if z is not None], noise)}; change of "
                     "the gap from the first to the last quarter of training: "
                     + ", ".join(f"{_label(z)} {d:+.1f} pp" for z, d in drift.items()) + ".")
    return notes


# %% [markdown]
# This reproduction needs CelebA: add `"--data-dir", "<folder>"` to the flags below (a folder with
# `celeba.npz`, or a TFDS data_dir where `celeb_a` is prepared), or `"--set", "data_source=tfds"` to
# download it (about 1.4 GB; the paper preset needs it).

# %% tags=["parameters"]
ARGV = None  # the command-line flags; None reads sys.argv, a notebook sets e.g. ["--preset", "smoke"]

# %% Run
if __name__ == "__main__":
    experiment.run_script(slug=SLUG, description=TITLE, presets=PRESETS, plan=plan, run=run, argv=ARGV)
