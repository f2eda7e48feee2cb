"""The headline's 'Best after ...': the models compared at one common budget of compute, the
largest that every model reaches (a run its stop rule ended counts past its end with its final
point; one its budget or cap ended does not: reports/budgets.py), on the FLOP axis where every
curve counts FLOPs, since FLOPs are the same on any machine; in this machine's seconds only
where they do not. The FLOP budget is also said in this machine's seconds (what the models
took to reach it), and each model's slope at the end of its curve (its FID change over its
last doubling of FLOPs), so that a reader sees who would gain from more compute. One verdict
per dataset: two that disagree only because of their axis would contradict each other."""

from __future__ import annotations

import pandas as pd

from genbench.reports.budgets import common_budgets, last_doubling, values_at_budgets
from genbench.reports.finding import Finding, lead
from genbench.reports.quality import Curves
from genbench.reports.table import Table


def axis_of(curves: Curves) -> str:
    """'flops' where every curve counts FLOPs (and they rank), else 'seconds'."""
    return "flops" if "flops" in curves.axes and curves.ranking("flops") is not None \
        else "seconds"


def common_column(ranking: Table) -> tuple[str, list[str]] | None:
    """(the largest budget every model has a value at, []); where no budget has every model:
    the largest with at least two, and the models without a value there. None without one."""
    values = ranking.values
    full = [c for c in values.columns if values[c].notna().all()]
    if full:
        return full[-1], []
    shared = [c for c in values.columns if values[c].notna().sum() >= 2]
    if not shared:
        return None
    return shared[-1], [str(m) for m in values.index[values[shared[-1]].isna()]]


def _seconds(values: pd.Series) -> str:
    """'3.8–30 s' (or '30 s' where the models took about the same)."""
    def one(v: float) -> str:
        return f"{v:,.1f}" if v < 10 else f"{v:,.0f}"

    low, high = values.min(), values.max()
    return f"{one(low)} s" if one(low) == one(high) else f"{one(low)}–{one(high)} s"


def finding(curves: Curves) -> Finding | None:
    """'Best after 1e11 training FLOPs: slow (FID 8.00; the largest FLOP budget every model
    reaches, 3.8–30 s of training on this machine)'."""
    axis = axis_of(curves)
    ranking = curves.ranking(axis)
    chosen = common_column(ranking) if ranking is not None else None
    if chosen is None:
        return None
    column, missing = chosen
    name, decimals = curves.metric.upper(), 2 if curves.metric == "fid" else 4
    budget = common_budgets(curves.frame, axis)[list(ranking.values.columns).index(column)]
    if axis == "flops":
        question = f"Best after {column.removesuffix(' FLOPs')} training FLOPs"
        took = values_at_budgets(curves.frame, [budget], axis, "seconds")[budget].dropna()
        where = (f"; the largest FLOP budget every model reaches, {_seconds(took)} of training"
                 " on this machine" if not missing else
                 f"; {_seconds(took)} of training on this machine")
    else:
        question, where = f"Best after {column} of training", (
            "; the largest budget every model reaches" if not missing else "")
    where += f"; not reached by {', '.join(missing)}" if missing else ""
    return lead(ranking, column, question,
                lambda v: f"{name} {v:,.{decimals}f}{where}")


def slope_sentence(curves: Curves) -> str:
    """'At the end of training, FID per doubling of training FLOPs: vae −12%, gan −3% (the
    steeper the fall, the more a model would gain from more compute).' '' without FLOPs."""
    if axis_of(curves) != "flops" or curves.unranked:
        return ""
    slopes = last_doubling(curves.frame, "flops").dropna().sort_values()
    if slopes.empty:
        return ""
    said = ", ".join(f"{m} " + f"{v:+.0%}".replace("-", "−") for m, v in slopes.items())
    return (f"At the end of its curve, each model's {curves.metric.upper()} change over its "
            f"last doubling of training FLOPs: {said} (the steeper the fall, the more it would "
            "gain from more compute).")
