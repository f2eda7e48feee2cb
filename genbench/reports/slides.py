"""slides.pdf: a 16:9 deck, one figure per page under a title, with a one-line takeaway."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from genbench.io import atomic_write_bytes

TITLE_PT, TAKEAWAY_PT = 28, 18  # projector sizes on a 13.33 in page


class Deck:
    """Pages are added as figures are drawn; `write` puts the deck in place atomically."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._pdf = PdfPages(self._buffer, metadata={"CreationDate": None})
        self.titles: list[str] = []

    def add(self, fig: Figure, title: str, takeaway: str) -> None:
        """Add `fig` as a page (it gains the title and the takeaway: save it first)."""
        fig.suptitle(title, fontsize=TITLE_PT, fontweight="bold")
        if takeaway:
            fig.supxlabel("\n".join(textwrap.wrap(takeaway, 90)[:2]), fontsize=TAKEAWAY_PT,
                          color="#333333")
        self._pdf.savefig(fig)
        self.titles.append(title)

    def write(self, path: Path) -> None:
        self._pdf.close()
        atomic_write_bytes(path, self._buffer.getvalue())
