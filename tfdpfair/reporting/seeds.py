"""Runs of one reproduction that differ only in ``--seed``, gathered: each number's median and range.

Papers report the median (or mean) of several training runs; one run of ours is one
seed. Run the script once per seed (each run its own folder, e.g. on a job array), then
``tfdpfair seeds DIR DIR ...`` (or ``combine_seeds``) puts the median over seeds beside
the paper's number, with the lowest and highest value: a number whose range holds the
paper's is within the run-to-run variation; one whose range does not is not. The runs
must be finished and the same experiment: same script, preset, resolved config and
privacy spend, distinct seeds — anything else is refused with the first difference.
"""
from __future__ import annotations

import dataclasses
import json
import math
import statistics
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from tfdpfair.errors import InputError
from tfdpfair.reporting.results import setting_text, markdown_table, privacy_markdown, validate_results
from tfdpfair.reporting.rundir import MARKER

# config.json entries that may differ between the seeds of one experiment (where the data was read from).
_MAY_DIFFER = ("seed", "data_dir", "data_dir_resolved", "overrides")


@dataclasses.dataclass(frozen=True)
class StoredRun:
    """One finished run folder: its ``results.json`` and ``config.json`` as dicts."""

    folder: Path
    results: Dict[str, Any]
    config: Dict[str, Any]


@dataclasses.dataclass(frozen=True)
class SeedRow:
    """One number of a table over seeds.

    Attributes:
      table / setting / metric: as in ``ResultRow``.
      median / low / high: median, minimum and maximum of ``ours`` over the seeds that have it.
      mean / std: their mean and sample standard deviation (0 with one seed).
      seeds: how many seeds have the number (runs with ``ours: null`` do not count).
      paper: the paper's number, or None.
    """

    table: str
    setting: Dict[str, Any]
    metric: str
    median: float
    low: float
    high: float
    seeds: int
    paper: Optional[float]
    mean: float = math.nan
    std: float = math.nan

    @property
    def paper_in_range(self) -> Optional[bool]:
        """Whether the paper's number lies within [low, high]; None without a paper number or with one seed."""
        if self.paper is None or self.seeds < 2:
            return None
        return self.low <= self.paper <= self.high


def load_run(folder: Path) -> StoredRun:
    """Read a finished run folder; ``InputError`` when it is not one."""
    folder = Path(folder)
    if not (folder / MARKER).is_file():
        raise InputError(f"{folder} is not a finished run (no {MARKER}): finish it with --resume, or leave it out")
    try:
        results = json.loads((folder / "results.json").read_text())
        config = json.loads((folder / "config.json").read_text())
        validate_results(results)
    except (OSError, ValueError) as err:
        raise InputError(f"{folder}: cannot read its results.json / config.json ({err})") from None
    return StoredRun(folder=folder, results=results, config=config)


def _first_difference(a: Any, b: Any, where: str = "") -> Optional[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if where == "" and key in _MAY_DIFFER:
                continue
            found = _first_difference(a.get(key), b.get(key), f"{where}.{key}" if where else key)
            if found:
                return found
        return None
    return None if a == b else f"{where} ({a!r} vs {b!r})"


def check_same_experiment(runs: Sequence[StoredRun]) -> None:
    """``InputError`` unless the runs are ≥ 2 seeds of one experiment (same config and privacy, distinct seeds)."""
    if len(runs) < 2:
        raise InputError(f"give at least two run folders (got {len(runs)}): one per seed")
    first = runs[0]
    seeds = [r.results["seed"] for r in runs]
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise InputError(f"seed {repeated[0]} appears more than once: each run must have its own --seed")
    for run in runs[1:]:
        found = _first_difference(first.config, run.config)
        if found:
            raise InputError(f"{run.folder} is not the same experiment as {first.folder}: config {found}")
        if run.results["privacy"] != first.results["privacy"]:
            raise InputError(f"{run.folder} spent other privacy than {first.folder} (its privacy table differs)")


def _key(row: dict) -> Tuple[str, str, str]:
    return row["table"], json.dumps(row["setting"], sort_keys=True), row["metric"]


def combine_seeds(runs: Sequence[StoredRun]) -> List[SeedRow]:
    """Every number of the runs' tables over seeds, in the first run's order (numbers only some runs have: after).

    Raises ``InputError`` (``check_same_experiment``) when the runs are not seeds of one experiment.
    """
    check_same_experiment(runs)
    rows: Dict[Tuple[str, str, str], dict] = {}
    values: Dict[Tuple[str, str, str], List[float]] = {}
    for run in runs:
        for row in run.results["rows"]:
            key = _key(row)
            rows.setdefault(key, row)
            if row["ours"] is not None:
                values.setdefault(key, []).append(float(row["ours"]))
    out = []
    for key, row in rows.items():
        got = values.get(key, [])
        if not got:
            continue
        out.append(SeedRow(table=row["table"], setting=row["setting"], metric=row["metric"],
                           median=statistics.median(got), low=min(got), high=max(got), seeds=len(got),
                           paper=row["paper"], mean=statistics.fmean(got),
                           std=statistics.stdev(got) if len(got) > 1 else 0.0))
    return out


def judge_findings(runs: Sequence[StoredRun]) -> list:
    """The first run's stored findings judged over all the runs (``tfdpfair.reporting.findings.over_seeds``)."""
    from tfdpfair.reporting.findings import Finding, over_seeds

    return [over_seeds(Finding.from_dict(f), [r.results["rows"] for r in runs])
            for f in runs[0].results.get("findings", [])]


def _mean_std(row: SeedRow) -> str:
    return f"{row.mean:.4g} ± {row.std:.2g}" if row.seeds > 1 else f"{row.mean:.4g} (one seed)"


def seeds_markdown(runs: Sequence[StoredRun], rows: Sequence[SeedRow]) -> str:
    """A report: the runs, their (shared) privacy spend, per table the mean ± std and median / range over seeds
    beside the paper's, and the stored findings judged over the seeds."""
    first = runs[0].results
    seeds = ", ".join(str(r.results["seed"]) for r in runs)
    parts = [f"# {first['paper']}, preset `{first['preset']}`: {len(runs)} seeds ({seeds})",
             "Each number is the mean ± sample standard deviation over the seeds that have it, then its median, "
             "lowest and highest value; 'paper in range' says whether the paper's number lies within them (a "
             "range from a few seeds is narrow: 'no' with 3 seeds is weak evidence).",
             "## Runs\n\n" + markdown_table(["folder", "seed", "data", "wall time (s)"],
                                            [[str(r.folder), r.results["seed"], r.results["data_source"],
                                              round(r.results["wall_seconds"], 1)] for r in runs])]
    if first["privacy"]:
        parts.append("## Privacy (every seed)\n\n" + privacy_markdown(first["privacy"]))
    judged = judge_findings(runs)
    if judged:
        seeds_of = [r.results["seed"] for r in runs]
        body = [[j.claim, j.verdict, f"{j.seeds_holding} of {j.seeds}",
                 "no finite number on seed " + ", ".join(str(seeds_of[i]) for i in j.missing) if j.missing else
                 "; ".join(f"{c}: {m:+.3g} (noise {n:.2g})" for c, m, n in zip(j.comparisons, j.mean_effects, j.noise))]
                for j in judged]
        parts.append("## Findings over seeds\n\n"
                     "'reproduced' only when, for every comparison, the one-sided 95 % lower bound of the mean "
                     "paired per-seed effect is above 0 (the mean exceeds its noise, t · sd / √n); "
                     "'holds on' counts the seeds on which every comparison went the paper's way.\n\n"
                     + markdown_table(["finding", "verdict", "holds on", "mean effect per comparison (noise)"], body))
    for table in dict.fromkeys(r.table for r in rows):
        body = [[setting_text(r.setting), r.metric, _mean_std(r), r.median, r.low, r.high, r.seeds, r.paper,
                 {None: "—", True: "yes", False: "no"}[r.paper_in_range]] for r in rows if r.table == table]
        parts.append(f"### {table}\n\n" + markdown_table(
            ["setting", "metric", "mean ± std", "median", "low", "high", "seeds", "paper", "paper in range"], body))
    return "\n\n".join(parts) + "\n"


def seeds_dict(runs: Sequence[StoredRun], rows: Sequence[SeedRow]) -> dict:
    """The same report as one JSON-ready object: runs, privacy, rows over seeds, findings judged over seeds."""
    from tfdpfair.reporting.files import json_safe

    return json_safe({
        "paper": runs[0].results["paper"], "preset": runs[0].results["preset"],
        "runs": [{"folder": str(r.folder), "seed": r.results["seed"]} for r in runs],
        "privacy": runs[0].results["privacy"],
        "rows": [dataclasses.asdict(r) | {"paper_in_range": r.paper_in_range} for r in rows],
        "findings": [dataclasses.asdict(j) for j in judge_findings(runs)]})
