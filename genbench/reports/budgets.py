"""Quality at common budgets, on either axis of compute: training seconds (this machine) or
training FLOPs (any machine).

A model is judged at a budget B by the last point of its curve at or before B. A run that its
stop rule ended as flat before B counts at B with its final point (marked 'ended': training
for less than B is allowed within a budget of B, and the rule said more would not help). A run
that its budget or cap ended before B has no value at B: it was stopped, not finished, and
what it would have reached is unknown. Never extrapolated. Before its first point a model has
no value.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from genbench.reports.metrics import scientific
from genbench.settings import EvalConfig

AXES = ("seconds", "flops")
THRESHOLDS = (20.0, 10.0, 5.0)  # FID levels of the time-to-quality table
MAX_BUDGETS = 7
# Seconds budgets double from the curve schedule's first point (the one constant,
# EvalConfig.curve_start), so that the budgets fall where the curves have points.
FIRST_SECONDS, GROWTH = EvalConfig.curve_start, EvalConfig.curve_growth
FIRST_FLOPS = EvalConfig.curve_start_flops  # FLOP budgets: the curves' one grid
# A budget ends at the first step at or past it, so a run of B has its last point a fraction
# of a step after B: points up to 1% past a budget stand for it.
OVERSHOOT = 0.01


def mean_curves(quality: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One curve per (dataset, model): the k-th points of its seeds averaged (seeds evaluate
    at the same planned times), with the sample std over seeds (ddof=1), the seed count, the
    mean training FLOPs and images at the point, and the mean evaluation interval (lo, hi;
    quality.csv's METRIC_lo/METRIC_hi) where the points have one, and whether every seed's
    run was ended by its stop rule (`flat`)."""
    frame = quality.copy()  # each run's points in time order, runs in the suite's order
    frame["point"] = frame.groupby("run", sort=False).cumcount()
    for column in ("images", "flops", f"{metric}_lo", f"{metric}_hi"):
        if column not in frame:
            frame[column] = np.nan
    frame["flat"] = frame["flat"].astype(bool) if "flat" in frame else False
    grouped = frame.groupby(["dataset", "model", "family", "point"], sort=False)
    curves = grouped.agg(seconds=("seconds", "mean"), images=("images", "mean"),
                         flops=("flops", "mean"), value=(metric, "mean"),
                         seeds=(metric, "count"), lo=(f"{metric}_lo", "mean"),
                         hi=(f"{metric}_hi", "mean"), flat=("flat", "all"))
    curves["std"] = grouped[metric].std(ddof=1)
    return curves.reset_index().dropna(subset=["value"])


def has_axis(curves: pd.DataFrame, axis: str) -> bool:
    """True when every model's curve is measured on `axis` (old runs have no FLOPs)."""
    return axis in curves and not curves.empty and curves.groupby("model")[axis].apply(
        lambda v: v.notna().all()).all()


def _grid_start(earliest: float, axis: str) -> float:
    return FIRST_SECONDS if axis == "seconds" else FIRST_FLOPS


def common_budgets(curves: pd.DataFrame, axis: str = "seconds") -> list[float]:
    """Log-spaced budgets, doubling (the curve schedule's points: FIRST_SECONDS x 2^k seconds,
    FIRST_FLOPS x 2^k FLOPs), from the earliest point to the longest run, at most
    MAX_BUDGETS (thinned from the longest)."""
    if curves.empty or curves[axis].isna().all():
        return []
    longest, earliest = curves[axis].max(), max(curves[axis].min(), 1e-3)
    base = _grid_start(earliest, axis)
    k = math.floor(math.log(earliest / base, GROWTH))
    budgets = []
    while base * GROWTH ** k <= longest * (1 + OVERSHOOT):
        if base * GROWTH ** k >= earliest:
            budgets.append(base * GROWTH ** k)
        k += 1
    step = math.ceil(len(budgets) / MAX_BUDGETS) if budgets else 1
    return budgets[::-1][::step][::-1]


def values_at_budgets(curves: pd.DataFrame, budgets: list[float], axis: str = "seconds",
                      column: str = "value") -> pd.DataFrame:
    """`column` of each model's last point at or before each budget (rows: models, columns:
    budgets); a run the stop rule ended earlier counts with its final point. NaN before a
    model's first point and past the end of a run its budget or cap ended."""
    table = {}
    for model, curve in curves.groupby("model", sort=False):
        end = curve[axis].max() * (1 + OVERSHOOT)
        table[model] = [_last_before(curve, budget, axis, column)
                        if budget <= end or _flat(curve) else np.nan for budget in budgets]
    return pd.DataFrame.from_dict(table, orient="index", columns=budgets)


def _flat(curve: pd.DataFrame) -> bool:
    """Whether the stop rule ended this model's runs (every seed's) as flat."""
    return "flat" in curve and bool(curve["flat"].astype(bool).all())


def _last_before(curve: pd.DataFrame, budget: float, axis: str, column: str) -> float:
    before = curve[curve[axis] <= budget * (1 + OVERSHOOT)]
    return float(before[column].iloc[-1]) if len(before) else np.nan


def ended_before(curves: pd.DataFrame, budgets: list[float], axis: str = "seconds",
                 flat: bool = True) -> pd.DataFrame:
    """Where a model's run ended before a budget: its end (seconds or FLOPs of its final
    point), else NaN; `flat`: runs the stop rule ended, else runs their budget or cap ended.
    Same shape as values_at_budgets."""
    table = {}
    for model, curve in curves.groupby("model", sort=False):
        end = curve[axis].max()
        table[model] = [end if end * (1 + OVERSHOOT) < budget and _flat(curve) == flat
                        else np.nan for budget in budgets]
    return pd.DataFrame.from_dict(table, orient="index", columns=budgets)


def last_doubling(curves: pd.DataFrame, axis: str = "flops") -> pd.Series:
    """Each model's change of the curve's value over its last doubling of training (-0.12:
    12% lower at the end than at half of it; read log-linearly between points), NaN where the
    curve does not reach back to half its end: who would gain from more compute."""
    out = {}
    for model, curve in curves.groupby("model", sort=False):
        xs, values = curve[axis].to_numpy(float), curve["value"].to_numpy(float)
        half = xs[-1] / 2
        if len(xs) < 2 or half < xs[0] or values[-1] <= 0:
            out[model] = np.nan
            continue
        before = float(np.interp(np.log(half), np.log(xs), values))
        out[model] = values[-1] / before - 1 if before > 0 else np.nan
    return pd.Series(out, dtype=float)


def time_to_quality(curves: pd.DataFrame, thresholds: tuple[float, ...] = THRESHOLDS,
                    axis: str = "seconds") -> dict[float, pd.DataFrame]:
    """threshold -> (model -> AXIS, images) at the first point whose value is at or below
    the threshold; models that never reach it get NaN."""
    out = {}
    for threshold in thresholds:
        rows = {}
        for model, curve in curves.groupby("model", sort=False):
            reached = curve[curve["value"] <= threshold]
            first = reached.iloc[0] if len(reached) else None
            rows[model] = ((first[axis], first["images"]) if first is not None
                           else (np.nan, np.nan))
        out[threshold] = pd.DataFrame.from_dict(rows, orient="index", columns=[axis, "images"])
    return out


def budget_label(value: float, axis: str = "seconds") -> str:
    """'7.5 s', '240 s'; '1.6e13 FLOPs'."""
    if axis == "flops":
        return f"{scientific(value)} FLOPs"
    return f"{value:,.0f} s" if value >= 10 else f"{value:.3g} s"
