"""Reporting: results.json / CSV / report.md with paper columns, figures, the run folder."""
from tfdpfair.reporting.files import write_json
from tfdpfair.reporting.output import save_figure, write_results
from tfdpfair.reporting.results import ResultRow, Results, report_markdown, rows_markdown, validate_results
from tfdpfair.reporting.rundir import MARKER, OutputDirError, RunDir

__all__ = ["MARKER", "OutputDirError", "ResultRow", "Results", "RunDir", "report_markdown", "rows_markdown",
           "save_figure", "validate_results", "write_json", "write_results"]
