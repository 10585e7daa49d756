#!/usr/bin/env python
"""Hassanpour, Zarei, Mallat, Santana de Oliveira & Yang (PoPETs 2025), *The Impact of Generalization Techniques on the Interplay Among Privacy, Utility, and Fairness in Image Classification*.

Generalization techniques — GroupNorm (GN), the "optimal" (large, under DP) batch size
(OBS), weight standardization (WS), augmentation multiplicity (AM), parameter averaging
(PA: an EMA of the weights) and sharpness-aware training (SAT: SAM, or DP-SAT under DP) —
are added one at a time (BL → +GN → +OBS → +WS → +AM → +PA → +SAT) to a Wide ResNet
trained with and without DP-SGD (ε = 8, δ = 1e-5) on CIFAR-10 and on CIFAR-10S, whose
training images are 95 % colour in five classes and 95 % grey in the other five. Every
model is attacked with TF Privacy's four membership-inference attacks (threshold,
threshold-entropy, MLP, random forest); the tables report the MLP attack's AUC.

Stages (``--set 'stages=[...]'``), each model stored as it finishes and skipped by ``--resume``:

* ``ablation``: Tables 2 (CIFAR-10: accuracy, AUC, GGap), 3 (CIFAR-10S: COLOR | GRAY
  accuracy, AUC), 5 (Eq. 1 bias) and 6 (all techniques: accuracy, AUC, bias, HS), ± DP;
  Figure 2 (train / test accuracy, the attack's AUC and the highest-risk member's
  membership probability during training, BL and all techniques, ± DP, CIFAR-10);
* ``individual``: Table 8, each technique added to BL alone (CIFAR-10 and -10S, ± DP);
* ``dp_sat``: Table 4, DP-SGD (all techniques up to PA) vs DP-SAT at each ε (CIFAR-10);
* ``skew``: Figures 3–4, all techniques under DP at each ε × training skew, beside
  unbiased DP-CIFAR-10 and the non-private models;
* ``onion``: Figures 5–6, three rounds of removing the training examples the MLP attack
  finds most exposed and retraining (all techniques; CIFAR-10 and -10S, ± DP);
* ``celeba``: Table 7 and Figure 7, a multi-attribute CelebA model (every attribute but
  ``Male`` that the validation and test sets can score) as BL and with all techniques
  (GT), ± DP: gender-weighted mAP, Eq. 2 bias, mean MIA AUC per attribute (all, skew ≥ 0.8).

Choices, and why (the paper leaves these open; see also ``tfdpfair.data.skewed_domains``):

* CIFAR-10S follows the paper's and Wang et al.'s definition (mostly grey: the even labels,
  airplane, bird, deer, frog, ship; grey = BT.601 luminance in three channels), not the
  authors' released code, which greys every image and inverts a few by index;
* a validation split (10 % of each class) is carved from the training images for early
  stopping (non-private models; patience ``early_stopping_patience``) and GGap, which is
  validation − training accuracy as §4.1 defines it (negative when a model overfits);
* membership inference: members are training images, non-members test images in the
  training distribution (for CIFAR-10S the test images skewed the same way), equally
  many of each; TF Privacy's trained attacks score each example by cross-validation on
  the target's own outputs (not a shadow model, although the paper calls them so);
* BL: without DP a WRN with BatchNorm and batch ``bl_batch_size``; under DP BatchNorm is
  impossible (it mixes examples), so the private BL has no normalisation; +GN puts
  GroupNorm (``gn_groups``) on the residual branches; +OBS switches to Table 1's batch
  (4,096 under DP, 32 without); under DP, σ is calibrated per model so that the run's
  steps spend exactly the target ε with today's (tight) RDP conversion: the paper defers to
  De et al. (2022), whose ε = 1 / 2 configurations (batch 4,096, σ = 10 / 6, 875 / 1,125
  steps; Table 1's σ) give ε = 0.99 / 2.00 with it and 1.20 / 2.34 with the classic one; the
  classic ε is reported beside it. Table 1's σ belong to De et al.'s step counts; the
  presets train every DP model for ``dp_train.epochs`` epochs, so σ differs (see ``--dry-run``,
  which for the paper preset also lists Table 1's settings as printed — CIFAR-10's legible σ
  and CIFAR-100's four at batch 16,384 — with the ε they spend at De et al.'s step counts);
* HS (Eq. 3) uses the mean of COLOR and GRAY accuracy and the MLP attack's AUC; the
  paper's second worked example is an arithmetic slip (Eq. 3 gives 0.229, not 0.136);
* onion effect: each round removes ``onion_fraction`` of the original training set (the
  paper: 5,000 of 50,000) ranked by the MLP attack's membership score (the paper: "privacy
  risk score computed by the MLP attack"), then trains a fresh model on the rest;
* findings: an effect is called reproduced only when it exceeds 1.96 standard errors of
  the evaluation (binomial for accuracy, Hanley–McNeil for AUC, on the test and attack
  sets); this omits the training run's own randomness (the paper reports the median of
  five seeds), which ``--seed`` repeats measure: ``tfdpfair seeds`` gathers them (median
  and range of every number).

* CelebA: the offline file holds 8,000 aligned faces (the official training partition's
  first images), split here into training / validation / test; no early stopping (the
  held-out criterion is single-label accuracy); positive prediction: logit > 0; Table 7's
  bias is Eq. 2 signed towards each attribute's majority gender, averaged (unstated in the
  paper); each attribute's MIA AUC attacks that attribute's output as a two-class model.

* networks: WRN-16-4 from scratch for CIFAR-10(S); WRN-28-10 (``large_depth`` /
  ``large_width``) for CIFAR-100(S) and CelebA, started from ImageNet weights when
  ``pretrained_weights`` names a ``.npz`` of them (``tfdpfair.models.pretrained``; the
  classifier stays fresh), else from scratch — the report says which. No such file ships:
  the paper's weights come from De et al.'s ImageNet-32 pre-training in JAX.

Presets: ``paper`` is Table 1 (a GPU job: 4,096-example logical batches × AM 16 in physical
chunks of 256; not timed here, no GPU with TensorFlow was at hand); ``quick`` runs every
stage on 2 CPU cores within 45 minutes at a scale chosen by cost, not by its outcome
(1,000 training images at 16 px, WRN-10-1, Table 8 on CIFAR-10 only, one onion round;
see the README for its wall time and findings); ``smoke`` is for the tests.

Not yet here: CIFAR-100(S) (Tables 2–3, 5–6 and Figure 8's second dataset): it is not
available offline; ``--set dataset=cifar100`` with TFDS data runs the CIFAR stages on it (add
``--set obs_batch_size_dp=16384 --set sat_radius=0.03`` for Table 1's CIFAR-100 column).

    python reproductions/generalization_tradeoffs.py --preset quick --data-dir ../shared/data
    python reproductions/generalization_tradeoffs.py --preset paper --dry-run   # the privacy plan of Table 1
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional, Tuple

from tfdpfair import experiment, validation
from tfdpfair.data import SOURCES, names as dataset_names
from tfdpfair.evaluation.membership import ATTACKS, PAPER_ATTACKS
from tfdpfair.training import TrainConfig

SLUG = "generalization_tradeoffs"
TITLE = ("Hassanpour et al. (2025): generalization techniques × DP × fairness — accuracy, membership inference, "
         "bias, harmonic score, onion effect")
STAGES = ("ablation", "individual", "dp_sat", "skew", "onion", "celeba")
VARIANTS = ("unbiased", "skewed")  # the dataset (CIFAR-10) and its domain-skewed version (CIFAR-10S)
LADDER = ("BL", "+GN", "+OBS", "+WS", "+AM", "+PA", "+SAT")
# The numbers the text states (the tables themselves were images): §4, Tables 2–6, accuracy in %.
PAPER_TABLE2 = {("cifar10", False): {"BL": 71.13, "+SAT": 92.3}, ("cifar10", True): {"BL": 49.47, "+PA": 79.06,
                                                                                      "+SAT": 81.11}}
PAPER_TABLE4 = {"DP-SGD": {1: 45.13, 2: 60.23, 4: 69.74, 8: 79.06}, "DP-SAT": {1: 45.94, 2: 62.59, 4: 72.1, 8: 81.11}}
PAPER_TABLE5 = {False: {"BL": 0.01, "+SAT": 0.09}, True: {"BL": 0.04, "+SAT": 0.15}}  # CIFAR-10S bias
# Table 7 (CelebA test set): mAP %, bias, mean MIA AUC over all attributes and over skew ≥ 0.8
PAPER_TABLE7 = {"Baseline": (74.3, 0.011, 0.62, 0.69), "Baseline + GT": (77.8, 0.019, 0.59, 0.65),
                "Baseline + DP": (54.6, 0.013, 0.54, 0.59), "Baseline + GT + DP": (66.1, 0.024, 0.53, 0.55)}


# %% Configuration: the paper's settings and the presets
@dataclasses.dataclass(frozen=True)
class Config:
    """One reproduction.

    Attributes:
      dataset / data_source: the image dataset (``tfdpfair.data.load``; CIFAR-10 or -100).
      train_size / test_size: class-balanced training images (after the validation split)
        and test images; None = all.
      validation_fraction: share of each class held out from training, in (0, 1).
      validation_size: class-balanced validation images instead (None: ``validation_fraction``).
      downsample: images are shrunk by this integer factor (1 = 32 px).
      depth / width / gn_groups: the WRN (16-4 in the paper for CIFAR-10) and GroupNorm's groups.
      large_depth / large_width: the WRN of CIFAR-100(S) and CelebA (28-10 in the paper).
      pretrained_weights: a ``.npz`` of the large WRN's ImageNet weights, written by
        ``tfdpfair.models.pretrained.save_weights_npz`` from the zoo's ``wrn`` (e.g. after
        converting De et al.'s ImageNet-32 checkpoint), loaded into the CIFAR-100 and CelebA
        models but for their classifier; None = from scratch (the report says so).
      train / dp_train: optimisation without / with DP (epochs, learning rate, SGD; the
        batch comes from the techniques; ``physical_batch_size`` bounds memory).
      early_stopping_patience: epochs without validation gain before a non-private run stops.
      l2_norm_clip / delta / epsilon: C, δ and the ε of the ablation's DP models.
      epsilons: the ε of Table 4 and Figures 3–4.
      bl_batch_size / bl_batch_size_dp: the baseline's batch without / with DP.
      obs_batch_size / obs_batch_size_dp: Table 1's "optimal" batch without / with DP.
      augmentation_multiplicity / ema_decay / sat_radius: +AM's K, +PA's decay, +SAT's ρ.
      skew / skews: the training skew of the ablation's CIFAR-10S, and Figure 3's skews.
      onion_rounds / onion_fraction: rounds of removal, and the share of the original
        training set removed per round.
      attacks / reported_attack / attack_examples: TF Privacy attacks per model, the one
        the tables report, at most this many members (and as many non-members).
      curve_points: Figure 2's evaluations per curve run.
      rungs: which rungs of the ladder the ablation trains (BL and +SAT always).
      variants: the datasets of the ablation, individual and onion stages: ``unbiased``
        and / or ``skewed`` (dp_sat and skew need ``unbiased``).
      individual_variants: those of ``variants`` that the individual stage (Table 8) trains.
      celeba_sizes: CelebA training (None: the rest), validation and test images.
      celeba_downsample: CelebA's 64 px images are shrunk by this factor.
      celeba_attack_examples: members (and non-members) of each attribute's attack.
      celeba_min_per_gender: an attribute is kept when the validation and the test set each
        hold at least this many positive and negative images of each gender.
      stages: which stages to run (``STAGES``).
    """

    dataset: str = "cifar10"
    data_source: str = "auto"
    train_size: Optional[int] = None
    test_size: Optional[int] = None
    validation_fraction: float = 0.1
    validation_size: Optional[int] = None
    downsample: int = 1
    depth: int = 16
    width: int = 4
    large_depth: int = 28
    large_width: int = 10
    pretrained_weights: Optional[str] = None
    gn_groups: int = 16
    train: TrainConfig = TrainConfig(batch_size=32, epochs=100, learning_rate=0.01, optimizer="sgd")
    dp_train: TrainConfig = TrainConfig(batch_size=4096, epochs=200, learning_rate=2.0, optimizer="sgd",
                                        physical_batch_size=256)
    early_stopping_patience: int = 10
    l2_norm_clip: float = 1.0
    delta: float = 1e-5
    epsilon: float = 8.0
    epsilons: Tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
    bl_batch_size: int = 128
    bl_batch_size_dp: int = 256
    obs_batch_size: int = 32
    obs_batch_size_dp: int = 4096
    augmentation_multiplicity: int = 16
    ema_decay: float = 0.999
    sat_radius: float = 0.05
    skew: float = 0.95
    skews: Tuple[float, ...] = (0.95, 0.75)
    onion_rounds: int = 3
    onion_fraction: float = 0.1
    attacks: Tuple[str, ...] = PAPER_ATTACKS
    reported_attack: str = "mlp"
    attack_examples: int = 5000
    curve_points: int = 10
    rungs: Tuple[str, ...] = LADDER
    variants: Tuple[str, ...] = VARIANTS
    individual_variants: Tuple[str, ...] = VARIANTS
    celeba_sizes: Tuple[Optional[int], int, int] = (None, 1000, 1000)
    celeba_downsample: int = 2
    celeba_attack_examples: int = 1000
    celeba_min_per_gender: int = 10
    stages: Tuple[str, ...] = STAGES

    def __post_init__(self) -> None:
        validation.choice(self.dataset, dataset_names(), "dataset")
        validation.choice(self.data_source, SOURCES, "data_source")
        for name in ("train_size", "test_size", "validation_size"):
            validation.integer(getattr(self, name), name, optional=True)
        validation.number(self.validation_fraction, "validation_fraction", positive=True, at_most=0.5)
        if self.pretrained_weights is not None and not Path(self.pretrained_weights).expanduser().is_file():
            raise ValueError(f"pretrained_weights: {self.pretrained_weights} is not a file (a .npz written by "
                             "tfdpfair.models.pretrained.save_weights_npz)")
        for name in ("downsample", "depth", "width", "large_depth", "large_width", "gn_groups",
                     "early_stopping_patience", "bl_batch_size", "bl_batch_size_dp", "obs_batch_size",
                     "obs_batch_size_dp", "augmentation_multiplicity", "onion_rounds", "attack_examples", "curve_points"):
            validation.integer(getattr(self, name), name)
        validation.number(self.l2_norm_clip, "l2_norm_clip", positive=True)
        validation.number(self.delta, "delta", positive=True, at_most=0.5)
        validation.number(self.epsilon, "epsilon", positive=True)
        validation.numbers(self.epsilons, "epsilons", positive=True)
        validation.distinct(self.epsilons, "epsilons")
        validation.number(self.ema_decay, "ema_decay", positive=True, at_most=0.9999)
        validation.number(self.sat_radius, "sat_radius", positive=True)
        validation.numbers(self.skews, "skews", positive=True, at_most=1.0)
        validation.distinct(self.skews, "skews")
        for s in (self.skew, *self.skews):
            if not 0.5 <= s <= 1.0:
                raise ValueError(f"a skew is each class's share in its majority domain, in [0.5, 1]; got {s}")
        validation.number(self.onion_fraction, "onion_fraction", positive=True, at_most=0.3)
        validation.subset(self.attacks, ATTACKS, "attacks")
        validation.choice(self.reported_attack, self.attacks, "reported_attack (one of attacks)")
        validation.subset(self.stages, STAGES, "stages")
        validation.subset(self.rungs, LADDER, "rungs")
        validation.subset(self.variants, VARIANTS, "variants")
        if not self.variants:
            raise ValueError("variants must name at least one of unbiased, skewed")
        validation.subset(self.individual_variants, VARIANTS, "individual_variants")
        if "individual" in self.stages and not set(self.individual_variants) & set(self.variants):
            raise ValueError(f"the individual stage trains on individual_variants that are also in variants "
                             f"({list(self.variants)}); got {list(self.individual_variants)}")
        if {"dp_sat", "skew"} & set(self.stages) and "unbiased" not in self.variants:
            raise ValueError("the dp_sat and skew stages compare with the unbiased dataset: add it to variants")
        if not {"BL", "+SAT"} <= set(self.rungs):
            raise ValueError(f"rungs must include BL and +SAT (the findings compare them), got {list(self.rungs)}")
        if len(self.celeba_sizes) != 3:
            raise ValueError(f"celeba_sizes is (training or None, validation, test), got {self.celeba_sizes}")
        validation.integer(self.celeba_sizes[0], "celeba_sizes[0]", optional=True)
        for i in (1, 2):
            validation.integer(self.celeba_sizes[i], f"celeba_sizes[{i}]")
        validation.integer(self.celeba_downsample, "celeba_downsample")
        validation.integer(self.celeba_attack_examples, "celeba_attack_examples", minimum=10)
        validation.integer(self.celeba_min_per_gender, "celeba_min_per_gender")


PRESETS = {
    # BL and all techniques on CIFAR-10S, one onion round and the CelebA stage on tiny images (≈ 1.5 min); the
    # other stages' tables are tested on their own
    "smoke": Config(train_size=200, validation_size=100, test_size=100, downsample=4, depth=10, width=1,
                    large_depth=10, large_width=1, gn_groups=4,
                    train=TrainConfig(batch_size=32, epochs=2, learning_rate=0.05, optimizer="sgd"),
                    dp_train=TrainConfig(batch_size=64, epochs=2, learning_rate=0.5, optimizer="sgd"),
                    early_stopping_patience=1, bl_batch_size=50, bl_batch_size_dp=50, obs_batch_size=20,
                    obs_batch_size_dp=100, augmentation_multiplicity=2, ema_decay=0.9, epsilons=(2.0, 8.0),
                    onion_rounds=1, attacks=("threshold", "threshold_entropy"), reported_attack="threshold",
                    attack_examples=60, curve_points=2, celeba_sizes=(200, 100, 100), celeba_downsample=8,
                    celeba_min_per_gender=1,
                    celeba_attack_examples=40, rungs=("BL", "+SAT"), variants=("skewed",),
                    stages=("ablation", "onion", "celeba")),
    # every table and figure on 2 CPU cores within 45 min (sized by the README's cost per model, not by its findings):
    # WRN-10-1 on 16 px images, 1,000 training images (long enough without DP for the models to overfit a little:
    # an attack needs that), Table 8 on CIFAR-10 only, one onion round, no random-forest attack
    "quick": Config(train_size=1000, validation_size=500, test_size=1000, downsample=2, depth=10, width=1,
                    large_depth=10, large_width=1, gn_groups=8,
                    train=TrainConfig(batch_size=32, epochs=12, learning_rate=0.05, optimizer="sgd"),
                    dp_train=TrainConfig(batch_size=256, epochs=15, learning_rate=2.0, optimizer="sgd"),
                    early_stopping_patience=4, bl_batch_size=128, bl_batch_size_dp=128, obs_batch_size=32,
                    obs_batch_size_dp=256, augmentation_multiplicity=2, ema_decay=0.99, epsilons=(2.0, 8.0),
                    onion_rounds=1, attack_examples=500, curve_points=6, individual_variants=("unbiased",),
                    celeba_sizes=(2000, 1000, 1000), celeba_downsample=4, celeba_attack_examples=500,
                    attacks=("threshold", "threshold_entropy", "mlp")),
    "paper": Config(),
}


# %% The models: ladders of techniques, σ calibrated to ε, one stored unit per model
def _base(config: Config, dp: bool):
    from tfdpfair.evaluation.technique_runs import Techniques

    return Techniques(norm="none" if dp else "batch", batch_size=config.bl_batch_size_dp if dp else config.bl_batch_size)


def _steps(config: Config, dp: bool):
    return [("+GN", "norm", "group"), ("+OBS", "batch_size", config.obs_batch_size_dp if dp else config.obs_batch_size),
            ("+WS", "weight_standardization", True), ("+AM", "augmentation_multiplicity", config.augmentation_multiplicity),
            ("+PA", "ema_decay", config.ema_decay), ("+SAT", "sam_radius", config.sat_radius)]


def ladder(config: Config, dp: bool):
    """[(label, Techniques)]: BL → +GN → +OBS → +WS → +AM → +PA → +SAT, one field changed per rung."""
    from tfdpfair import ablation

    return ablation.ladder(_base(config, dp), _steps(config, dp))


def _settings(config: Config):
    """How every CIFAR model is trained and measured (``tfdpfair.evaluation.technique_study``)."""
    from tfdpfair.evaluation.technique_study import StudySettings

    return StudySettings(train=config.train, dp_train=config.dp_train,
                         early_stopping_patience=config.early_stopping_patience, l2_norm_clip=config.l2_norm_clip,
                         delta=config.delta, attacks=config.attacks, reported_attack=config.reported_attack,
                         attack_examples=config.attack_examples, curve_points=config.curve_points)


def _dp_config(config: Config, techniques, examples: int, epsilon: Optional[float]):
    """The mechanism of one model (σ calibrated to ``epsilon``, tight RDP) and its (q, steps); None = non-private."""
    from tfdpfair.evaluation.technique_study import calibrated_mechanism

    return calibrated_mechanism(_settings(config), techniques, examples=examples, epsilon=epsilon)


def _network(config: Config, techniques, *, large: bool, input_shape, outputs: int):
    """The study's WRN for ``techniques``: ``depth``-``width``, or the large one (from ``pretrained_weights``)."""
    from tfdpfair import models

    depth, width = (config.large_depth, config.large_width) if large else (config.depth, config.width)
    model = models.get("wrn", depth=depth, width=width, input_shape=input_shape, num_classes=outputs,
                       norm=techniques.norm, groups=config.gn_groups,
                       weight_standardization=techniques.weight_standardization)
    if large and config.pretrained_weights:
        from tfdpfair.models.pretrained import load_weights_npz

        report = load_weights_npz(model, config.pretrained_weights)
        print(f"started from {config.pretrained_weights}: {len(report['loaded'])} layers loaded, fresh: "
              f"{', '.join(report['fresh']) or 'none'}", flush=True)
    return model


def _architecture(config: Config, *, large: bool) -> str:
    """How the report names the network of a dataset (and where its weights came from)."""
    if not large:
        return f"WRN-{config.depth}-{config.width} from scratch"
    return f"WRN-{config.large_depth}-{config.large_width} " + (
        f"from {config.pretrained_weights}" if config.pretrained_weights else
        "from scratch (the paper starts from ImageNet weights; pretrained_weights names a file of them)")


# %% The privacy plan (what --dry-run prints): needs no data beyond the training-set size
def _training_size(config: Config) -> int:
    full = {"cifar10": 50_000, "cifar100": 50_000}.get(config.dataset, 50_000)
    pool = full - (round(config.validation_fraction * full) if config.validation_size is None
                   else config.validation_size)
    return pool if config.train_size is None else config.train_size


def _plan_entry(config: Config, setting: str, *, sampling_rate: float, noise_multiplier: float, steps: int,
                examples: int) -> dict:
    """One ``privacy`` entry of the plan (results.json): ε tight and classic of the mechanism, at ``config.delta``."""
    from tfdpfair.privacy import privacy_spend

    spend = privacy_spend(sampling_rate=sampling_rate, noise_multiplier=noise_multiplier, steps=steps,
                          delta=config.delta)
    return spend.as_dict(setting) | {"l2_norm_clip": config.l2_norm_clip, "examples": examples}


def _privacy_entries(config: Config, examples: int):
    """One entry per (batch, ε) a DP CIFAR model uses: the ablation's BL / +GN batch, and the OBS batch at each of
    ``epsilons`` where the run has a stage that uses them (dp_sat, skew); none when only CelebA runs (its models:
    ``_celeba_entries``)."""
    if not set(config.stages) - {"celeba"}:
        return []
    rungs = ladder(config, True)
    settings = {(t.batch_size, config.epsilon): t for _, t in rungs}
    if {"dp_sat", "skew"} & set(config.stages):
        settings.update({(rungs[-1][1].batch_size, eps): rungs[-1][1] for eps in config.epsilons})
    entries = []
    for (batch, eps), t in sorted(settings.items()):
        dp, (q, steps) = _dp_config(config, t, examples, eps)
        entries.append(_plan_entry(config, f"eps={eps:g}, batch {batch}", sampling_rate=q,
                                   noise_multiplier=dp.noise_multiplier, steps=steps, examples=examples))
    return entries


# Table 1's DP settings as printed, with the step counts of De et al.'s public configurations they come from
# (jax_privacy's configs; the paper gives no steps): ε, batch, σ, steps, training images. CIFAR-10's σ for ε = 4 and 8
# are illegible in the paper's table; the OBS 16,348 it prints for CIFAR-100 is De et al.'s 16,384. With these steps
# our accountant gives the paper's ε (CIFAR-100: 1.00 / 2.00 / 4.02 / 7.99 tight), which checks the reading.
PAPER_TABLE1_DP = {
    "CIFAR-10": ((1.0, 4096, 10.0, 875, 50_000), (2.0, 4096, 6.0, 1125, 50_000)),
    "CIFAR-100": ((1.0, 16384, 21.1, 250, 50_000), (2.0, 16384, 15.8, 500, 50_000),
                  (4.0, 16384, 12.0, 1000, 50_000), (8.0, 16384, 9.4, 2000, 50_000)),
}


def _paper_table1_entries(config: Config) -> list:
    """The privacy plan of Table 1's settings as the paper prints them (σ fixed, De et al.'s steps), for comparison
    with the presets' models, whose σ is calibrated to each ε for their own steps."""
    return [_plan_entry(config, f"Table 1 as printed: {dataset}, eps={eps:g}, batch {batch}",
                        sampling_rate=batch / examples, noise_multiplier=sigma, steps=steps, examples=examples)
            for dataset, rows in PAPER_TABLE1_DP.items() for eps, batch, sigma, steps, examples in rows]


CELEBA_TRAIN = 162_770
"""Images in CelebA's official training partition (TFDS ``celeb_a``, split ``train``), the stage's pool."""


def _celeba_entries(config: Config) -> list:
    """The CelebA stage's two DP models (BL and all techniques at ``epsilon``), planned on ``celeba_sizes``' training
    size, or on the full partition less the held-out images when it is None (the offline file's 8,000 images give
    another N, hence another σ: the run's own results.json has the one it used)."""
    if "celeba" not in config.stages:
        return []
    train_size, validation_size, test_size = config.celeba_sizes
    examples = train_size or CELEBA_TRAIN - validation_size - test_size
    assumed = "" if train_size else ", N if the full training partition is loaded"
    entries = []
    for label, rung in (("Baseline + DP", 0), ("Baseline + GT + DP", -1)):
        techniques = ladder(config, True)[rung][1]
        mechanism, (q, steps) = _dp_config(config, techniques, examples, config.epsilon)
        entries.append(_plan_entry(config, f"CelebA {label}, eps={config.epsilon:g}, batch {techniques.batch_size}"
                                           f"{assumed}", sampling_rate=q, noise_multiplier=mechanism.noise_multiplier,
                                   steps=steps, examples=examples))
    return entries


def plan(config: Config, ctx: experiment.RunContext):
    from tfdpfair.reporting import Results

    privacy = _privacy_entries(config, _training_size(config)) + _celeba_entries(config)
    if ctx.preset == "paper":
        privacy += _paper_table1_entries(config)
    return Results(paper=SLUG, preset=ctx.preset, seed=ctx.seed, data_source="none (dry run: no data loaded)",
                   privacy=privacy)


# %% The reproduction
def _datasets(config: Config, ctx: experiment.RunContext, skews):
    """{"plain": unbiased splits, "skew<s>": skewed splits}: chosen at full size, then downsampled (cheaper)."""
    from tfdpfair.evaluation.technique_runs import tradeoff_data

    train, test = experiment.load_data(ctx, dataset=config.dataset, source=config.data_source)
    kw = dict(validation_fraction=config.validation_fraction, validation_size=config.validation_size,
              train_size=config.train_size, test_size=config.test_size, seed=ctx.seed)
    out = {"plain": tradeoff_data(train, test, **kw)} if "unbiased" in config.variants else {}
    for s in skews:
        out[f"skew{s:g}"] = tradeoff_data(train, test, skew=s, **kw)
    return {k: v.downsample(config.downsample) for k, v in out.items()}, train.source


def _study(config: Config, ctx: experiment.RunContext, datasets: dict):
    """The CIFAR models, each trained once; the all-techniques ones also rank their members (the onion effect)."""
    from tfdpfair.evaluation.technique_study import TechniqueStudy

    first = next(iter(datasets.values()), None)
    shape, classes = (first.train.x.shape[1:], first.train.num_classes) if first is not None else (None, None)
    return TechniqueStudy(_settings(config), ctx, datasets, ranked=[ladder(config, dp)[-1][1] for dp in (False, True)],
                          build=lambda techniques: _network(config, techniques, large=config.dataset == "cifar100",
                                                            input_shape=shape, outputs=classes))


def run(config: Config, ctx: experiment.RunContext) -> experiment.RunOutput:
    from tfdpfair.reporting import Results
    from tfdpfair.reporting import tradeoff_tables as tables

    cifar = bool(set(config.stages) - {"celeba"})
    skews = sorted({*((config.skew,) if "skewed" in config.variants else ()),
                    *(config.skews if "skew" in config.stages else ())}, reverse=True)
    datasets, source = _datasets(config, ctx, skews) if cifar else ({}, None)
    study = _study(config, ctx, datasets)
    S = f"skew{config.skew:g}"
    variants = [v for v, wanted in (("plain", "unbiased"), (S, "skewed")) if wanted in config.variants]
    plain = "plain" if "plain" in variants else None
    name10, name10s = config.dataset.upper().replace("CIFAR", "CIFAR-"), \
        config.dataset.upper().replace("CIFAR", "CIFAR-") + "S"
    results = Results(paper=SLUG, preset=ctx.preset, seed=ctx.seed, data_source=source or "")
    figures, findings = {}, []
    ladders = {dp: ladder(config, dp) for dp in (False, True)}
    eps_of = {False: None, True: config.epsilon}

    if "ablation" in config.stages:
        measured = {(variant, dp): [(label, study.model(variant, t, eps_of[dp],
                                                         curve=variant == variants[0] and label in ("BL", "+SAT")))
                                    for label, t in ladders[dp] if label in config.rungs]
                    for variant in variants for dp in (False, True)}
        skewed = S if S in variants else None
        tables.ablation_tables(results, measured, plain=plain, skewed=skewed, names=(name10, name10s),
                               paper_table2=PAPER_TABLE2, dataset=config.dataset,
                               paper_table5=PAPER_TABLE5 if config.dataset == "cifar10" else {})
        figures.update(tables.curve_figures({dp: [(label, run) for label, run in measured[(variants[0], dp)]
                                                  if label in ("BL", "+SAT")] for dp in (False, True)}))
        findings += tables.ablation_findings(measured, plain=plain, skewed=skewed)
    if "individual" in config.stages:
        from tfdpfair import ablation

        alone = {(variant, dp): [(label, study.model(variant, t, eps_of[dp]))
                                 for label, t in ablation.one_at_a_time(_base(config, dp), _steps(config, dp))]
                 for variant in variants if _variant_key(variant, S) in config.individual_variants
                 for dp in (False, True)}
        tables.individual_table(results, alone, plain=plain, skewed=S, names=(name10, name10s))
    if "dp_sat" in config.stages:
        sgd, sat = ladders[True][-2][1], ladders[True][-1][1]
        table4 = {eps: {"DP-SGD": study.model("plain", sgd, eps), "DP-SAT": study.model("plain", sat, eps)}
                  for eps in config.epsilons}
        findings += tables.dp_sat_table(results, table4, paper=PAPER_TABLE4 if config.dataset == "cifar10" else {})
    if "skew" in config.stages:
        final_dp, final = ladders[True][-1][1], ladders[False][-1][1]
        grid = {(s, eps): study.model(f"skew{s:g}", final_dp, eps) for s in skews for eps in config.epsilons}
        refs = {"non-DP " + name10: study.model("plain", final, None),
                **{f"non-DP {name10s} ({100 * s:g} %)": study.model(f"skew{s:g}", final, None) for s in skews}}
        unbiased = {eps: study.model("plain", final_dp, eps) for eps in config.epsilons}
        figs, notes = tables.skew_figures(results, grid, refs, unbiased, skews=skews, epsilons=config.epsilons,
                                          names=(name10, name10s))
        figures.update(figs)
        findings += notes
    if "onion" in config.stages:
        rounds = {}
        for variant in variants:
            for dp in (False, True):
                t = ladders[dp][-1][1]
                rounds[(variant, dp)] = study.onion(variant, t, eps_of[dp], rounds=config.onion_rounds,
                                                    fraction=config.onion_fraction)
        figs, notes = tables.onion_figures(results, rounds, plain=plain, skewed=S, names=(name10, name10s))
        figures.update(figs)
        findings += notes
    if cifar:
        first = datasets[variants[0]]
        results.privacy = _privacy_entries(config, len(first.train))
        results.notes += [
            f"Data: {source}; {len(first.train)} training images, {len(first.validation)} validation images held "
            f"out from the training set, {len(next(iter(first.tests.values())))} test images, "
            f"{first.train.x.shape[1]} px; {_architecture(config, large=config.dataset == 'cifar100')}; {name10s}: "
            f"{100 * config.skew:g} % of each class in its majority domain.",
            f"ε: every DP model spends ε = {config.epsilon:g} (RDP, tight conversion, as De et al.'s configurations "
            "that the paper follows reach their ε) over its own steps (σ calibrated per batch size and training-set "
            f"size; see the privacy table, which also gives the classic ε); δ = {config.delta:g}."]
    if "celeba" in config.stages:
        findings += _celeba(config, ctx, results, figures)
    tables.run_table(results, study.runs)
    results.notes = findings + results.notes + [
        "Noise: the findings compare effects with 1.96 standard errors of the evaluation sets (binomial accuracy, "
        "Hanley–McNeil AUC, bootstrap bias); the variation between training runs (seeds) is not in them: repeat "
        "with --seed into other folders and gather them with `tfdpfair seeds DIR DIR ...` (median and range). One "
        "seed per model here; the paper reports the median of five.",
        "Batches are reshuffled fixed-size batches; the accounting treats each step as Poisson sampling at "
        "q = batch / N (the convention of the paper's TF Privacy accountant, not a formal bound for shuffling; "
        "--set dp_train.sampling=poisson samples as the accountant assumes)."]
    if "onion" in config.stages:
        results.notes.append(
            "Onion effect under DP: which examples a round removes is decided without privacy (the attack's ranking "
            "over the whole training set, with test images as non-members); each retrained model is (ε, δ)-DP with "
            "respect to its own, reduced training set, not the original one.")
    return experiment.RunOutput(results=results, title=TITLE, figures=figures)


def _variant_key(variant: str, skewed: str) -> str:
    """The config's name (``unbiased`` / ``skewed``) of a dataset key (``plain`` / ``skew<s>``)."""
    return "skewed" if variant == skewed else "unbiased"


def _celeba(config: Config, ctx: experiment.RunContext, results, figures) -> list:
    """Table 7 and Figure 7: BL and all techniques (GT), ± DP, on the multi-attribute CelebA task."""
    from tfdpfair.evaluation.attribute_runs import AttributeRun, attribute_data, train_and_measure_attributes
    from tfdpfair.reporting import tradeoff_tables as tables

    (pool,) = experiment.load_data(ctx, dataset="celeb_a", source=config.data_source, splits=("train",))
    pool = pool.downsample(config.celeba_downsample)
    results.data_source = "; ".join(filter(None, [results.data_source, pool.source]))
    train_size, validation_size, test_size = config.celeba_sizes
    data = attribute_data(pool, validation_size=validation_size, test_size=test_size, train_size=train_size,
                          min_per_gender=config.celeba_min_per_gender, seed=ctx.seed)

    def build(techniques, outputs):
        return _network(config, techniques, large=True, input_shape=pool.x.shape[1:], outputs=outputs)

    runs = {}
    for label, dp in (("Baseline", False), ("Baseline + GT", False), ("Baseline + DP", True),
                      ("Baseline + GT + DP", True)):
        techniques = ladder(config, dp)[-1 if "GT" in label else 0][1]
        mechanism, _ = _dp_config(config, techniques, len(data.train), config.epsilon if dp else None)

        def fit(unit: experiment.Unit, techniques=techniques, mechanism=mechanism, dp=dp, label=label) -> dict:
            print(f"\n== CelebA {label} ({len(data.train)} images, {len(data.task.attributes)} attributes) ==",
                  flush=True)
            run = train_and_measure_attributes(
                build, data, techniques=techniques, dp=mechanism, train=config.dp_train if dp else config.train,
                attack=config.reported_attack, attack_examples=config.celeba_attack_examples, seed=ctx.seed,
                streams=unit.streams, checkpoint_dir=unit.checkpoint_dir, resume=unit.resume)
            print(f"mAP {100 * run.map_test:.1f} %, bias {run.amplification:+.4f}, AUC {run.mean_auc():.3f} "
                  f"({run.training.seconds:.0f} s)", flush=True)
            return run.to_stored()

        runs[label] = run = AttributeRun.from_stored(ctx.unit(f"celeba/{label.replace(' + ', '_').replace(' ', '_')}",
                                                              fit))
        if run.training.privacy is not None:
            results.privacy.append(dataclasses.asdict(run.training.privacy) | {
                "setting": f"CelebA {label}, eps={config.epsilon:g}, batch {techniques.batch_size}",
                "l2_norm_clip": config.l2_norm_clip, "examples": len(data.train)})
    figures["figure7_celeba_ap_change_vs_skew"] = tables.celeba_figure(
        baseline=runs["Baseline"], other=runs["Baseline + GT + DP"], label="Baseline + GT + DP")
    notes = tables.celeba_table(results, runs, paper=PAPER_TABLE7)
    notes.append(f"CelebA: {len(data.task.attributes)} attributes kept of {len(pool.attr_names) - 1}; left out: "
                 + (", ".join(f"{k} ({v})" for k, v in data.task.dropped.items()) or "none")
                 + f". {len(data.train)} training, {len(data.validation)} validation, {len(data.test)} test images, "
                 f"{pool.x.shape[1]} px, {_architecture(config, large=True)} (the paper: WRN-28-10 from ImageNet "
                 "weights on the full CelebA).")
    return notes


# %% [markdown]
# Every preset needs CIFAR-10 and, for its CelebA stage, CelebA: add `"--data-dir", "<folder>"` (a folder with
# `cifar10.npz` and `celeba.npz`, or a TFDS data_dir where they are prepared), or `"--set", "data_source=tfds"`
# to download them.

# %% tags=["parameters"]
ARGV = None  # the command-line flags; None reads sys.argv, a notebook sets e.g. ["--preset", "smoke"]

# %% Run
if __name__ == "__main__":
    experiment.run_script(slug=SLUG, description=TITLE, presets=PRESETS, plan=plan, run=run, argv=ARGV)
