"""The report (tables, headline, figures, slides) from run directories."""

from genbench.reports.writer import ReportError, collect, write_report

__all__ = ["ReportError", "collect", "write_report"]
