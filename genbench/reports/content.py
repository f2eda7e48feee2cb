"""What a report says about one dataset, whatever the format it is written in."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from genbench.reports.headline import Finding
from genbench.reports.quality import Curves
from genbench.reports.table import Table


@dataclass
class Shown:
    """A drawn figure: its files and the words around it."""

    name: str
    caption: str
    png: Path  # 16:9, 200 dpi (a PDF beside it)
    html_png: bytes  # the same figure, small enough to embed


@dataclass
class Section:
    dataset: str
    findings: list[Finding]  # best model per question
    sentences: list[str]  # the trade-off and the verdict of the quality curves
    tables: list[Table]
    figures: list[Shown] = field(default_factory=list)
    curves: Curves | None = None  # the quality curves and what is read off them
    warnings: list[str] = field(default_factory=list)  # the judge gate's: said first
