"""slides.pdf: a 16:9 deck, one figure per page under a title, with a takeaway of whole
sentences; and tables drawn for it, split over pages where they are too wide or too long."""

from __future__ import annotations

import io
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine, TightLayoutEngine
from matplotlib.patches import Rectangle
from matplotlib.transforms import Affine2D

from genbench.io import atomic_write_bytes
from genbench.reports.style import SLIDE, pieces, text_width, wrap
from genbench.reports.table import Table

TITLE_PT, TAKEAWAY_PT = 28, 18  # projector sizes on a 13.33 in page
TAKEAWAY_SIZES, TAKEAWAY_LINES = (18, 16, 14), 3  # what fits in the takeaway's band
TABLE_SIZES = (18, 16, 14)  # a table takes the largest that fits its page
PITCH, PAD_X, PAD_Y = 1.25, 0.5, 0.3  # line pitch and cell padding, in em
GAP = 6  # points between the page's edge, the title or takeaway, and the figure
# Points kept clear at the left of a figure: a rotated y label's glyphs sit within a few
# points of the edge, and its font box (what a reader of the PDF sees) reaches further out.
LEFT_PAD = 12
PAGE = (SLIDE[0] * 72, SLIDE[1] * 72)  # points
MARGIN = 22  # points of page left clear at each side of a line of text or a table
WIDTH = PAGE[0] - 2 * MARGIN  # points of a line across the page
# The most the title (top) and the takeaway (bottom) take: tables, placed by hand, keep out.
TITLE_BAND = TITLE_PT * PITCH + 2 * GAP
TAKEAWAY_BAND = TAKEAWAY_LINES * TAKEAWAY_SIZES[0] * PITCH + 2 * GAP
HEIGHT = PAGE[1] - TITLE_BAND - TAKEAWAY_BAND  # points of table height
Page = tuple[list[int], list[int]]  # a table's columns (after the index) and rows on a page


class Deck:
    """Pages are added as figures are drawn; `write` puts the deck in place atomically."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._pdf = PdfPages(self._buffer, metadata={"CreationDate": None})
        self.titles: list[str] = []

    def add(self, fig: Figure, title: str, takeaway: str) -> None:
        """Add `fig` as a page (it gains the title and the takeaway: save it first)."""
        heading, title_size = fit_title(title)
        lines, size = fit_takeaway(takeaway) if takeaway else ([], TAKEAWAY_PT)
        top = len(heading) * title_size * PITCH + 2 * GAP
        bottom = len(lines) * size * PITCH + 2 * GAP if lines else GAP
        engine = fig.get_layout_engine()
        if isinstance(engine, ConstrainedLayoutEngine | TightLayoutEngine):
            # The figure keeps out of the title's and takeaway's bands (as tables do):
            # constrained layout would place a suptitle and figure legends over each other.
            # (constrained layout's rect is left, bottom, width, height; tight layout's
            # left, bottom, right, top): a pad at both sides, for a tick label at the edge
            side, low, high = LEFT_PAD / PAGE[0], bottom / PAGE[1], 1 - top / PAGE[1]
            engine.set(rect=(side, low, 1 - 2 * side, high - low)
                       if isinstance(engine, ConstrainedLayoutEngine) else
                       (side, low, 1 - side, high))
        fig.text(0.5, 1 - GAP / PAGE[1], "\n".join(heading), ha="center", va="top",
                 fontsize=title_size, fontweight="bold", linespacing=PITCH)
        if lines:
            fig.text(0.5, GAP / PAGE[1], "\n".join(lines), ha="center", va="bottom",
                     fontsize=size, color="#333333", linespacing=PITCH)
        self._pdf.savefig(fig)
        self.titles.append(title)

    def write(self, path: Path) -> None:
        self._pdf.close()
        atomic_write_bytes(path, self._buffer.getvalue())


def fit_title(title: str) -> tuple[list[str], float]:
    """(lines, font size) of the title: one line at the largest size that fits the page's
    width (a table below it keeps out of one title line's band), else wrapped."""
    for size in (TITLE_PT, 0.85 * TITLE_PT, 0.7 * TITLE_PT):
        heading = wrap(title, WIDTH, size, bold=True)
        if len(heading) == 1:
            return heading, size
    return heading, size


def fit_takeaway(text: str) -> tuple[list[str], float]:
    """(lines, font size) of the takeaway: wrapped to the page at the largest size that
    keeps it within its band, else its first whole sentences that fit; a first sentence too
    long for the band is wrapped whole at the smallest size, never cut."""
    sentences = re.split(r"(?<=[.;!?])\s+(?=[A-Z])", text.strip())
    for count in range(len(sentences), 0, -1):
        for size in TAKEAWAY_SIZES:
            lines = wrap(" ".join(sentences[:count]), WIDTH, size)
            if len(lines) <= TAKEAWAY_LINES:
                return lines, size
    return wrap(sentences[0], WIDTH, TAKEAWAY_SIZES[-1]), TAKEAWAY_SIZES[-1]


class _Layout:
    """A table's cells wrapped at one font size: column widths (of text) and lines."""

    def __init__(self, grid: list[list[str]], bold: np.ndarray, size: float) -> None:
        self.grid, self.size, self.bold = grid, size, bold
        columns = list(zip(*grid, strict=True))
        self.natural = [max(text_width(s, size, b) for s, b in zip(c, bold[:, j], strict=True))
                        for j, c in enumerate(columns)]
        # A header may break anywhere between words ('[classifier, n=200]' too), a cell only
        # between its pieces: a header's third line costs less than a cell's second.
        self.least = [max(text_width(p, size, b)
                          for i, (s, b) in enumerate(zip(c, bold[:, j], strict=True))
                          for p in (s.split(" ") if i == 0 else pieces(s) or [""]))
                      for j, c in enumerate(columns)]
        self._wrap(self._cap(WIDTH - len(columns) * 2 * PAD_X * size))
        self.heights = [(max(len(c) for c in row) * PITCH + 2 * PAD_Y) * size
                        for row in self.lines]

    def _wrap(self, cap: float) -> float:
        """Wrap every column at `cap` (or its natural width, or its widest piece); returns
        the text width the columns take."""
        caps = [max(a, min(n, cap)) for n, a in zip(self.natural, self.least, strict=True)]
        self.lines = [[wrap(s, c, self.size, b) for s, c, b in zip(row, caps, self.bold[i],
                                                                   strict=True)]
                      for i, row in enumerate(self.grid)]
        self.widths = [max(text_width("\n".join(row[j]), self.size, self.bold[i, j])
                           for i, row in enumerate(self.lines)) for j in range(len(caps))]
        return sum(self.widths)

    def _cap(self, room: float) -> float:
        """The widest cap on column widths at which the wrapped columns fit `room` (wrapped
        lines end short of the cap: measuring them, not the caps, wraps fewer cells)."""
        low, high = 0.0, max(self.natural)
        if self._wrap(high) <= room:
            return high
        for _ in range(20):  # to a fraction of a point
            cap = (low + high) / 2
            low, high = (cap, high) if self._wrap(cap) <= room else (low, cap)
        return low

    def fits(self, tall: bool = True) -> bool:
        width = sum(self.widths) + len(self.widths) * 2 * PAD_X * self.size
        return width <= WIDTH + 0.5 and (not tall or sum(self.heights) <= HEIGHT)


def _grid(table: Table, page: Page | None) -> tuple[list[list[str]], np.ndarray]:
    """The page's cells as text (header first, then the index column first) and which of
    them are bold: the header and the best cells."""
    cells = table.cells.reset_index()
    columns, rows = page or (list(range(table.cells.shape[1])), list(range(len(cells))))
    keep = [0] + [c + 1 for c in columns]
    grid = [[str(cells.columns[j]) for j in keep]] + [[str(cells.iat[r, j]) for j in keep]
                                                      for r in rows]
    bold = np.zeros((len(grid), len(keep)), dtype=bool)
    bold[0] = True
    bold[1:, 1:] = table.best.iloc[rows, columns].to_numpy(dtype=bool)
    return grid, bold


def _layout(table: Table, page: Page) -> _Layout:
    """The page at the largest size that fits it (else the smallest)."""
    grid, bold = _grid(table, page)
    layouts = (_Layout(grid, bold, size) for size in TABLE_SIZES)
    return next((a for a in layouts if a.fits()), None) or _Layout(grid, bold, TABLE_SIZES[-1])


def table_pages(table: Table) -> list[Page]:
    """The pages `table` takes: one when it fits; else its columns in the fewest even parts
    that fit the page's width (the index column on each), each part's rows likewise."""
    def parts(count: int, k: int) -> list[list[int]]:
        return [[int(i) for i in p] for p in np.array_split(np.arange(count), k)]

    grid, _ = _grid(table, None)
    rows = list(range(len(grid) - 1))
    ncols = len(grid[0]) - 1
    for k in range(1, max(ncols, 1) + 1):
        columns = parts(ncols, k)
        if all(_Layout(*_grid(table, (c, rows)), TABLE_SIZES[-1]).fits(tall=False)
               for c in columns):
            break
    pages = []
    for c in columns:
        for k in range(1, max(len(rows), 1) + 1):
            split = parts(len(rows), k)
            if all(_Layout(*_grid(table, (c, r)), TABLE_SIZES[-1]).fits() for r in split):
                break
        pages += [(c, r) for r in split]
    return pages


def table_figure(table: Table, page: Page | None = None) -> Figure:
    """A table (or the part `page` of it) drawn for a slide, centred between the title's and
    the takeaway's bands: long cells wrap, the header and the best cells in bold, best cells
    shaded. Placed in points, so no layout engine can squeeze text into its neighbour."""
    layout = _layout(table, page or table_pages(table)[0])
    size, widths, heights = layout.size, layout.widths, layout.heights
    fig = plt.figure(figsize=SLIDE)
    points = Affine2D().scale(1 / 72) + fig.dpi_scale_trans
    spans = [w + 2 * PAD_X * size for w in widths]
    left = (PAGE[0] - sum(spans)) / 2
    y = PAGE[1] - TITLE_BAND - (HEIGHT - sum(heights)) / 2
    for i, (row, height) in enumerate(zip(layout.lines, heights, strict=True)):
        x = left
        for j, (cell, span) in enumerate(zip(row, spans, strict=True)):
            if i and layout.bold[i, j]:
                fig.add_artist(Rectangle((x, y - height), span, height, transform=points,
                                         facecolor="#e6f4ea", edgecolor="none"))
            align = "left" if j == 0 else "center"
            fig.text(x + (PAD_X * size if j == 0 else span / 2), y - height / 2,
                     "\n".join(cell), transform=points, ha=align, va="center",
                     multialignment=align, fontsize=size, linespacing=PITCH,
                     fontweight="bold" if layout.bold[i, j] else "normal")
            x += span
        _rule(fig, points, left, sum(spans), y, 1.5 if i < 2 else 0.5)
        y -= height
    _rule(fig, points, left, sum(spans), y, 1.5)
    return fig


def _rule(fig: Figure, points: Affine2D, left: float, width: float, y: float,
          weight: float) -> None:
    fig.add_artist(plt.Line2D([left, left + width], [y, y], transform=points, color="#333333",
                              linewidth=weight))
