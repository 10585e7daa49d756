"""A paper's qualitative claims as comparisons of two table rows, checked on one run and over seeds.

A ``Finding`` is a claim ("the non-private DCGAN is best", "accuracy falls as ε falls") made of
``Comparison``s, each between two rows of the run's tables: ``better`` should beat ``worse``
on ``metric`` (``higher_is_better`` says which way). On one run a finding *holds* when every
comparison goes the paper's way; that is one draw of the training randomness, not evidence.

Over seeds (``over_seeds``): each comparison's effect (better − worse, signed so that > 0 is
the paper's direction) is paired by seed; the finding is ``reproduced`` only when, for every
comparison, the one-sided 95 % lower confidence bound of the mean paired effect is above 0
(mean > t(0.95, n − 1) · sd / √n over the n seeds): the effect is larger than the run-to-run
randomness can explain; ``same direction, within the noise`` when every mean effect is
positive but some bound is not; else ``not reproduced`` (``tfdpfair.reporting.verdicts``).
With 3 seeds the bound is mean − 1.69 standard deviations of the paired effect. A seed with
no finite number for a compared row (a diverged model) makes the finding not reproduced.

Findings travel in ``results.json`` as ``findings`` (a list of ``Finding.as_dict()``), so a
report over seeds can judge them from the stored runs alone.
"""
from __future__ import annotations

import dataclasses
import json
import math
import statistics
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from tfdpfair.reporting.results import setting_text
from tfdpfair.reporting.verdicts import NOT_REPRODUCED, REPRODUCED, WITHIN_NOISE, verdict


@dataclasses.dataclass(frozen=True)
class Comparison:
    """``better`` beats ``worse`` on ``metric`` in ``table`` (settings as the rows store them)."""

    table: str
    metric: str
    better: Mapping[str, Any]
    worse: Mapping[str, Any]
    higher_is_better: bool

    def as_dict(self) -> dict:
        return {"table": self.table, "metric": self.metric, "better": dict(self.better), "worse": dict(self.worse),
                "higher_is_better": self.higher_is_better}

    def describe(self) -> str:
        return f"({setting_text(dict(self.better))}) {'>' if self.higher_is_better else '<'} " \
               f"({setting_text(dict(self.worse))})"


@dataclasses.dataclass(frozen=True)
class Finding:
    """A claim and the comparisons that make it (all must go the paper's way)."""

    claim: str
    comparisons: Tuple[Comparison, ...]

    def __post_init__(self) -> None:
        if not self.comparisons:
            raise ValueError(f"finding {self.claim!r} has no comparisons")

    def as_dict(self) -> dict:
        return {"claim": self.claim, "comparisons": [c.as_dict() for c in self.comparisons]}

    @classmethod
    def from_dict(cls, obj: dict) -> "Finding":
        return cls(claim=obj["claim"], comparisons=tuple(Comparison(**c) for c in obj["comparisons"]))


def ordered(claim: str, *, table: str, metric: str, best_first: Sequence[Mapping[str, Any]],
            higher_is_better: bool) -> Finding:
    """A chain: each setting of ``best_first`` beats the next one (e.g. quality falling with ε)."""
    return Finding(claim, tuple(Comparison(table, metric, a, b, higher_is_better)
                                for a, b in zip(best_first, best_first[1:])))


def beats_all(claim: str, *, table: str, metric: str, winner: Mapping[str, Any],
              others: Sequence[Mapping[str, Any]], higher_is_better: bool) -> Finding:
    """``winner`` beats every one of ``others`` (e.g. the non-private model is best)."""
    return Finding(claim, tuple(Comparison(table, metric, winner, o, higher_is_better) for o in others))


def loses_to_all(claim: str, *, table: str, metric: str, loser: Mapping[str, Any],
                 others: Sequence[Mapping[str, Any]], higher_is_better: bool) -> Finding:
    """Every one of ``others`` beats ``loser`` (e.g. the lowest ε is worst)."""
    return Finding(claim, tuple(Comparison(table, metric, o, loser, higher_is_better) for o in others))


def _key(table: str, setting: Mapping[str, Any], metric: str) -> Tuple[str, str, str]:
    return table, json.dumps(dict(setting), sort_keys=True), metric


class MissingNumber(KeyError):
    """A finding compares a row the run has no finite number for (absent, null, NaN or infinite)."""


def _values(rows: Sequence[dict]) -> Dict[Tuple[str, str, str], float]:
    return {_key(r["table"], r["setting"], r["metric"]): float(r["ours"]) for r in rows
            if isinstance(r.get("ours"), (int, float)) and math.isfinite(r["ours"])}


def effects(finding: Finding, rows: Sequence[dict]) -> List[float]:
    """One run's signed effect per comparison (> 0: the paper's direction).

    Raises ``MissingNumber`` (a ``KeyError``) naming a row that is absent or not a finite number
    (a diverged model's NaN FID, written as null).
    """
    values = _values(rows)
    out = []
    for c in finding.comparisons:
        pair = []
        for setting in (c.better, c.worse):
            key = _key(c.table, setting, c.metric)
            if key not in values:
                raise MissingNumber(f"finding {finding.claim!r}: no number for {c.metric} of {setting_text(dict(setting))} "
                               f"in table {c.table!r} (absent or not finite)")
            pair.append(float(values[key]))
        out.append((pair[0] - pair[1]) if c.higher_is_better else (pair[1] - pair[0]))
    return out


def holds(finding: Finding, rows: Sequence[dict]) -> bool:
    """True when every comparison goes the paper's way in one run's rows (ties do not)."""
    return all(e > 0 for e in effects(finding, rows))


def t_quantile_95(dof: int) -> float:
    """One-sided 95 % quantile of Student's t with ``dof`` ≥ 1 degrees of freedom."""
    from scipy import stats

    if dof < 1:
        raise ValueError(f"need at least 1 degree of freedom (2 seeds), got {dof}")
    return float(stats.t.ppf(0.95, dof))


@dataclasses.dataclass(frozen=True)
class FindingOverSeeds:
    """A finding judged over n seeds.

    Attributes:
      claim: the finding's claim.
      seeds_holding / seeds: on how many of the seeds every comparison went the paper's way.
      mean_effects / sd_effects: per comparison, the mean and sample standard deviation of the paired effect.
      noise: per comparison, t(0.95, n − 1) · sd / √n.
      verdict: ``reproduced``, ``same direction, within the noise`` or ``not reproduced`` (also when a seed
        lacks a finite number for one of the rows: see ``missing``).
      comparisons: the comparisons, described.
      missing: the positions (0-based, in the order given) of the seeds without a finite number for some row.
    """

    claim: str
    seeds_holding: int
    seeds: int
    mean_effects: Tuple[float, ...]
    sd_effects: Tuple[float, ...]
    noise: Tuple[float, ...]
    verdict: str
    comparisons: Tuple[str, ...]
    missing: Tuple[int, ...] = ()


def over_seeds(finding: Finding, runs_rows: Sequence[Sequence[dict]]) -> FindingOverSeeds:
    """Judge ``finding`` on the rows of n ≥ 2 runs that differ only in their seed (see the module docstring)."""
    if len(runs_rows) < 2:
        raise ValueError(f"need the rows of at least 2 seeds, got {len(runs_rows)}")
    per_seed, missing = [], []
    for i, rows in enumerate(runs_rows):
        try:
            per_seed.append(effects(finding, rows))
        except MissingNumber:
            missing.append(i)
    described = tuple(c.describe() for c in finding.comparisons)
    if missing:  # a seed whose model diverged (NaN) or lacks the row: the claim is not shown on it
        nan = tuple(math.nan for _ in finding.comparisons)
        return FindingOverSeeds(claim=finding.claim, seeds_holding=sum(all(e > 0 for e in s) for s in per_seed),
                                seeds=len(runs_rows), mean_effects=nan, sd_effects=nan, noise=nan,
                                verdict=NOT_REPRODUCED, comparisons=described, missing=tuple(missing))
    n = len(per_seed)
    t = t_quantile_95(n - 1)
    means, sds, noise, verdicts = [], [], [], []
    for column in zip(*per_seed):
        mean, sd = statistics.fmean(column), statistics.stdev(column)
        means.append(mean)
        sds.append(sd)
        noise.append(t * sd / math.sqrt(n))
        verdicts.append(verdict(mean, noise=noise[-1]))
    overall = next((v for v in (NOT_REPRODUCED, WITHIN_NOISE) if v in verdicts), REPRODUCED)
    return FindingOverSeeds(claim=finding.claim, seeds_holding=sum(all(e > 0 for e in s) for s in per_seed),
                            seeds=n, mean_effects=tuple(means), sd_effects=tuple(sds), noise=tuple(noise),
                            verdict=overall, comparisons=described)


def findings_lines(findings: Sequence[dict], rows: Sequence[dict]) -> List[str]:
    """One line per stored finding for a single run's report: holds or not, with each effect."""
    lines = []
    for obj in findings:
        finding = Finding.from_dict(obj)
        try:
            got = effects(finding, rows)
        except MissingNumber as err:
            lines.append(f"{finding.claim}: cannot be judged ({err.args[0].split(': ', 1)[-1]})")
            continue
        failed = [c.describe() for c, e in zip(finding.comparisons, got) if not e > 0]
        lines.append(f"{finding.claim}: " + (f"holds ({len(got)} of {len(got)} comparisons)" if not failed else
                                             f"does not hold ({len(got) - len(failed)} of {len(got)} comparisons; "
                                             "not: " + "; ".join(failed) + ")"))
    return lines
