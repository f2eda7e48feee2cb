"""'Best samples', said once per feature space (the run's own FID, the label-free FD, FWD), each
with the leader's precision and recall beside its distance, and where fidelity and diversity
disagree with the distance: 'diffusion leads classifier FID but its precision 0.389 is below
ae, vae and cvae (0.415–0.530)'. Only the compared tables (the dataset's main sample count)
are read: the first sample table of each kind (tables.question_tables puts them first)."""

from __future__ import annotations

from dataclasses import dataclass

from genbench.reports import ties
from genbench.reports.finding import NO_WINNER, Finding, lead
from genbench.reports.samples import SECOND, is_scored
from genbench.reports.table import Table

DIVERSITY = ("precision", "recall")  # beside each distance, from the same space's table
KIND = {"precision": "fidelity", "recall": "diversity"}


@dataclass
class Space:
    """One feature space's distance column: 'classifier FID' in the sample table."""

    label: str  # 'classifier FID', 'label-free FD', 'FWD'
    table: Table
    column: str  # 'FID [classifier, n=2000]'
    diversity: bool  # whether its table's precision and recall are measured in this space


def spaces(tables: list[Table]) -> list[Space]:
    """The compared spaces' distance columns, in order: own, label-free, wavelet."""
    own = next((t for t in tables if t.key == "samples"), None)
    second = next((t for t in tables if t.key == f"samples-{SECOND}"), None)
    out = []
    if own is not None:
        fid = next((c for c in own.values.columns if c.startswith("FID [")), None)
        if fid is not None:
            out.append(Space(f"{fid[5:].split(',')[0]} FID", own, fid, True))
    if second is not None:
        fd = next((c for c in second.values.columns if c.startswith("FD [")), None)
        if fd is not None:
            out.append(Space("label-free FD", second, fd, True))
    if own is not None:  # FWD: a column of the own table, with no k-NN metrics of its own
        fwd = next((c for c in own.values.columns if c.startswith("FWD")), None)
        if fwd is not None:
            out.append(Space("FWD", own, fwd, False))
    return out


def _number(table: Table, column: str, value: float) -> str:
    entry = table.metrics.get(column)
    return entry.number(value) if entry is not None else f"{value:,.3f}"


def _value(space: Space, models: list[str]) -> str:
    """'FID 2.90 [classifier, n=2000]; precision 0.415, recall 0.530; final weights ...'."""
    t, column = space.table, space.column
    name, bracket = column.split(" [", 1)
    best = t.values.loc[models, space.column]
    best = best.min() if t.better.get(column) == "low" else best.max()
    text = ("" if len(models) == 1 else "best ") + f"{name} {_number(t, column, best)} [{bracket}"
    said = []
    for key in DIVERSITY if space.diversity else ():
        if key in t.values:
            values = t.values.loc[models, key].dropna()
            if len(values):
                low, high = (_number(t, key, v) for v in (values.min(), values.max()))
                said.append(f"{key} {low}" if low == high else f"{key} {low}–{high}")
    text += f"; {', '.join(said)}" if said else ""
    scored = [m for m in models if is_scored(m)]
    if scored:  # never 'final weights after ... of training': it was not trained here
        text += "; samples supplied, not trained here"
    elif t.basis:
        text += f"; {t.basis}"
    return text


def findings(tables: list[Table]) -> list[Finding]:
    """'Best samples (classifier FID)', '... (label-free FD)', '... (FWD)': a model only
    where separated from the rest, else the tied set or no winner, with the reason."""
    out = []
    for space in spaces(tables):
        found = lead(space.table, space.column, f"Best samples ({space.label})", str)
        if found is None:
            continue
        if found.model != NO_WINNER:
            found.value = _value(space, found.models)
        out.append(found)
    return out


def disagreements(tables: list[Table]) -> list[str]:
    """Where a single distance leader has a clearly lower precision or recall (separated:
    its interval, or the margin) than other models, in the same space."""
    sentences = []
    for space in spaces(tables):
        t = space.table
        leaders = t.tied(space.column)
        if len(leaders) != 1 or not space.diversity:
            continue
        leader, parts, kinds = leaders[0], [], []
        for key in DIVERSITY:
            if key not in t.values or key in t.unranked or not t.values[key].notna().get(
                    leader, False):
                continue
            values = t.values[key]
            above = [m for m in values.dropna().index if m != leader
                     and values[m] > values[leader] and t.separated(key, m, leader)]
            if above:
                low, high = (_number(t, key, values[above].min()),
                             _number(t, key, values[above].max()))
                span = low if low == high else f"{low}–{high}"
                parts.append(f"its {key} {_number(t, key, values[leader])} is below "
                             f"{ties.names(above, mark=False)} ({span})")
                kinds.append(KIND[key])
        if parts:
            sentences.append(f"{leader} leads {space.label} but {' and '.join(parts)}: "
                             f"the distance and {' and '.join(kinds)} disagree on the best.")
    return sentences
