"""Result tables (pandas), one per question: sample quality, reconstruction, likelihood, cost.

Each table has at most 8 columns and a caption saying what lower or higher means; the best
value per column is marked, with every value tied with it (overlapping intervals). What each
column is comes from the metric registry (reports/metrics.py). FID-family columns are headed
with their feature extractor and sample count: values from different feature spaces or sample
counts never share a column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from genbench.reports import ties
from genbench.reports.metrics import FLAGS, Metric, present
from genbench.reports.notes import machine_note, memory_measure
from genbench.reports.notes import note as _note

IDENTITY = ["model", "family", "dataset"]
# Descriptions that hold per run and are shown in headers and captions, not averaged.
NOTES = ("fid_extractor", "fid_samples", "fid_reference", "kid_subset", "peak_memory_measure",
         "likelihood_convention", "likelihood_reference", "classifier_accuracy", "num_test",
         "device", "machine", "threads", "copy_candidates", "copy_percentile", "bootstrap_rounds",
         "stop_rule")


def fidelity_space(row: pd.Series) -> str:
    return f"{row['fid_extractor']}, n={int(row['fid_samples'])}"


def _joined(values: pd.Series) -> str | None:
    """The distinct values of a text column over seeds: 'flat since 120 s / cap'."""
    distinct = list(dict.fromkeys(values.dropna().astype(str)))
    return " / ".join(distinct) if distinct else None


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std (ddof=1) over seeds per (model, dataset, feature space): columns
    metric, metric_std, metric_lo/metric_hi (the evaluation's interval, where the runs have
    one), seeds, the per-run notes (extractor, machine...) and `stopped` (the stop reasons).
    `runs` holds the derived metrics already (metrics.with_derived)."""
    frame = runs.copy()
    frame["space"] = frame.apply(fidelity_space, axis=1)
    keys = [m.key for m in present(frame)]
    intervals = [f"{k}_{end}" for k in keys for end in ("lo", "hi")
                 if f"{k}_lo" in frame and f"{k}_hi" in frame]
    grouped = frame.groupby(IDENTITY + ["space"], sort=False)
    out = grouped[keys].mean().join(grouped[keys].std(ddof=1).add_suffix("_std"))
    if intervals:
        out = out.join(grouped[intervals].mean())
    out = out.join(grouped[[k for k in NOTES if k in frame]].first())
    flags = [k for k in FLAGS if k in frame]
    if flags:  # flagged in any seed: 1.0
        out = out.join(frame[flags].astype(float).groupby(
            [frame[k] for k in IDENTITY + ["space"]], sort=False).max())
    if "stopped" in frame:
        out["stopped"] = grouped["stopped"].agg(_joined)
    out["seeds"] = grouped.size()
    return out.reset_index()


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

    def _bounds(self, column: str) -> tuple[pd.Series, pd.Series]:
        values = self.values[column]
        low = self.low[column] if self.low is not None and column in self.low else values
        high = self.high[column] if self.high is not None and column in self.high else values
        return low.fillna(values), high.fillna(values)

    def tied(self, column: str) -> list[str]:
        """The best model of `column` and every model tied with it, or [] without ranking."""
        if column not in self.values:
            return []
        return ties.tied(self.values[column], *self._bounds(column), self.better.get(column))

    def leader(self, column: str) -> tuple[str, float] | None:
        """(model, value) with the best value in `column`, or None when it has no ranking."""
        values, better = self.values[column].dropna(), self.better.get(column)
        if values.empty or better is None:
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


def question_tables(summary_frame: pd.DataFrame, dataset: str, floor: dict | None = None,
                    calibration: list[dict] | None = None) -> list[Table]:
    """The dataset's tables: sample quality (per feature space, each with its calibration
    where reference.json has one), reconstruction, likelihood, cost. Tables without any
    value are left out."""
    from genbench.reports.samples import sample_tables  # it builds on this module's Table

    frame = summary_frame[summary_frame["dataset"] == dataset]
    spread = spread_note(frame)
    tables = [t for space, part in frame.groupby("space", sort=False)
              for t in sample_tables(part, space, floor, spread, calibration or [])]
    per_model = frame.drop_duplicates("model")
    tables.append(_table("reconstruction", "Reconstruction", per_model, "reconstruction",
                         "Held-out images through each model: MSE per pixel and BCE in nats "
                         "per image, lower is better; PSNR and SSIM, higher is better." + spread))
    tables.append(likelihood_table(per_model, spread))
    tables.append(cost_table(per_model, spread))
    return [t for t in tables if not t.cells.empty and len(t.cells.columns)]


def spread_note(frame: pd.DataFrame) -> str:
    seeds = frame["seeds"]
    if seeds.max() <= 1:
        return ""
    count = (f"{int(seeds.max())} seeds" if seeds.nunique() == 1 else
             f"{int(seeds.min())} to {int(seeds.max())} seeds (the count in brackets)")
    return f" Mean ± sample std (ddof=1) over {count}."


def likelihood_table(per_model: pd.DataFrame, spread: str) -> Table:
    caption = ("Importance-weighted bound on −log p(x) of held-out images, in nats and bits "
               "per dimension, with k samples (k=1 is the ELBO; a larger k is tighter); lower "
               "is better.")
    if convention := _note(per_model, "likelihood_convention"):
        caption += f" Convention: {convention}."
    if reference := _note(per_model, "likelihood_reference"):
        caption += f" Published reference: {reference}."
    return _table("likelihood", "Likelihood", per_model, "likelihood", caption + spread)


def cost_table(per_model: pd.DataFrame, spread: str) -> Table:
    measure = memory_measure(per_model)
    caption = ("Parameters; training seconds and images per second (higher is better); "
               "sampling milliseconds per image and peak memory (lower is better). "
               f"Peak memory: {measure}. Curve eval s: seconds spent evaluating the "
               "quality curve during training, not counted in train s.")
    if "train_flops" in per_model and per_model["train_flops"].notna().any():
        caption += (" Train FLOPs: counted matmul and convolution FLOPs of training, forward"
                    " and backward (elementwise work is not counted).")
    if "stopped" in per_model and per_model["stopped"].notna().any():
        caption += " Stopped: why training ended (its curve flat since a point, or the cap)."
        rules = per_model["stop_rule"].dropna().unique() if "stop_rule" in per_model else []
        caption += "".join(f" Stop rule: {rule}." for rule in rules)
    table = _table("cost", "Cost", per_model, "cost", caption + machine_note(per_model) + spread,
                   {"peak_memory_mb": f"peak MB ({measure})"})
    if "stopped" in per_model and per_model["stopped"].notna().any():
        stopped = per_model.set_index("model")["stopped"].reindex(table.cells.index)
        table.cells["stopped"] = stopped.fillna("–").astype(str)
    return table


def _column(by_model: pd.DataFrame, key: str) -> pd.Series | None:
    return by_model[key].astype(float) if key in by_model else None


def _table(key: str, title: str, frame: pd.DataFrame, question: str, caption: str,
           titles: dict[str, str] | None = None, space: str | None = None) -> Table:
    """The question's registry metrics measured in `space` (None: the run's own space)."""
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
        caption += (" [low, high]: the interval of the evaluation (a bootstrap over generated "
                    "and reference features: evaluation noise only).")
    measured = values.notna().any(axis=1)  # models without this capability: no row
    return Table(key, title, caption, cells[measured], values[measured], better,
                 spread[measured], low[measured], high[measured], entries)


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
