"""Quality against training compute, from every run's quality.csv: curves averaged over seeds,
and what is read off them once per dataset (time to quality, rankings at common budgets, the
verdict), against training seconds and, where the runs count them, training FLOPs.

How a model is judged at a budget: reports/budgets.py. The tables: reports/rankings.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from genbench.reports.budgets import (
    AXES,
    THRESHOLDS,
    has_axis,
    mean_curves,
    time_to_quality,
    values_at_budgets,
)
from genbench.reports.rankings import ranking_table, time_table, verdict
from genbench.reports.table import Table

__all__ = ["THRESHOLDS", "Curves", "curve_metric", "curve_spaces", "dataset_curves",
           "mean_curves", "time_to_quality", "values_at_budgets"]


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


@dataclass
class Curves:
    """The quality curves of one dataset, averaged over seeds, in one feature space, with
    their tables and verdicts (computed once, on every axis the curves have)."""

    frame: pd.DataFrame  # mean_curves: dataset, model, family, point, seconds, flops, value...
    metric: str  # "fid" or "kid"
    space: str  # "classifier, n=1000"
    machine: str = ""  # " Times measured on ...": beside every time
    unranked: str = ""  # why no model is ranked here (its judge is not trusted), else ''
    axes: list[str] = field(init=False)  # "seconds", and "flops" where every run counts them
    tables: list[Table] = field(init=False)  # per axis: time to quality, ranking
    verdicts: dict[str, str] = field(init=False)  # axis -> the verdict sentence

    def __post_init__(self) -> None:
        self.axes = [a for a in AXES if has_axis(self.frame, a)]
        families = dict(zip(self.frame["model"], self.frame["family"], strict=True))
        self.tables, self.verdicts = [], {}
        for axis in self.axes:
            if self.metric == "fid":
                self.tables.append(time_table(self.frame, self.space, axis, self.machine,
                                              self.unranked))
            ranking = ranking_table(self.frame, self.metric, self.space, axis, self.machine,
                                    self.unranked)
            if ranking is not None:
                self.tables.append(ranking)
                self.verdicts[axis] = verdict(ranking, families, self.metric)
        seconds = self.ranking("seconds")
        if seconds is not None and self.ranking("flops") is not None:
            # one verdict in the headline (FLOPs: the same on any machine); this one stays
            # with its table
            said = self.verdicts.get("seconds")
            seconds.caption += (" The headline compares at a common FLOP budget instead (FLOPs"
                                " are the same on any machine)" +
                                (f"; on this machine's clock: {said}" if said else "."))

    def verdict(self, axis: str = "seconds") -> str:
        return self.verdicts.get(axis, "")

    def ranking(self, axis: str = "seconds") -> Table | None:
        key = "ranking" if axis == "seconds" else "ranking-flops"
        return next((t for t in self.tables if t.key == key), None)


def dataset_curves(quality: pd.DataFrame, dataset: str, machine: str = "",
                   unranked: Callable[[str], str] = lambda extractor: "") -> Curves | None:
    """The dataset's curves in its most common feature space, or None without curves;
    `unranked(extractor)`: why that space ranks no model (reports/gate.py), else ''."""
    part = quality[quality["dataset"] == dataset] if "dataset" in quality else quality.iloc[:0]
    metric = curve_metric(part)
    if metric is None:
        return None
    spaces = curve_spaces(part)
    space = spaces.mode().iloc[0]
    return Curves(mean_curves(part[spaces == space], metric), metric, space, machine,
                  unranked(space.split(",")[0]))
