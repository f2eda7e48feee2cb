"""report.md: the headline, the tables by question and the figures, for GitHub or a paper."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from genbench.reports.content import Section
from genbench.reports.table import Table
from genbench.reports.ties import RULE


def table_markdown(table: Table) -> str:
    cells, best = table.cells.copy(), table.best
    for column in cells.columns:
        cells[column] = [f"**{v}**" if b else v for v, b in
                         zip(cells[column], best[column], strict=True)]
    return cells.to_markdown(disable_numparse=True)  # the cells as formatted: '1.6e13', '1,000'


def headline_markdown(section: Section) -> list[str]:
    """The judge gate's warnings first (bold: no winner is named in a failed space), then
    one bullet per finding, then the sentences."""
    lines = [f"> **{w}**" for w in section.warnings] + ([""] if section.warnings else [])
    lines += [f"- **{f.question}**: {f.model} ({f.value})" for f in section.findings]
    return lines + ([""] + [" ".join(section.sentences)] if section.sentences else [])


def report_markdown(title: str, sections: list[Section], problems: list[dict],
                    out: Path) -> str:
    lines = [f"# {title}", "", "## Headline", ""]
    for section in sections:
        lines += [f"### {section.dataset}", "", *headline_markdown(section), ""]
    lines += [f"Best value per column in **bold**, {RULE}", ""]
    for section in sections:
        lines += [f"## {section.dataset}", ""]
        for table in section.tables:
            lines += [f"### {table.title}", "", table.caption, "", table_markdown(table), ""]
        lines += [f"### Figures: {section.dataset}", ""] if section.figures else []
        for shown in section.figures:
            lines += [f"![{shown.caption}]({os.path.relpath(shown.png, out)})", "",
                      f"*{shown.caption}*", ""]
    if problems:
        lines += ["## Runs without results", "",
                  pd.DataFrame(problems).to_markdown(index=False), ""]
    return "\n".join(lines)
