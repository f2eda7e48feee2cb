"""When a difference is real: each value's interval, and ties where intervals overlap.

A value's interval is mean ± the sample standard deviation over seeds where there are
several seeds, else the evaluation's own interval (metrics.json's `fid_lo`/`fid_hi`: a
bootstrap of the evaluation) where it has one, else none. Two values are tied when their
intervals overlap, or when they are within a relative margin: NO_INTERVAL where either has no
interval (a single number cannot show its own noise), and a table's own margin whatever the
intervals (COST for times and memory: a few per cent between two runs of the same code on a
shared machine is noise that a seed's std does not show). The best model and every model tied
with it are named together; none of them is named the winner.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NO_INTERVAL = 0.02  # values without an interval: within 2% of each other are tied
COST = 0.05  # times and memory (the cost rows, time to quality): within 5% are tied
RULE = (f"with every value tied with it: overlapping intervals, or within {NO_INTERVAL:.0%} "
        f"where a value has no interval, or within {COST:.0%} for times and memory. A model "
        "is named best only where nothing ties with it; 'no winner' where every value ties.")


def bounds(value: pd.Series, std: pd.Series | None = None, count: pd.Series | None = None,
           lo: pd.Series | None = None, hi: pd.Series | None = None
           ) -> tuple[pd.Series, pd.Series]:
    """(low, high) of each value's interval (aligned Series; missing parts may be None)."""
    value = value.astype(float)

    def part(series, fill=np.nan):
        return (pd.Series(fill, index=value.index) if series is None
                else pd.Series(series, index=value.index).astype(float))

    std, count = part(std), part(count, 1)
    seeds = (count > 1) & std.notna()
    low = value.where(~seeds, value - std)
    high = value.where(~seeds, value + std)
    lo, hi = part(lo), part(hi)
    evaluated = ~seeds & lo.notna() & hi.notna()
    return low.where(~evaluated, lo), high.where(~evaluated, hi)


def _best(values: pd.Series, better: str) -> str:
    return values.idxmin() if better == "low" else values.idxmax()


def separated(a, b, values: pd.Series, low: pd.Series, high: pd.Series,
              margin: float = 0.0) -> bool:
    """Whether entries `a` and `b` differ: their intervals apart and their values further
    apart than the margin (NO_INTERVAL at least where either has no interval)."""
    if high[a] < low[b] or high[b] < low[a]:
        bare = not (low[a] < high[a] and low[b] < high[b])
        allowed = max(margin, NO_INTERVAL if bare else 0.0)
        gap, scale = abs(values[a] - values[b]), max(abs(values[a]), abs(values[b]))
        return gap > allowed * scale
    return False


def tied(values: pd.Series, low: pd.Series, high: pd.Series, better: str | None,
         margin: float = 0.0) -> list:
    """The best entry, then every entry not separated from it (in table order); [] without
    values or without a direction."""
    present = values.dropna()
    if present.empty or better is None:
        return []
    best = _best(present, better)
    return [best] + [m for m in present.index
                     if m != best and not separated(m, best, values, low, high, margin)]


def ranks(values: pd.Series, low: pd.Series, high: pd.Series, better: str,
          margin: float = 0.0) -> pd.Series:
    """1 + the number of entries clearly better (separated and better): tied entries share a
    rank. NaN where there is no value."""
    present = values.dropna().index
    out = pd.Series(np.nan, index=values.index)
    for m in present:
        ahead = [o for o in present.drop(m) if (values[o] < values[m] if better == "low"
                                                 else values[o] > values[m])]
        out[m] = 1 + sum(separated(o, m, values, low, high, margin) for o in ahead)
    return out


def names(models: list, mark: bool = True) -> str:
    """'a' or 'a and b (tied)' or 'a, b and c (tied)' (without the mark: 'a and b')."""
    models = [str(m) for m in models]
    if len(models) == 1:
        return models[0]
    return ", ".join(models[:-1]) + f" and {models[-1]}" + (" (tied)" if mark else "")


def named(leaders: list, ranked: int) -> str:
    """What a headline says of the leaders among `ranked` values: the model, the tied set,
    or 'no winner' where every value is tied with the best (nothing separates them)."""
    if len(leaders) > 1 and len(leaders) == ranked:
        return "no winner"
    return names(leaders)
