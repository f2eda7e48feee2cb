"""Quality against training time, from every run's quality.csv: curves averaged over seeds,
the time each model takes to reach a quality, and rankings at common budgets.

A model is judged at a budget by its last curve point at or before it; a model whose run is
shorter than the budget is left out of that budget, never extrapolated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from genbench.reports.tables import Table, format_value

THRESHOLDS = (20.0, 10.0, 5.0)  # FID levels of the time-to-quality table
FIRST_BUDGET = 15.0  # seconds; common budgets double from here (and halve, for short runs)
MAX_BUDGETS = 7
# A seconds budget ends at the first step at or past it, so a run of B seconds has its last
# point a fraction of a step after B: points up to 1% past a budget stand for it.
OVERSHOOT = 0.01


def curve_metric(quality: pd.DataFrame) -> str | None:
    """FID where the curves have it, else KID (cheap curves may compute KID only)."""
    for metric in ("fid", "kid"):
        if metric in quality and quality[metric].notna().any():
            return metric
    return None


def curve_spaces(quality: pd.DataFrame) -> pd.Series:
    """Per point, 'classifier, n=1000': the feature space and sample count it was measured in
    (points in different spaces are never compared)."""
    extractor = (quality["extractor"].fillna("?").astype(str) if "extractor" in quality
                 else pd.Series("?", index=quality.index))
    if "n" not in quality:
        return extractor
    n = quality["n"].map(lambda v: "" if pd.isna(v) else f", n={int(v)}")
    return extractor + n


def mean_curves(quality: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One curve per (dataset, model): the k-th points of its seeds averaged (seeds evaluate at
    the same planned times), with the spread over seeds of the metric."""
    frame = quality.copy()  # each run's points in time order, runs in the suite's order
    frame["point"] = frame.groupby("run", sort=False).cumcount()
    if "images" not in frame:
        frame["images"] = np.nan
    grouped = frame.groupby(["dataset", "model", "family", "point"], sort=False)
    curves = grouped.agg(seconds=("seconds", "mean"), images=("images", "mean"),
                         value=(metric, "mean"), seeds=(metric, "count"))
    curves["std"] = grouped[metric].std(ddof=0)
    return curves.reset_index().dropna(subset=["value"])


def common_budgets(curves: pd.DataFrame) -> list[float]:
    """Log-spaced budgets (15, 30, 60 ... s) up to the longest run, at most MAX_BUDGETS."""
    if curves.empty:
        return []
    longest, earliest = curves["seconds"].max(), curves["seconds"].min()
    k = math.floor(math.log2(max(earliest, 1e-3) / FIRST_BUDGET))
    budgets = []
    while FIRST_BUDGET * 2.0 ** k <= longest:
        if FIRST_BUDGET * 2.0 ** k >= earliest:
            budgets.append(FIRST_BUDGET * 2.0 ** k)
        k += 1
    step = math.ceil(len(budgets) / MAX_BUDGETS) if budgets else 1
    return budgets[::-1][::step][::-1]  # thinned from the longest down


def values_at_budgets(curves: pd.DataFrame, budgets: list[float]) -> pd.DataFrame:
    """Each model's value at its last point at or before each budget (rows: models, columns:
    budgets). NaN where its run is shorter than the budget or has no point yet."""
    table = {}
    for model, curve in curves.groupby("model", sort=False):
        end = curve["seconds"].max()
        table[model] = [_last_before(curve, budget) if end >= budget else np.nan
                        for budget in budgets]
    return pd.DataFrame.from_dict(table, orient="index", columns=budgets)


def _last_before(curve: pd.DataFrame, budget: float) -> float:
    before = curve[curve["seconds"] <= budget * (1 + OVERSHOOT)]
    return float(before["value"].iloc[-1]) if len(before) else np.nan


def time_to_quality(curves: pd.DataFrame,
                    thresholds: tuple[float, ...] = THRESHOLDS) -> dict[float, pd.DataFrame]:
    """threshold -> (model -> seconds, images) at the first point whose value is at or below
    the threshold; models that never reach it get NaN."""
    out = {}
    for threshold in thresholds:
        rows = {}
        for model, curve in curves.groupby("model", sort=False):
            reached = curve[curve["value"] <= threshold]
            first = reached.iloc[0] if len(reached) else None
            rows[model] = ((first["seconds"], first["images"]) if first is not None
                           else (np.nan, np.nan))
        out[threshold] = pd.DataFrame.from_dict(rows, orient="index",
                                                columns=["seconds", "images"])
    return out


def budget_label(seconds: float) -> str:
    return f"{seconds:,.0f} s" if seconds >= 10 else f"{seconds:.3g} s"


def time_table(curves: pd.DataFrame, space: str) -> Table:
    reached = time_to_quality(curves)
    models = list(dict.fromkeys(curves["model"]))
    cells, values = pd.DataFrame(index=pd.Index(models, name="model")), pd.DataFrame(
        index=pd.Index(models, name="model"))
    for threshold, frame in reached.items():
        column = f"FID ≤ {threshold:g}"
        values[column] = frame["seconds"].reindex(models)
        cells[column] = [_reach_text(s, i) for s, i in
                         zip(values[column], frame["images"].reindex(models), strict=True)]
    levels = ", ".join(f"{t:g}" for t in reached)
    caption = (f"Training seconds (and images seen) until each model's curve first reaches "
               f"FID ≤ {levels} [{space}], mean over seeds; lower is better. Evaluation "
               "time is not counted. 'not reached': not within the model's budget.")
    return Table("time-to-quality", f"Time to quality [{space}]", caption, cells, values,
                 {c: "low" for c in cells.columns})


def _reach_text(seconds: float, images: float) -> str:
    if np.isnan(seconds):
        return "not reached"
    return f"{seconds:,.1f} s" + ("" if np.isnan(images) else f" ({images:,.0f} img)")


def ranking_table(curves: pd.DataFrame, metric: str, space: str) -> Table | None:
    budgets = common_budgets(curves)
    values = values_at_budgets(curves, budgets)
    if values.empty or values.isna().all().all():
        return None
    values.columns = [budget_label(b) for b in budgets]
    values.index.name = "model"
    ranks = values.rank(method="min")
    decimals = 2 if metric == "fid" else 4
    cells = values.copy().astype(object)
    for column in values.columns:
        cells[column] = [format_value(v, decimals=decimals) + ("" if np.isnan(v) else
                                                               f" (#{int(r)})")
                         for v, r in zip(values[column], ranks[column], strict=True)]
    caption = (f"{metric.upper()} [{space}] of each model at common budgets of training "
               "seconds: its last curve point at or before the budget (a run of that budget:"
               " its final point, within a step of it), rank in brackets; "
               "lower is better. –: the run is shorter than the budget (never extrapolated) "
               "or has no point yet.")
    return Table("ranking", f"Ranking at common training budgets [{metric.upper()}, {space}]",
                 caption, cells, values, {c: "low" for c in values.columns})


def verdict(ranking: Table, families: dict[str, str], metric: str) -> str:
    """One or two sentences: who leads at the shortest common budget, who at the longest."""
    values = ranking.values.loc[:, ranking.values.notna().sum() >= 2]
    if values.empty:
        return ""
    name = metric.upper()

    def who(model: str) -> str:
        family = families.get(model, model)
        return model if family == model else f"{model} ({family} family)"

    first, last = values.columns[0], values.columns[-1]
    short, long = values[first].idxmin(), values[last].idxmin()
    if first == last:
        return f"At {first} of training, {who(short)} leads ({name} {values.at[short, first]:.2f})."
    if short == long:
        return (f"{who(short)} leads from the shortest common budget ({first}, {name} "
                f"{values.at[short, first]:.2f}) to the longest ({last}, "
                f"{values.at[long, last]:.2f}).")
    behind = values.at[short, last]
    then = (f", ahead of {short} ({behind:.2f})" if not np.isnan(behind)
            else f"; {short}'s run ends before {last}")
    return (f"At short budgets {who(short)} leads ({name} {values.at[short, first]:.2f} at "
            f"{first}); at the longest common budget ({last}) {who(long)} leads "
            f"({values.at[long, last]:.2f}){then}.")


@dataclass
class Curves:
    """The quality curves of one dataset, averaged over seeds, in one feature space."""

    frame: pd.DataFrame  # mean_curves: dataset, model, family, point, seconds, images, value...
    metric: str  # "fid" or "kid"
    space: str  # "classifier, n=1000"

    def tables(self) -> list[Table]:
        ranking = ranking_table(self.frame, self.metric, self.space)
        return ([time_table(self.frame, self.space)] if self.metric == "fid" else []) + (
            [ranking] if ranking is not None else [])

    def verdict(self) -> str:
        ranking = ranking_table(self.frame, self.metric, self.space)
        families = dict(zip(self.frame["model"], self.frame["family"], strict=True))
        return verdict(ranking, families, self.metric) if ranking is not None else ""


def dataset_curves(quality: pd.DataFrame, dataset: str) -> Curves | None:
    """The dataset's curves in its most common feature space, or None without curves."""
    part = quality[quality["dataset"] == dataset] if "dataset" in quality else quality.iloc[:0]
    metric = curve_metric(part)
    if metric is None:
        return None
    spaces = curve_spaces(part)
    space = spaces.mode().iloc[0]
    return Curves(mean_curves(part[spaces == space], metric), metric, space)
