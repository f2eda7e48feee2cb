"""Slides that can be projected: in a real tiny suite's slides.pdf, read back with
`pdftotext -bbox` as a viewer lays the text out, no word leaves its page and no two words are
printed over each other; tables too wide or too long for a page go on to the next one, and a
takeaway is never cut mid-sentence. The table figures (saved as *-headline.png, *-ranking.png)
and the FID bars are checked with matplotlib's own text extents, without training."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_SETTINGS
from matplotlib.figure import Figure
from matplotlib.text import Text

from genbench.cli import main
from genbench.reports import charts, slides
from genbench.reports.style import theme
from genbench.reports.table import Table

# Quality curves on few samples (the ranking slides); the label-free encoder trained briefly.
EVAL = "curve_samples = 100\ncurve_start_steps = 10\nselfsupervised_steps = 20\n"
# Long model names, budgets in columns: the slides that broke in the quick suite's report.
SUITE = """
name = "layout"
models = ["ae", "vae-conv", "beta-vae", "diffusion"]
datasets = ["sprites"]
seeds = [0]

[model.vae-conv]
config = { width = 16 }

[model.beta-vae]
config = { width = 16 }

[model.diffusion]
config = { width = 16, sampling_steps = 5 }
""" + TINY_SETTINGS.format(device="cpu").replace("[eval]\n", "[eval]\n" + EVAL)
WORD = re.compile(r'<word xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" '
                  r'yMax="([\d.-]+)">([^<]*)</word>')
MODELS = ["ae", "vae", "vae-conv", "beta-vae", "cvae", "vqvae", "gan", "diffusion"]


@pytest.fixture(scope="module")
def deck(tmp_path_factory) -> Path:
    """slides.pdf of a real suite of four models on generated sprites."""
    if shutil.which("pdftotext") is None:
        pytest.skip("needs pdftotext (Debian: apt-get install poppler-utils)")
    tmp = tmp_path_factory.mktemp("layout")
    suite = tmp / "layout.toml"
    suite.write_text(SUITE)
    assert main(["benchmark", "--suite", str(suite), "--out", str(tmp / "out"), "--quiet"]) == 0
    return tmp / "out" / "slides.pdf"


def misplaced(pdf: Path) -> list[str]:
    """'page 3: ...' for each word off its page and each pair of words over each other. A
    word's box spans its font's whole ascent and descent: like a reader, keep the middle half
    of its height, and half a point less at each side."""
    text = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    found = []
    for number, page in enumerate(text.split("<page ")[1:], 1):
        width, height = map(float, re.search(r'width="([\d.]+)" height="([\d.]+)"',
                                             page).groups())
        boxes = []
        for *edges, word in WORD.findall(page):
            x0, y0, x1, y1 = map(float, edges)
            boxes.append((x0 + 0.5, y0 + (y1 - y0) / 4, x1 - 0.5, y1 - (y1 - y0) / 4, word))
        found += [f"page {number}: {w!r} off the page" for x0, y0, x1, y1, w in boxes
                  if x0 < -1 or x1 > width + 1 or not 0 < (y0 + y1) / 2 < height]
        found += [f"page {number}: {a[4]!r} over {b[4]!r}"
                  for i, a in enumerate(boxes) for b in boxes[i + 1:] if _overlap(a, b, 1)]
    return found


def _overlap(a, b, by: float) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > by and min(a[3], b[3]) - max(a[1], b[1]) > by


def test_no_word_of_the_slides_leaves_its_page_or_sits_on_another(deck):
    text = subprocess.run(["pdftotext", str(deck), "-"], capture_output=True, text=True,
                          check=True).stdout
    for title in ("The best model per question", "Ranking at common training budgets",
                  "Ranking at common FLOP budgets", "FID, precision and recall",
                  "Calibration [classifier"):  # the slides that were damaged are there
        assert f"sprites: {title}" in text
    assert misplaced(deck) == []


def text_clashes(fig: Figure) -> list[str]:
    """Text artists of `fig` (drawn) that leave the figure or sit on one another."""
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    page, hidden = fig.bbox, set(map(id, undrawn_tick_labels(fig)))
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and id(t) not in hidden]
    found = [f"{s!r} off the figure" for s, b in boxes
             if b.x0 < page.x0 - 1 or b.x1 > page.x1 + 1 or b.y0 < page.y0 - 1
             or b.y1 > page.y1 + 1]
    return found + [f"{s!r} over {u!r}" for i, (s, b) in enumerate(boxes)
                    for u, c in boxes[i + 1:]
                    if _overlap((b.x0, b.y0, b.x1, b.y1), (c.x0, c.y0, c.x1, c.y1), 1)]


def undrawn_tick_labels(fig: Figure) -> list[Text]:
    """Labels of ticks outside their axis' view: kept by matplotlib, never drawn."""
    out = []
    for axis in (a for ax in fig.axes for a in (ax.xaxis, ax.yaxis)):
        low, high = sorted(axis.get_view_interval())
        slack = 1e-9 * (high - low)
        out += [label for tick in axis.get_major_ticks() + axis.get_minor_ticks()
                if not low - slack <= tick.get_loc() <= high + slack
                for label in (tick.label1, tick.label2)]
    return out


def ranking(columns: int) -> Table:
    """A ranking as the FLOP ranking of 8 models at `columns` budgets: wide cells."""
    budgets = [f"{2 ** i * 4}e9 FLOPs" for i in range(columns)]
    values = pd.DataFrame(np.arange(8 * columns, dtype=float).reshape(8, columns) + 50.25,
                          index=pd.Index(MODELS, name="model"), columns=budgets)
    cells = values.map(lambda v: f"{v:,.2f} (#{int(v) % 8 + 1}, ended 8.8e9 FLOPs)")
    return Table("ranking-flops", "Ranking at common FLOP budgets [FID, classifier, n=200]",
                 "", cells, values, {b: "low" for b in budgets})


def headline() -> Table:
    cells = pd.DataFrame({"model": ["diffusion", "vae-conv and beta-vae (tied)"],
                          "value": ["FID 4.27 [classifier, n=2000]; final weights after 60 s "
                                    "to 480 s of training, each model's own budget",
                                    "MSE 0.0041"]},
                         index=pd.Index(["Best samples", "Best reconstructions"],
                                        name="question"))
    return Table("headline", "", "", cells, pd.DataFrame(index=cells.index))


@pytest.mark.parametrize("table", [headline(), ranking(3), ranking(8)],
                         ids=["headline", "ranking", "wide-ranking"])
def test_table_pages_hold_every_cell_once_and_no_text_on_text(table):
    with theme():
        pages = slides.table_pages(table)
        for columns, rows in pages:
            fig = slides.table_figure(table, (columns, rows))
            assert text_clashes(fig) == []
            drawn = {" ".join(t.get_text().split()) for t in fig.texts}  # wrapped: one line
            assert {table.cells.iat[r, c] for r in rows for c in columns} <= drawn
    shown = [(r, c) for columns, rows in pages for r in rows for c in columns]
    assert sorted(shown) == [(r, c) for r in range(table.cells.shape[0])
                             for c in range(table.cells.shape[1])]
    assert (len(pages) > 1) == (table.cells.shape[1] == 8)  # too wide: split


def test_fid_bars_name_close_calibration_lines_in_a_legend():
    values = pd.DataFrame({"FID [classifier, n=200]": np.linspace(60, 8000, 8),
                           "precision": 0.5, "recall": 0.02}, index=MODELS)
    samples = Table("samples", "Sample quality [classifier, n=200]", "",
                    values.map(str), values, {"FID [classifier, n=200]": "low",
                                              "precision": "high", "recall": "high"})
    references = {"held-out": 2.4, "blur σ=0.5": 6.7, "blur σ=1": 24.7,
                  "noise σ=0.05": 604.1, "noise σ=0.15": 2537.9}  # lines a hair apart
    with theme():
        fig = charts.sample_bars(samples, dict.fromkeys(MODELS, "C0"), references)
        assert text_clashes(fig) == []
    legend = fig.axes[-1].get_legend()
    assert [t.get_text().split(":")[0] for t in legend.get_texts()] == list(references)


def test_takeaways_are_whole_sentences():
    verdict = ("At 3.75 s, vae and cvae lead (tied; best FID 182.83); from 15 s on, ae leads "
               "(FID 58.47 at 60 s), with vae-conv and beta-vae within its interval from "
               "240 s on, and diffusion the best at 480 s (FID 5.13 at 480 s). ") * 2
    lines, size = slides.fit_takeaway(verdict)
    assert size >= 14 and len(lines) <= slides.TAKEAWAY_LINES
    assert " ".join(lines) == verdict.strip().split(". ")[0] + "."  # the second: dropped whole
    long = "From " + ", ".join(f"{i} s on, model {i} leads" for i in range(60)) + "."
    assert " ".join(slides.fit_takeaway(long)[0]) == long  # one sentence: wrapped, never cut
