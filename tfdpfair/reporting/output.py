"""Writing a run's results: results.json, results.csv, report.md and figures/*.png, each file atomically.

The folder itself (claimed, locked, swapped in on success) is ``tfdpfair.reporting.rundir``.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Dict, List, Optional

from tfdpfair.reporting.files import atomic_path, write_json, write_text
from tfdpfair.reporting.results import Results, report_markdown, results_csv_rows, validate_results
from tfdpfair.reporting.rundir import OutputDirError  # noqa: F401  (re-exported)


def save_figure(fig, path: Path, *, dpi: int = 120) -> None:
    """Save a matplotlib figure as PNG, atomically."""
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")


def write_results(out: Path, results: Results, *, title: str, figures: Optional[Dict[str, object]] = None) -> List[Path]:
    """Write results.json (checked against the schema), results.csv, report.md and figures/*.png, each atomically."""
    out = Path(out)
    figure_names = []
    if figures:
        (out / "figures").mkdir(exist_ok=True)
        for name, fig in figures.items():
            save_figure(fig, out / "figures" / f"{name}.png")
            figure_names.append(f"figures/{name}.png")
    payload = results.to_dict()
    validate_results(payload)
    write_json(out / "results.json", payload)
    rows = results_csv_rows(results)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / "results.csv", text.getvalue())
    write_text(out / "report.md", report_markdown(results, title=title, figures=figure_names))
    return [out / "results.json", out / "results.csv", out / "report.md"] + [out / f for f in figure_names]
