"""The headline of a dataset: the best model for each question and the trade-off, in words
generated from the tables' own numbers (never written by hand), so that it always matches them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from genbench.reports import ties
from genbench.reports.metrics import k_of
from genbench.reports.table import Table


@dataclass
class Finding:
    """'Best samples: cvae (FID 2.90 [classifier, n=2000], ...)'; tied models are named
    together, never one of them alone."""

    question: str
    model: str  # 'cvae', or 'cvae and gan (tied)'
    value: str
    table: str  # the Table.key it comes from
    column: str
    models: list[str] = field(default_factory=list)  # the leader, or every tied model


def _lead(table: Table, column: str, question: str, text: Callable[[float], str]
          ) -> Finding | None:
    """The leader of `column` (with every model tied with it); `text` says its value."""
    if column not in table.values or table.leader(column) is None:
        return None
    _, value = table.leader(column)
    tied = table.tied(column)
    return Finding(question, ties.names(tied), text(value), table.key, column, tied)


def _bracket(column: str) -> str:
    """'FID [classifier, n=2000]' -> ' [classifier, n=2000]'."""
    return column[column.index(" ["):] if " [" in column else ""


def _registry_findings(t: Table) -> list[Finding | None]:
    """One finding per headline question of the registry's metrics in the table (a family
    of keys, e.g. NLL at several k: its largest k)."""
    chosen: dict[str, str] = {}
    for column, entry in t.metrics.items():
        if entry.headline is None or "RSS" in column:  # a process's RSS: not per model
            continue
        if entry.headline not in chosen or (k_of(entry.key) or 0) > (
                k_of(t.metrics[chosen[entry.headline]].key) or 0):
            chosen[entry.headline] = column
    out = []
    for question, column in chosen.items():
        entry, k = t.metrics[column], k_of(t.metrics[column].key)
        basis = f"; {t.basis}" if t.basis else ""
        out.append(_lead(t, column, question, lambda v, e=entry, c=column, k=k, b=basis:
                         e.text(v) + _bracket(c) + (f", k={k}" if k else "") + b))
    return out


def findings(tables: list[Table]) -> list[Finding]:
    """The best models per question, from the tables' values: the registry's headline metrics,
    the first to the strictest FID level, and the best at the longest common budgets."""
    out: list[Finding | None] = []
    for t in tables:
        columns = list(t.values.columns)
        if not columns:
            continue
        if t.metrics:
            out += _registry_findings(t)
        elif t.key == "time-to-quality":
            reached = [c for c in columns if t.values[c].notna().any()]
            out.append(_lead(t, reached[-1], f"First to {reached[-1]}",
                             lambda v: f"{v:,.1f} s of training") if reached else None)
        elif t.key in ("ranking", "ranking-flops"):
            shared = [c for c in columns if t.values[c].notna().sum() >= 2] or columns
            metric = t.title.split("[")[1].split(",")[0] if "[" in t.title else ""
            budget = (f"{shared[-1]} of training" if t.key == "ranking"
                      else f"{shared[-1].removesuffix(' FLOPs')} training FLOPs")
            out.append(_lead(t, shared[-1], f"Best after {budget}",
                             lambda v, m=metric: f"{m} {v:,.2f}"))
    return [f for f in out if f is not None]


def trade_off(found: list[Finding], tables: list[Table]) -> list[str]:
    """One or two sentences on what the best sampler gives up, from the same numbers."""
    by_question = {f.question: f for f in found}
    sentences = []
    samples, recon = by_question.get("Best samples"), by_question.get("Best reconstructions")
    if samples and recon:
        sentences.append(
            f"{samples.model} gives both the best samples and the best reconstructions."
            if samples.model == recon.model else
            f"The best samples come from {samples.model}, the best reconstructions from "
            f"{recon.model}: no model leads both.")
    cost = next((t for t in tables if t.key == "cost"), None)
    column = next((c for c, e in cost.metrics.items() if e.key == "sample_ms_per_image"),
                  None) if cost is not None else None
    if samples and len(samples.models) == 1 and column is not None:
        ms = cost.values[column].dropna()
        if samples.model in ms and len(ms) > 1:
            fastest, ratio = ms.idxmin(), ms[samples.model] / ms.min()
            sentences.append(
                f"{samples.model} is also the fastest sampler ({ms.min():.3f} ms per image)."
                if fastest == samples.model else
                f"{samples.model}'s samples cost {ratio:,.0f}× the sampling time of "
                f"{fastest}'s ({ms[samples.model]:,.3f} against {ms.min():,.3f} ms per image)."
                if ratio >= 2 else
                f"{samples.model} samples within 2× of the fastest sampler, {fastest}.")
    return sentences


def headline(tables: list[Table], verdict: str = "") -> tuple[list[Finding], list[str]]:
    """(findings, sentences) of one dataset: the sentences are the trade-off and the verdict
    of the quality curves."""
    found = findings(tables)
    return found, trade_off(found, tables) + ([verdict] if verdict else [])
