"""Many technique models of one study (Hassanpour et al. 2025), each trained once and stored as it finishes.

A study's stages ask for overlapping models (the ablation's all-techniques model is also
Table 4's ε = 8 DP-SAT model, Figure 3's 95 % point and the onion effect's first round).
``TechniqueStudy.model`` names a model by its content — dataset variant, the techniques,
ε, onion round — and trains it only when the run folder does not hold it yet
(``RunContext.unit``: stored atomically, skipped by ``--resume``). Under DP, σ is
calibrated per model so that the model's own steps spend exactly the target ε
(``calibrated_mechanism``: tight RDP conversion). ``TechniqueStudy.onion`` is Carlini et
al.'s onion effect as the paper runs it: remove the training examples the attack ranks
most exposed, retrain, measure again.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from tfdpfair.evaluation.technique_runs import TechniqueRun, Techniques, TradeoffData, train_and_measure
from tfdpfair.privacy import DPConfig
from tfdpfair.training.classifier import TrainConfig


@dataclasses.dataclass(frozen=True)
class StudySettings:
    """How every model of a study is trained and measured.

    Attributes:
      train / dp_train: optimisation without / with DP (epochs, learning rate, optimizer; the
        batch comes from each model's techniques).
      early_stopping_patience: epochs without validation gain before a non-private model
        stops; None = never (DP models never stop early: the validation split is not private).
      l2_norm_clip / delta: C > 0 and δ in (0, 1) of every DP model.
      attacks / reported_attack / attack_examples: TF Privacy's attacks on every model, the
        one the tables report (and that ranks members for the onion effect), at most this many
        members (and as many non-members); None = all.
      curve_points: Figure 2's evaluations over training, for the models asked for a curve.
    """

    train: TrainConfig
    dp_train: TrainConfig
    early_stopping_patience: Optional[int]
    l2_norm_clip: float
    delta: float
    attacks: Tuple[str, ...]
    reported_attack: str
    attack_examples: Optional[int]
    curve_points: int


@functools.lru_cache(maxsize=None)
def _sigma(q: float, steps: int, epsilon: float, delta: float) -> float:
    from tfdpfair.privacy import noise_multiplier_for_epsilon

    return noise_multiplier_for_epsilon(sampling_rate=q, steps=steps, target_epsilon=epsilon, delta=delta,
                                        conversion="tight")


def calibrated_mechanism(settings: StudySettings, techniques: Techniques, *, examples: int,
                         epsilon: Optional[float]) -> Tuple[DPConfig, Optional[Tuple[float, int]]]:
    """(mechanism, (q, steps)) of one model: σ so that its steps spend ``epsilon`` (tight RDP); None = non-private.

    ``examples``: the model's training-set size (q = batch / examples; steps from
    ``settings.dp_train.epochs``). A non-private model gets ``(DPConfig.disabled(), None)``.
    """
    from tfdpfair.privacy import steps_from_epochs

    off = DPConfig(l2_norm_clip=settings.l2_norm_clip, delta=settings.delta)
    if epsilon is None:
        return off.disabled(), None
    steps = steps_from_epochs(examples=examples, batch_size=techniques.batch_size, epochs=settings.dp_train.epochs)
    q = techniques.batch_size / examples
    return dataclasses.replace(off, noise_multiplier=_sigma(q, steps, epsilon, settings.delta)), (q, steps)


def model_name(variant: str, techniques: Techniques, epsilon: Optional[float], removed: int = 0) -> str:
    """The stored unit of one model: ``models/<variant>/<nondp | eps<ε>>/<techniques>[_onion<removed>]``."""
    t = techniques
    tag = (f"{t.norm}_b{t.batch_size}_ws{int(t.weight_standardization)}_k{t.augmentation_multiplicity}"
           f"_ema{t.ema_decay or 0:g}_sam{t.sam_radius:g}")
    return f"models/{variant}/{'nondp' if epsilon is None else f'eps{epsilon:g}'}/{tag}" + (
        f"_onion{removed}" if removed else "")


def _without(data: TradeoffData, keep: np.ndarray) -> TradeoffData:
    t = data.train
    return dataclasses.replace(data, train=dataclasses.replace(t, x=t.x[keep], y=t.y[keep],
                                                               attrs=None if t.attrs is None else t.attrs[keep]))


class TechniqueStudy:
    """Trains (or loads from the run folder) each model once, whichever stage asks for it.

    Args:
      settings: how every model is trained and measured.
      ctx: the run (``tfdpfair.experiment.RunContext``: ``unit`` stores a model, ``seed``
        seeds its weights and attacks).
      datasets: variant name → ``TradeoffData`` (e.g. ``plain``, ``skew0.95``).
      build: techniques → a fresh, uncompiled logits model (called after seeding).
      ranked: techniques whose (round-0) models also rank every training example by the
        reported attack, whichever stage trains them first (so that a later onion stage
        finds the ranking stored).
    """

    def __init__(self, settings: StudySettings, ctx, datasets: Dict[str, TradeoffData],
                 build: Callable[[Techniques], object], *, ranked: Sequence[Techniques] = ()):
        self.settings, self.ctx, self.datasets, self.build = settings, ctx, datasets, build
        self.ranked = set(ranked)
        self.runs: Dict[str, TechniqueRun] = {}

    def model(self, variant: str, techniques: Techniques, epsilon: Optional[float], *, curve: bool = False,
              rank: bool = False, removed: int = 0, data: Optional[TradeoffData] = None) -> TechniqueRun:
        """The measured model of (``variant``, ``techniques``, ``epsilon``; None = non-private).

        ``curve``: record Figure 2's curve; ``rank``: score every training example (the onion
        effect); ``removed`` / ``data``: an onion round's reduced training set and its size
        difference (part of the model's name).
        """
        s = self.settings
        rank = rank or (techniques in self.ranked and not removed)
        name = model_name(variant, techniques, epsilon, removed)
        data = data if data is not None else self.datasets[variant]
        dp, _ = calibrated_mechanism(s, techniques, examples=len(data.train), epsilon=epsilon)

        def fit(unit) -> dict:
            print(f"\n== {name} ({len(data.train)} training images; "
                  f"{'non-private' if epsilon is None else f'ε = {epsilon:g}, σ = {dp.noise_multiplier:.3f}'}) ==",
                  flush=True)
            run = train_and_measure(
                self.build, data, techniques=techniques, dp=dp, train=s.train if epsilon is None else s.dp_train,
                early_stopping_patience=s.early_stopping_patience if epsilon is None else None,
                attacks=s.attacks, reported_attack=s.reported_attack, attack_examples=s.attack_examples,
                curve_points=s.curve_points if curve else 0, rank_members_by=s.reported_attack if rank else None,
                seed=self.ctx.seed, streams=unit.streams, checkpoint_dir=unit.checkpoint_dir, resume=unit.resume)
            print("accuracy " + ", ".join(f"{k} {v:.4f}" for k, v in run.accuracy.items())
                  + f"; GGap {run.ggap:+.4f}; AUC " + ", ".join(f"{k} {v:.3f}" for k, v in run.auc.items())
                  + ("" if run.bias is None else f"; bias {run.bias:.4f}; HS {run.harmonic:.4f}")
                  + f" ({run.training.seconds:.0f} s)", flush=True)
            stored = run.to_stored()
            if stored["member_scores"] is not None:
                stored["member_scores"] = np.asarray(stored["member_scores"], np.float32)
            return stored

        run = TechniqueRun.from_stored(dict(self.ctx.unit(name, fit)))
        self.runs[name] = run
        return run

    def onion(self, variant: str, techniques: Techniques, epsilon: Optional[float], *, rounds: int,
              fraction: float) -> List[Tuple[int, TechniqueRun]]:
        """[(examples removed, run)]: the model, then ``rounds`` retrainings, each without a further
        ``fraction`` (in (0, 1)) of the original training set: the examples the reported attack
        ranked most exposed in the previous round's model (ties: the earlier example stays)."""
        data = self.datasets[variant]
        per_round = int(round(fraction * len(data.train)))
        keep = np.arange(len(data.train))
        out = [(0, self.model(variant, techniques, epsilon, rank=True))]
        for r in range(1, rounds + 1):
            scores = np.asarray(out[-1][1].member_scores)
            keep = keep[np.sort(np.argsort(-scores, kind="stable")[per_round:])]
            out.append((r * per_round, self.model(variant, techniques, epsilon, rank=r < rounds,
                                                  removed=r * per_round, data=_without(data, keep))))
        return out
