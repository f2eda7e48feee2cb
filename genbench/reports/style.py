"""One look for every figure: 16:9 pages, projector-size fonts, a fixed colour per model.

Every figure is drawn once, at the size of a widescreen slide (13.33 x 7.5 in) with
seaborn's "talk" fonts (labels 18 pt), and saved as a 300-dpi PNG and a PDF; the HTML report
embeds a smaller rendering of the same figure.
"""

from __future__ import annotations

import io
import math
import re
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.font_manager import FontProperties

from genbench import models
from genbench.io import atomic_write_bytes

SLIDE = (13.333, 7.5)  # inches: the 16:9 widescreen page of presentation software
SLIDE_DPI = 200
HTML_DPI = 96  # 1280 x 720 pixels: sharp in the report's column, light to embed
# Where a line may break: not inside brackets or parentheses, nor between a value and its
# '± std' or its unit ('4.27 [3.90, 4.61]' breaks before '[', '1.2 ± 0.1' and '45 s' never).
_PIECE = re.compile(r"\S+ ± \S+|\S*\[[^\]]*\]\S*|\S*\([^)]*\)\S*|\S*\d (?:s|ms|img)\b\S*|\S+")


@contextmanager
def theme():
    """seaborn's whitegrid style with "talk" font sizes, for the figures drawn inside."""
    rc = {**sns.axes_style("whitegrid"), **sns.plotting_context("talk"),
          "figure.figsize": SLIDE, "savefig.facecolor": "white"}
    with matplotlib.rc_context(rc):
        yield


def palette(names: list[str]) -> dict[str, tuple]:
    """Registry models keep one colour everywhere; suite variants get the next ones."""
    order = models.available() + sorted(set(names) - set(models.available()))
    colours = sns.color_palette("tab10", 10) + sns.color_palette("Set2", 8)
    return {name: colours[i % len(colours)] for i, name in enumerate(order)}


def grid_shape(n: int, aspect: float = 1.0) -> tuple[int, int]:
    """(rows, columns) of n panels of width/height `aspect` that makes them largest on a
    16:9 page."""
    width, height = SLIDE[0], SLIDE[1] * 0.85

    def size(cols: int) -> float:
        return min(width / cols, height / math.ceil(n / cols) * aspect)

    cols = max(range(1, n + 1), key=size)
    return math.ceil(n / cols), cols


def panels(n: int, aspect: float = 1.0, **subplot_kw) -> tuple[plt.Figure, list[plt.Axes]]:
    """A 16:9 figure with n panels (spare grid cells hidden)."""
    rows, cols = grid_shape(n, aspect)
    fig = plt.figure(figsize=SLIDE, layout="constrained")
    axes = list(fig.subplots(rows, cols, squeeze=False, **subplot_kw).flat)
    for ax in axes[n:]:
        ax.axis("off")
    return fig, axes[:n]


def save(fig: plt.Figure, directory: Path, name: str) -> tuple[Path, bytes]:
    """NAME.png (16:9, 200 dpi, for slides) and NAME.pdf (papers) in `directory`; returns the
    PNG's path and a smaller PNG rendering for the HTML report."""
    png = directory / f"{name}.png"
    for path, fmt, dpi in ((png, "png", SLIDE_DPI), (directory / f"{name}.pdf", "pdf", None)):
        atomic_write_bytes(path, render(fig, fmt, dpi))
    return png, render(fig, "png", HTML_DPI)


def render(fig: plt.Figure, fmt: str, dpi: float | None = None) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi or "figure", metadata=_metadata(fmt))
    return buffer.getvalue()


def _metadata(fmt: str) -> dict | None:
    # No creation date: an unchanged report rebuilds to the same bytes.
    return {"CreationDate": None} if fmt == "pdf" else None


def hide_ticks(ax: plt.Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


@cache
def _advance(char: str, bold: bool) -> float:
    """A character's width at 1 pt (measured once at 100 pt: laying out every string with
    FreeType costs milliseconds, and tables measure thousands)."""
    prop = FontProperties(size=100, weight="bold" if bold else "normal")
    return RendererAgg(1, 1, 72).get_text_width_height_descent(char, prop, False)[0] / 100


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width in points of the widest line of `text`. Kerning, which mostly narrows text, is
    ignored; the 3% added keeps the estimate on the safe side of matplotlib's own."""
    return max(sum(_advance(c, bold) for c in line) for line in text.split("\n")) * size * 1.03


def pieces(text: str) -> list[str]:
    """The unbreakable pieces of `text`, in order."""
    return _PIECE.findall(text)


def wrap(text: str, width: float, size: float, bold: bool = False) -> list[str]:
    """`text` in lines at most `width` points wide, broken between pieces (a piece wider
    than `width`: between its words; a word wider than `width` gets a line of its own)."""
    lines: list[str] = []
    for piece in _fitting(pieces(text), width, size, bold):
        joined = f"{lines[-1]} {piece}" if lines else piece
        if lines and text_width(joined, size, bold) <= width:
            lines[-1] = joined
        else:
            lines.append(piece)
    return lines or [""]


def _fitting(found: list[str], width: float, size: float, bold: bool) -> list[str]:
    return [word for piece in found for word in (
        [piece] if text_width(piece, size, bold) <= width else piece.split(" "))]
