"""tables/NAME.tex: each report table as a LaTeX (booktabs) table for a paper, beside its CSV.

    \\usepackage{booktabs}   in the preamble, then   \\input{tables/mnist-sample-quality.tex}

Every cell, header and the caption is escaped: LaTeX's special characters (% _ & # $ { } ~ ^
\\), brackets (a cell that opens with `[` after `\\\\` would be read as the row's spacing
argument), and the symbols the tables print (± × σ τ − ≈ ...) as math, which pdfLaTeX has no
glyph for in text. The best cells of each column (and those tied with them) are bold, as in
report.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from genbench.io import atomic_write_text
from genbench.reports.table import Table

SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
           "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
           "^": r"\textasciicircum{}", "[": "{[}", "]": "{]}"}
SYMBOLS = {"±": r"$\pm$", "×": r"$\times$", "σ": r"$\sigma$", "τ": r"$\tau$", "μ": r"$\mu$",
           "α": r"$\alpha$", "β": r"$\beta$", "−": r"$-$", "≈": r"$\approx$", "≤": r"$\leq$",
           "≥": r"$\geq$", "·": r"$\cdot$", "∞": r"$\infty$", "→": r"$\rightarrow$",
           "↓": r"$\downarrow$", "↑": r"$\uparrow$", "²": r"$^2$", "–": "--", "—": "---",
           "…": r"\dots{}", "’": "'", "‘": "`", "“": "``", "”": "''"}
REPLACE = {**SPECIAL, **SYMBOLS}
PATTERN = re.compile("|".join(map(re.escape, REPLACE)))


def escape(text: object) -> str:
    """`text` as LaTeX that prints it: one pass, so that no replacement is escaped again."""
    return PATTERN.sub(lambda match: REPLACE[match.group()], str(text))


def table_latex(table: Table, label: str, where: str = "") -> str:
    """The table environment of `table`: a caption (its title, `where` in brackets, then its
    caption), `label`, the cells with booktabs rules."""
    best = table.best
    cells = pd.DataFrame({escape(column): [rf"\textbf{{{escape(v)}}}" if b else escape(v)
                                           for v, b in zip(table.cells[column], best[column],
                                                           strict=True)]
                          for column in table.cells.columns}, index=table.cells.index)
    first = escape(table.cells.index.name or "")
    cells.index = pd.Index([escape(v) for v in table.cells.index], name=first)
    title = escape(f"{table.title} ({where})" if where else table.title)
    caption = rf"\textbf{{{title}.}} {escape(table.caption)}".rstrip()
    styled = cells.reset_index().style.hide(axis="index")
    return styled.to_latex(hrules=True, caption=(caption, title), label=label,
                           position_float="centering",
                           column_format="l" + "r" * len(cells.columns))


def write_table(path: Path, table: Table, where: str = "") -> None:
    """`table` as LaTeX in `path` (its label: tab:NAME, NAME the file's name)."""
    label = "tab:" + re.sub(r"[^A-Za-z0-9:-]+", "-", path.stem)
    atomic_write_text(path, table_latex(table, label, where))
