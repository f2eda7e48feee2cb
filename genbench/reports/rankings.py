"""The tables and the verdict read off the quality curves, on either axis (training seconds
or training FLOPs): time to quality, and the ranking of every model at common budgets.
Differences inside the intervals (std over seeds, or the evaluation's interval) are ties."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genbench.reports import ties
from genbench.reports.budgets import (
    OVERSHOOT,
    budget_label,
    common_budgets,
    ended_before,
    time_to_quality,
    values_at_budgets,
)
from genbench.reports.table import Table, format_value

UNIT = {"seconds": "training seconds", "flops": "training FLOPs"}


def time_table(curves: pd.DataFrame, space: str, axis: str = "seconds",
               machine: str = "", unranked: str = "") -> Table:
    """Time (or FLOPs) to each FID level; `unranked`: why no model is named first (an
    untrusted judge), else ''. Seconds within ties.COST of each other are tied."""
    reached = time_to_quality(curves, axis=axis)
    models = pd.Index(list(dict.fromkeys(curves["model"])), name="model")
    cells, values = pd.DataFrame(index=models), pd.DataFrame(index=models)
    for threshold, frame in reached.items():
        column = f"FID ≤ {threshold:g}"
        values[column] = frame[axis].reindex(models)
        cells[column] = [_reach_text(v, i, axis) for v, i in
                         zip(values[column], frame["images"].reindex(models), strict=True)]
    levels = ", ".join(f"{t:g}" for t in reached)
    unit = UNIT[axis][0].upper() + UNIT[axis][1:]
    caption = (f"{unit} (and images seen) until each model's curve first reaches FID ≤ "
               f"{levels} [{space}], mean over seeds; lower is better. Evaluation is not "
               "counted. 'not reached': not within the model's training."
               + (f" Times within {ties.COST:.0%} of each other are tied." if axis == "seconds"
                  else "") + (machine if axis == "seconds" else ""))
    title = "Time to quality" if axis == "seconds" else "FLOPs to quality"
    return Table("time-to-quality" if axis == "seconds" else "flops-to-quality",
                 f"{title} [{space}]", _unranked_caption(caption, unranked), cells, values,
                 {c: "low" for c in cells.columns},
                 margin=ties.COST if axis == "seconds" else 0.0,
                 unranked=dict.fromkeys(cells.columns, unranked) if unranked else {})


def _unranked_caption(caption: str, unranked: str) -> str:
    return f"Not ranked ({unranked}). {caption}" if unranked else caption


def _reach_text(value: float, images: float, axis: str) -> str:
    if np.isnan(value):
        return "not reached"
    text = f"{value:,.1f} s" if axis == "seconds" else budget_label(value, axis)
    return text + ("" if np.isnan(images) else f" ({images:,.0f} img)")


def ranking_table(curves: pd.DataFrame, metric: str, space: str, axis: str = "seconds",
                  machine: str = "", unranked: str = "") -> Table | None:
    """Every model at every common budget from its first point on; tied models share a
    rank; cells of runs that ended before the budget say so: '6.37 (#2, ended 45 s)'.
    `unranked`: why no rank is given (an untrusted judge): the values alone."""
    budgets = common_budgets(curves, axis)
    values = values_at_budgets(curves, budgets, axis)
    if values.empty or values.isna().all().all():
        return None
    at = {c: values_at_budgets(curves, budgets, axis, c) for c in ("std", "seeds", "lo", "hi")}
    ended = ended_before(curves, budgets, axis)
    capped = ended_before(curves, budgets, axis, flat=False)
    first = curves.groupby("model", sort=False)[axis].min()  # its first samples
    low, high = pd.DataFrame(index=values.index), pd.DataFrame(index=values.index)
    cells = pd.DataFrame(index=values.index)
    decimals = 2 if metric == "fid" else 4
    for b in budgets:
        low[b], high[b] = ties.bounds(values[b], at["std"][b], at["seeds"][b], at["lo"][b],
                                      at["hi"][b])
        rank = ties.ranks(values[b], low[b], high[b], "low")
        if unranked:
            rank = pd.Series(np.nan, index=rank.index)
        before = [f if f > b * (1 + OVERSHOOT) else np.nan for f in first.reindex(values.index)]
        cells[b] = [_cell(v, r, e, c, f, decimals, axis) for v, r, e, c, f in
                    zip(values[b], rank, ended[b], capped[b], before, strict=True)]
    labels = [budget_label(b, axis) for b in budgets]
    for frame in (values, low, high, cells):
        frame.columns, frame.index.name = labels, "model"
    caption = (f"{metric.upper()} [{space}] of each model at common budgets of {UNIT[axis]}: "
               "its last curve point at or before the budget (a run of that budget: its final "
               "point, within a step of it); a run its stop rule ended before the budget "
               "(curve flat) counts with its final point, marked 'ended'; a run its budget "
               "or cap ended before has no value there ('trained to', never extrapolated). "
               "Rank in brackets, shared by ties (overlapping intervals); lower is better. "
               "'first samples at': a model that draws no samples before then (the "
               "VQ-VAE before its prior has trained)."
               + (machine if axis == "seconds" else ""))
    name = "training budgets" if axis == "seconds" else "FLOP budgets"
    return Table("ranking" if axis == "seconds" else "ranking-flops",
                 f"Ranking at common {name} [{metric.upper()}, {space}]",
                 _unranked_caption(caption, unranked), cells, values,
                 {c: "low" for c in labels}, low=low, high=high,
                 unranked=dict.fromkeys(labels, unranked) if unranked else {})


def _cell(value: float, rank: float, end: float, capped: float, first: float,
          decimals: int, axis: str) -> str:
    if np.isnan(value):
        why = (f"trained to {_end_text(capped, axis)}" if not np.isnan(capped) else
               f"first samples at {_end_text(first, axis)}" if not np.isnan(first) else "")
        return format_value(value) + (f" ({why})" if why else "")
    notes = ([] if np.isnan(rank) else [f"#{int(rank)}"]) + (
        [] if np.isnan(end) else [f"ended {_end_text(end, axis)}"])
    text = format_value(value, decimals=decimals)
    return f"{text} ({', '.join(notes)})" if notes else text


def _end_text(end: float, axis: str) -> str:
    return f"{end:,.0f} s" if axis == "seconds" and end >= 10 else budget_label(end, axis)


def verdict(ranking: Table, families: dict[str, str], metric: str) -> str:
    """Who leads at each common budget (ties named as ties), consecutive budgets with the
    same leaders merged: 'At 7.5 s cvae leads (FID 9.1); from 120 s on, diffusion (FID 4.5).'"""
    columns = [c for c in ranking.values.columns if ranking.values[c].notna().sum() >= 2]
    if not columns or ranking.unranked:
        return ""
    name = metric.upper()

    def who(models: list[str]) -> str:
        return ties.names([m if families.get(m, m) == m else f"{m} ({families[m]} family)"
                           for m in models], mark=False)

    def value(models: list[str], column: str) -> str:
        best = ranking.values.loc[models, column].min()
        return f"{name} {best:.2f}" if len(models) == 1 else f"tied; best {name} {best:.2f}"

    segments: list[tuple[list[str], list[str]]] = []  # (leaders, consecutive budgets)
    for column in columns:
        leaders = ranking.tied(column)
        if segments and segments[-1][0] == leaders:
            segments[-1][1].append(column)
        else:
            segments.append((leaders, [column]))
    parts = []
    for i, (leaders, span) in enumerate(segments):
        if i and i == len(segments) - 1:
            where = f"from {span[0]} on"
        elif len(span) == 1:
            where = f"at {span[0]}"
        else:
            where = f"from {span[0]} to {span[-1]}"
        verb = "" if i else (" lead" if len(leaders) > 1 else " leads")
        at = f" at {span[-1]}" if len(span) > 1 else ""
        if ranking.named(span[-1]) == "no winner":  # nothing separates any of them
            parts.append(f"{where}, no model leads (all {len(leaders)} "
                         f"{value(leaders, span[-1])}{at})")
            continue
        parts.append(f"{where}, {who(leaders)}{verb} ({value(leaders, span[-1])}{at})")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."
