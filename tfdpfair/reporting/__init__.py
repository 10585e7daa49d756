"""Reporting: results.json / CSV / report.md with paper columns, figures, the run folder."""
from tfdpfair.reporting.output import OutputDirError, prepare_output_dir, write_json, write_results
from tfdpfair.reporting.results import ResultRow, Results, report_markdown, rows_markdown, validate_results

__all__ = ["OutputDirError", "ResultRow", "Results", "prepare_output_dir", "report_markdown", "rows_markdown",
           "validate_results", "write_json", "write_results"]
