"""When a difference is real: each value's interval, and ties where intervals overlap.

A value's interval is mean ± the sample standard deviation over seeds where there are
several seeds, else the evaluation's own interval (metrics.json's `fid_lo`/`fid_hi`: a
bootstrap of the evaluation) where it has one, else the value itself. The best model and
every model whose interval overlaps the best's are tied: none of them is named the winner.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


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


def tied(values: pd.Series, low: pd.Series, high: pd.Series, better: str | None) -> list:
    """The best entry, then every entry whose interval overlaps the best's (in table order);
    [] without values or without a direction."""
    present = values.dropna()
    if present.empty or better is None:
        return []
    best = _best(present, better)
    return [best] + [m for m in present.index
                     if m != best and low[m] <= high[best] and high[m] >= low[best]]


def ranks(values: pd.Series, low: pd.Series, high: pd.Series, better: str) -> pd.Series:
    """1 + the number of entries clearly better (intervals apart): tied entries share a rank.
    NaN where there is no value."""
    present = values.dropna().index
    out = pd.Series(np.nan, index=values.index)
    for m in present:
        others = present.drop(m)
        clearly = (high[others] < low[m]) if better == "low" else (low[others] > high[m])
        out[m] = 1 + int(clearly.sum())
    return out


def names(models: list, mark: bool = True) -> str:
    """'a' or 'a and b (tied)' or 'a, b and c (tied)' (without the mark: 'a and b')."""
    models = [str(m) for m in models]
    if len(models) == 1:
        return models[0]
    return ", ".join(models[:-1]) + f" and {models[-1]}" + (" (tied)" if mark else "")
