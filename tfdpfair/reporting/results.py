"""Results of one reproduction run: the results.json schema (DESIGN.md), its check, CSV and Markdown.

Strict JSON: a number that is infinite or undefined is written as ``null``. In a
``privacy`` entry, ``epsilon: null`` / ``epsilon_classic: null`` mean "unbounded": the
setting added no noise (σ = 0), so no finite ε holds.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Optional

RESULTS_KEYS = {"paper": str, "preset": str, "seed": int, "data_source": str, "privacy": list, "rows": list,
                "wall_seconds": (int, float)}
PRIVACY_KEYS = {"setting": str, "epsilon": (int, float), "epsilon_classic": (int, float), "delta": (int, float),
                "noise_multiplier": (int, float), "sampling_rate": (int, float), "steps": int, "accounting": str}
ROW_KEYS = {"table": str, "setting": dict, "metric": str}
NULLABLE = {"epsilon", "epsilon_classic"}  # null: unbounded (no noise)
FINDING_KEYS = {"table", "metric", "better", "worse", "higher_is_better"}  # one comparison of a finding


@dataclasses.dataclass(frozen=True)
class ResultRow:
    """One number of a table: ours beside the paper's (None where the paper gives none)."""

    table: str
    setting: Dict[str, Any]
    metric: str
    ours: Optional[float]
    paper: Optional[float] = None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Results:
    """Everything results.json holds for one run.

    Attributes:
      paper: reproduction slug (e.g. ``dp_dcgan``).
      preset: ``smoke``, ``quick`` or ``paper``.
      seed: the run's seed.
      data_source: where the data came from (``npz:mnist.npz``, ``embedded:mnist5k``, ...).
      privacy: one entry per private setting (``PrivacySpend.as_dict``).
      rows: the tables, one ``ResultRow`` per number.
      wall_seconds: wall-clock time of the run.
      sampling: ``shuffle`` (fixed-size batches of a reshuffled epoch) or ``poisson``.
      notes: free-text remarks for report.md (why a number differs, choices made).
      tables: extra tables for report.md, each {"title": str, "header": [str], "rows": [[value]]}
        (e.g. one row per training run); they are also kept in results.json.
      findings: the paper's qualitative claims as row comparisons (``tfdpfair.reporting.findings``,
        ``Finding.as_dict()``), judged on this run in report.md and over seeds by ``--seeds``.
    """

    paper: str
    preset: str
    seed: int
    data_source: str
    privacy: List[dict] = dataclasses.field(default_factory=list)
    rows: List[ResultRow] = dataclasses.field(default_factory=list)
    wall_seconds: float = 0.0
    sampling: str = "shuffle"
    notes: List[str] = dataclasses.field(default_factory=list)
    tables: List[dict] = dataclasses.field(default_factory=list)
    findings: List[dict] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict:
        """The results.json object (strict JSON: non-finite numbers become null)."""
        from tfdpfair.reporting.files import json_safe

        out = dataclasses.asdict(self)
        out["rows"] = [r.as_dict() for r in self.rows]
        return json_safe(out)


def _check_keys(obj: Any, spec: dict, where: str, nullable=frozenset()) -> List[str]:
    if not isinstance(obj, dict):
        return [f"{where} must be an object, got {type(obj).__name__}"]
    problems = []
    for key, types in spec.items():
        if key not in obj:
            problems.append(f"{where} lacks {key!r}")
        elif obj[key] is None and key in nullable:
            continue
        elif isinstance(obj[key], bool) or not isinstance(obj[key], types):
            problems.append(f"{where}.{key} has type {type(obj[key]).__name__}")
    return problems


def validate_results(obj: dict) -> None:
    """Raise ``ValueError`` listing every way ``obj`` departs from the results.json schema."""
    problems = _check_keys(obj, RESULTS_KEYS, "results")
    for i, entry in enumerate(obj.get("privacy", []) if isinstance(obj, dict) else []):
        problems += _check_keys(entry, PRIVACY_KEYS, f"privacy[{i}]", NULLABLE)
        if isinstance(entry, dict) and isinstance(entry.get("delta"), (int, float)) and not 0 < entry["delta"] < 1:
            problems.append(f"privacy[{i}].delta is not in (0, 1)")
    for i, row in enumerate(obj.get("rows", []) if isinstance(obj, dict) else []):
        problems += _check_keys(row, ROW_KEYS, f"rows[{i}]")
        for key in ("ours", "paper"):
            if isinstance(row, dict) and (key not in row or not (row[key] is None or isinstance(row[key], (int, float)))):
                problems.append(f"rows[{i}].{key} must be a number or null")
    findings = obj.get("findings", []) if isinstance(obj, dict) else []  # optional: older runs have none
    if not isinstance(findings, list):
        problems.append("findings must be a list")
        findings = []
    for i, finding in enumerate(findings):
        comparisons = finding.get("comparisons") if isinstance(finding, dict) else None
        if not (isinstance(finding, dict) and isinstance(finding.get("claim"), str) and isinstance(comparisons, list)
                and comparisons and all(isinstance(c, dict) and set(c) == FINDING_KEYS
                                        and isinstance(c["better"], dict) and isinstance(c["worse"], dict)
                                        for c in comparisons)):
            problems.append(f"findings[{i}] must be {{claim: str, comparisons: [{{{', '.join(sorted(FINDING_KEYS))}}}]}}")
    if problems:
        raise ValueError("results.json does not match the schema: " + "; ".join(problems))


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if math.isinf(value):
            return "∞"
        return f"{value:.4g}"
    return str(value)


def setting_text(setting: dict) -> str:
    """A row's setting as the tables print it: ``privacy=DP, techniques=BL`` (``—`` when empty)."""
    return ", ".join(f"{k}={_fmt(v)}" for k, v in setting.items()) or "—"


def markdown_table(header: List[str], body: List[List[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def rows_markdown(rows: List[ResultRow]) -> str:
    """One Markdown table per ``table`` name, with ``ours`` beside ``paper``."""
    parts = []
    for table in dict.fromkeys(r.table for r in rows):
        body = [[setting_text(r.setting), r.metric, r.ours, r.paper] for r in rows if r.table == table]
        parts.append(f"### {table}\n\n" + markdown_table(["setting", "metric", "ours", "paper"], body))
    return "\n\n".join(parts)


def privacy_markdown(privacy: List[dict]) -> str:
    header = ["setting", "ε (tight)", "ε (classic)", "δ", "σ", "q", "steps", "accounting"]
    def eps(value):
        return "∞ (no noise)" if value is None or value == math.inf else value

    body = [[p["setting"], eps(p["epsilon"]), eps(p["epsilon_classic"]), p["delta"], p["noise_multiplier"],
             p["sampling_rate"], p["steps"], p["accounting"]] for p in privacy]
    return markdown_table(header, body)


def results_csv_rows(results: Results) -> List[dict]:
    """Flat rows for results.csv: one per number, settings as ``setting.<key>`` columns."""
    out = []
    for r in results.rows:
        flat = {"paper_slug": results.paper, "preset": results.preset, "seed": results.seed, "table": r.table,
                "metric": r.metric, "ours": r.ours, "paper": r.paper}
        flat.update({f"setting.{k}": v for k, v in r.setting.items()})
        out.append(flat)
    return out


def report_markdown(results: Results, *, title: str, figures: List[str] = ()) -> str:
    """The whole report.md: run facts, privacy table, result tables beside the paper's, figures, notes."""
    parts = [
        f"# {title}",
        f"Preset `{results.preset}`, seed {results.seed}, data `{results.data_source}`, "
        f"batches: `{results.sampling}`, wall time {results.wall_seconds:.1f} s.",
    ]
    if results.privacy:
        parts.append("## Privacy\n\n" + privacy_markdown(results.privacy))
    if results.rows:
        parts.append("## Results (ours beside the paper's)\n\n" + rows_markdown(results.rows))
    for table in results.tables:
        parts.append(f"## {table['title']}\n\n" + markdown_table(list(table["header"]), table["rows"]))
    if results.findings:
        from tfdpfair.reporting.findings import findings_lines

        lines = findings_lines(results.findings, [r.as_dict() for r in results.rows])
        parts.append("## Findings (this seed)\n\nThe paper's claims as comparisons of the rows above, on this one "
                     "seed: one draw of the training randomness, not evidence; `--seeds 0,1,2` judges them beyond "
                     "the seed spread.\n\n" + "\n".join(f"- {line}" for line in lines))
    if figures:
        parts.append("## Figures\n\n" + "\n".join(f"![{f}]({f})" for f in figures))
    if results.notes:
        parts.append("## Notes\n\n" + "\n".join(f"- {n}" for n in results.notes))
    return "\n\n".join(parts) + "\n"
