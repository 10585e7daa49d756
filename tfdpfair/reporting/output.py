"""The run folder: never overwritten silently; writes config.json, results.json, results.csv, report.md, figures."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Dict, List, Optional

from tfdpfair.reporting.results import Results, report_markdown, results_csv_rows, validate_results

RUN_FILES = ("config.json", "results.json", "results.csv", "report.md")


class OutputDirError(RuntimeError):
    """The output folder cannot be used as asked (e.g. --resume with nothing to resume)."""


def _has_run(path: Path) -> bool:
    """A folder holds a run once it has results or checkpoints (a config.json alone is a run that failed to start)."""
    return path.is_dir() and any((path / name).exists() for name in ("results.json", "report.md", "checkpoints"))


def prepare_output_dir(out: Path, *, overwrite: bool = False, resume: bool = False) -> Path:
    """The folder this run writes to.

    * ``resume``: ``out`` itself, which must hold an earlier run's checkpoints;
    * ``overwrite``: ``out``, emptied of an earlier run's files first;
    * otherwise ``out`` if it holds no run yet, else the first free ``out-run2``, ``out-run3``, ...
      so an earlier run is never silently overwritten.
    """
    out = Path(out)
    if resume:
        if not (out / "checkpoints").is_dir():
            raise OutputDirError(f"--resume: {out}/checkpoints does not exist; run without --resume first")
        return out
    if _has_run(out):
        if overwrite:
            for name in RUN_FILES:
                (out / name).unlink(missing_ok=True)
            for name in ("figures", "checkpoints"):
                shutil.rmtree(out / name, ignore_errors=True)
        else:
            n = 2
            while _has_run(out.with_name(f"{out.name}-run{n}")):
                n += 1
            out = out.with_name(f"{out.name}-run{n}")
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_json(path: Path, obj) -> None:
    Path(path).write_text(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def write_results(out: Path, results: Results, *, title: str, figures: Optional[Dict[str, object]] = None) -> List[Path]:
    """Write results.json (checked against the schema), results.csv, report.md and figures/*.png."""
    out = Path(out)
    figure_names = []
    if figures:
        (out / "figures").mkdir(exist_ok=True)
        for name, fig in figures.items():
            fig.savefig(out / "figures" / f"{name}.png", dpi=120, bbox_inches="tight")
            figure_names.append(f"figures/{name}.png")
    payload = results.to_dict()
    validate_results(payload)
    write_json(out / "results.json", payload)
    rows = results_csv_rows(results)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    (out / "report.md").write_text(report_markdown(results, title=title, figures=figure_names))
    return [out / "results.json", out / "results.csv", out / "report.md"] + [out / f for f in figure_names]
