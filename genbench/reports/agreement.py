"""Do the feature spaces agree? Whether the run's own space, the label-free space and FWD name
the same leader; Kendall's τ between each pair of their rankings of the models; and, where the
own and the label-free space disagree (τ below TAU), the models whose ranks differ most, with
their values in both, so that a reader can look at those models' samples and judge.

Spaces whose judge is not trusted (reports/gate.py) take no part: their order is noise."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genbench.metrics.uncertainty import rank_agreement
from genbench.reports import ties
from genbench.reports.best_samples import Space, spaces
from genbench.reports.table import Table

TAU = 0.6  # below it the own and label-free rankings disagree: the disagreement rows
MIN_MODELS = 3  # τ over two models is ±1 whatever their values: said from three on
ROWS = 4  # disagreement rows shown at most


def _trusted(tables: list[Table]) -> list[Space]:
    return [s for s in spaces(tables) if s.column not in s.table.unranked]


def _tau(tau: float) -> str:
    return f"{tau:.2f}".replace("-", "−")  # the minus sign, as the report prints it


def _values(space: Space) -> pd.Series:
    return space.table.values[space.column].dropna()


def leader_sentence(tables: list[Table]) -> str:
    """'The three spaces agree on the leader: diffusion.' or who each names; '' with fewer
    than two trusted spaces."""
    shown = _trusted(tables)
    if len(shown) < 2:
        return ""
    named = {s.label: ties.named(s.table.tied(s.column), len(_values(s))) for s in shown}
    count = {2: "two", 3: "three"}.get(len(shown), str(len(shown)))
    if len(set(named.values())) == 1:
        return f"The {count} spaces ({', '.join(named)}) agree on the leader: " \
               f"{next(iter(named.values()))}."
    return "The spaces disagree on the leader: " + "; ".join(
        f"{label}: {who}" for label, who in named.items()) + "."


def taus(tables: list[Table]) -> dict[tuple[str, str], tuple[float, int]]:
    """(label, label) -> (Kendall's τ, models) for each pair of trusted spaces with at least
    MIN_MODELS models scored in both."""
    shown, out = _trusted(tables), {}
    for i, a in enumerate(shown):
        for b in shown[i + 1:]:
            both = pd.concat([_values(a), _values(b)], axis=1, join="inner")
            if len(both) >= MIN_MODELS:
                tau = rank_agreement(both.iloc[:, 0].to_dict(), both.iloc[:, 1].to_dict())
                out[(a.label, b.label)] = (tau, len(both))
    return out


def tau_sentence(tables: list[Table]) -> str:
    """"Kendall's τ between the spaces' rankings of the 8 models: classifier FID vs
    label-free FD 0.71, ...'; '' without a pair."""
    pairs = taus(tables)
    counts = {n for _, n in pairs.values()}
    if not pairs:
        return ""
    same = len(counts) == 1
    said = ", ".join(f"{a} vs {b} {_tau(tau)}" + ("" if same else f" ({n} models)")
                     for (a, b), (tau, n) in pairs.items())
    over = f" of the {counts.pop()} models" if same else ""
    return (f"Kendall's τ between the spaces' rankings{over}: {said} (1: the same order, "
            "−1: reversed).")


def disagreement_table(tables: list[Table], dataset: str) -> Table | None:
    """Where τ between the own space and the label-free one is below TAU: the models whose
    ranks differ most (at most ROWS), their value and rank in each space; None otherwise."""
    shown = _trusted(tables)
    own = next((s for s in shown if s.label.endswith(" FID")), None)
    free = next((s for s in shown if s.label == "label-free FD"), None)
    pair = taus(tables).get((own.label, free.label)) if own and free else None
    if pair is None or pair[0] >= TAU:
        return None
    both = pd.concat([_values(own), _values(free)], axis=1, join="inner")
    both.columns = [own.column, free.column]
    ranks = both.rank(method="min")  # 1: the lowest distance
    shift = (ranks.iloc[:, 1] - ranks.iloc[:, 0])
    order = shift.abs().sort_values(ascending=False, kind="stable")
    chosen = order[order > 0].index[:ROWS]
    index = pd.Index(chosen, name="model")
    values = pd.DataFrame({own.column: both.loc[chosen, own.column],
                           f"rank by {own.label}": ranks.loc[chosen, own.column],
                           free.column: both.loc[chosen, free.column],
                           f"rank by {free.label}": ranks.loc[chosen, free.column]},
                          index=index)
    cells = pd.DataFrame(index=index)
    for column in values.columns:
        decimals = 0 if column.startswith("rank") else 2
        cells[column] = [f"{v:,.{decimals}f}" if not np.isnan(v) else "–"
                         for v in values[column]]
    caption = (f"Kendall's τ = {_tau(pair[0])} between {own.column} and {free.column} over "
               f"{pair[1]} models, below {TAU}: the two spaces rank the models differently. "
               "The models whose ranks differ most, with their value and rank (1: the lowest "
               "distance) in each space. Look at their samples (Samples from every model, "
               f"figures/{dataset}-samples.png) to judge which space is right about them.")
    return Table("disagreement", f"Where the spaces disagree [{own.label} vs {free.label}]",
                 caption, cells, values)
