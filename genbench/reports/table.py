"""The report's table: one question's formatted cells, the numbers behind them and the best
cells (Table), built from the metric registry (metric_table), with every value formatted one
way (format_value). The question's assembler is tables.py; the sample-quality and calibration
tables (samples.py, calibration.py) build on the same Table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from genbench.reports import ties
from genbench.reports.metrics import Metric, present


@dataclass
class Table:
    """One question's table: formatted cells, the numbers behind them, the best cells."""

    key: str  # "samples", "reconstruction", "likelihood", "cost", "time-to-quality", ...
    title: str
    caption: str
    cells: pd.DataFrame  # formatted text, one row per model
    values: pd.DataFrame  # the numbers (NaN where none), same rows
    better: dict[str, str | None] = field(default_factory=dict)  # column -> "low" | "high"
    spread: pd.DataFrame | None = None  # std over seeds, where the numbers are means
    low: pd.DataFrame | None = None  # each value's interval (ties.bounds); None: the value
    high: pd.DataFrame | None = None
    metrics: dict[str, Metric] = field(default_factory=dict)  # column -> its registry entry
    basis: str = ""  # what the values compare at: "final weights, 60-480 s of training"
    margin: float = 0.0  # relative margin within which values tie whatever their intervals
    # column -> why it names no best (an untrusted judge, another sample count): no bold, no
    # leader, no headline winner; its numbers are still shown
    unranked: dict[str, str] = field(default_factory=dict)

    def _bounds(self, column: str) -> tuple[pd.Series, pd.Series]:
        values = self.values[column]
        low = self.low[column] if self.low is not None and column in self.low else values
        high = self.high[column] if self.high is not None and column in self.high else values
        return low.fillna(values), high.fillna(values)

    def tied(self, column: str) -> list[str]:
        """The best model of `column` and every model tied with it, or [] without ranking."""
        if column not in self.values or column in self.unranked:
            return []
        return ties.tied(self.values[column], *self._bounds(column), self.better.get(column),
                         self.margin)

    def separated(self, column: str, a: str, b: str) -> bool:
        """Whether models `a` and `b` differ in `column` (intervals and margins: ties.py)."""
        return ties.separated(a, b, self.values[column], *self._bounds(column), self.margin)

    def named(self, column: str) -> str:
        """'a', 'a and b (tied)', 'no winner' (every value tied), '' without a ranking."""
        leaders = self.tied(column)
        return ties.named(leaders, int(self.values[column].notna().sum())) if leaders else ""

    def leader(self, column: str) -> tuple[str, float] | None:
        """(model, value) with the best value in `column`, or None when it has no ranking."""
        values, better = self.values[column].dropna(), self.better.get(column)
        if values.empty or better is None or column in self.unranked:
            return None
        model = values.idxmin() if better == "low" else values.idxmax()
        return model, float(values[model])

    @property
    def best(self) -> pd.DataFrame:
        """True where a cell holds its column's best value or one tied with it (of two or
        more values)."""
        out = pd.DataFrame(False, index=self.cells.index, columns=self.cells.columns)
        for column in self.cells.columns:
            if column in self.values and self.values[column].notna().sum() >= 2:
                out.loc[self.tied(column), column] = True
        return out


def _column(by_model: pd.DataFrame, key: str) -> pd.Series | None:
    return by_model[key].astype(float) if key in by_model else None


BOOTSTRAP_NOTE = (" [low, high]: the interval of the evaluation (a bootstrap over generated "
                  "and reference features: evaluation noise only).")


def metric_table(key: str, title: str, frame: pd.DataFrame, question: str, caption: str,
           titles: dict[str, str] | None = None, space: str | None = None,
           margin: float = 0.0, interval_note: str = BOOTSTRAP_NOTE) -> Table:
    """The question's registry metrics measured in `space` (None: the run's own space);
    `margin`: the relative margin within which its values tie (ties.py); `interval_note`:
    what the caption says of the [low, high] intervals, where some are shown."""
    rows = list(dict.fromkeys(frame["model"]))
    by_model = frame.drop_duplicates("model").set_index("model").reindex(rows)
    index = pd.Index(rows, name="model")
    cells, values = pd.DataFrame(index=index), pd.DataFrame(index=index)
    spread, low, high = (pd.DataFrame(index=index) for _ in range(3))
    better, entries, shown_interval = {}, {}, False
    counts_differ = by_model["seeds"].nunique() > 1
    for metric in present(by_model, question, tables_only=True):
        if metric.space != space or by_model[metric.key].isna().all():
            continue
        column = (titles or {}).get(metric.key, metric.title)
        seeds = by_model["seeds"] if metric.per_seed else pd.Series(1, index=index)
        std = by_model[f"{metric.key}_std"].where(seeds > 1)
        lo, hi = _column(by_model, f"{metric.key}_lo"), _column(by_model, f"{metric.key}_hi")
        values[column], spread[column] = by_model[metric.key].astype(float), std.astype(float)
        low[column], high[column] = ties.bounds(values[column], std, seeds, lo, hi)
        cells[column] = [format_value(v, s, n, metric.decimals, a, b, counts_differ,
                                      metric.number) for
                         v, s, n, a, b in zip(values[column], std, seeds, _or_nan(lo, index),
                                              _or_nan(hi, index), strict=True)]
        if metric.flag in by_model:  # 'copying', 'collapsed' beside the value
            flagged = by_model[metric.flag].astype(float).fillna(0) > 0
            cells.loc[flagged, column] = cells.loc[flagged, column] + f" ({metric.flag})"
        shown_interval |= bool(lo is not None and ((seeds <= 1) & lo.notna()).any())
        better[column], entries[column] = metric.better, metric
    if shown_interval:
        caption += interval_note
    measured = values.notna().any(axis=1)  # models without this capability: no row
    return Table(key, title, caption, cells[measured], values[measured], better,
                 spread[measured], low[measured], high[measured], entries, margin=margin)


def _or_nan(series: pd.Series | None, index: pd.Index) -> pd.Series:
    return series if series is not None else pd.Series(np.nan, index=index)


def format_value(value: float, std: float = np.nan, seeds: float = 1, decimals: int = 2,
                 lo: float = np.nan, hi: float = np.nan, count: bool = False,
                 number: Callable[[float], str] | None = None) -> str:
    """'4.52', '4.52 ± 0.10' (several seeds; '(3)' after it when `count`), '4.52 [4.31, 4.77]'
    (one seed with the evaluation's interval). `number` formats each number (default: fixed
    with `decimals`)."""
    if value is None or np.isnan(value):
        return "–"
    number = number or (lambda v: f"{v:,.{decimals}f}")
    text = number(value)
    if seeds and seeds > 1 and not np.isnan(std):
        text += f" ± {number(std)}" + (f" ({int(seeds)})" if count else "")
    elif not (np.isnan(lo) or np.isnan(hi)):
        text += f" [{number(lo)}, {number(hi)}]"
    return text
