"""The report (tables, headline, figures, slides) from run directories."""

import matplotlib

matplotlib.use("Agg")  # files only, never a window: before any module imports pyplot

from genbench.reports.writer import ReportError, collect, write_report  # noqa: E402

__all__ = ["ReportError", "collect", "write_report"]
