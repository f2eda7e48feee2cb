"""The headline of a dataset: the best model for each question and the trade-off, in words
generated from the tables' own numbers (never written by hand), so that it always matches them.

A model is named only where the table separates it from the others (finding.py); sample
quality is said per feature space (best_samples.py), with whether the spaces agree
(agreement.py); the curves give one verdict, at the common budget (common_budget.py).
"""

from __future__ import annotations

import pandas as pd

from genbench.reports import agreement, best_samples, common_budget
from genbench.reports.finding import NO_WINNER, Finding, lead
from genbench.reports.metrics import k_of
from genbench.reports.quality import Curves
from genbench.reports.table import Table

__all__ = ["Finding", "findings", "headline", "one_seed_sentence", "trade_off"]


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
        also = _beside(t, column, entry.beside)
        out.append(lead(t, column, question, lambda v, e=entry, c=column, k=k, b=basis, a=also:
                        e.text(v) + a + _bracket(c) + (f", k={k}" if k else "") + b))
    return out


def _beside(t: Table, column: str, key: str | None) -> str:
    """', 1.2e6 sampling FLOPs per image': the leader's value of the metric said beside."""
    other = next((c for c, e in t.metrics.items() if e.key == key), None)
    leader = t.leader(column) if other else None
    if leader is None or pd.isna(t.values.at[leader[0], other]):
        return ""
    return f", {t.metrics[other].text(float(t.values.at[leader[0], other]))}"


def findings(tables: list[Table], curves: Curves | None = None) -> list[Finding]:
    """The best models per question, from the tables' values: sample quality per feature
    space, the registry's other headline metrics, the first to the strictest FID level, and
    the best at the common budget of the curves."""
    out: list[Finding | None] = list(best_samples.findings(tables))
    seen = set()
    for t in tables:
        columns = list(t.values.columns)
        if not columns or t.key in seen:  # a sample table of another n: not compared
            continue
        if t.key.startswith("samples"):
            seen.add(t.key)
        if t.metrics:
            out += [f for f in _registry_findings(t)  # FID: per space, above
                    if f is None or not f.question.startswith("Best samples")]
        elif t.key == "time-to-quality":
            reached = [c for c in columns if t.values[c].notna().any()]
            out.append(lead(t, reached[-1], f"First to {reached[-1]}",
                            lambda v: f"{v:,.1f} s of training") if reached else None)
    if curves is not None:
        out.append(common_budget.finding(curves))
    return [f for f in out if f is not None]


def trade_off(found: list[Finding], tables: list[Table]) -> list[str]:
    """One or two sentences on what the best sampler gives up, from the same numbers."""
    samples = next((f for f in found if f.question.startswith("Best samples")), None)
    recon = next((f for f in found if f.question == "Best reconstructions"), None)
    samples = samples if samples is not None and samples.model != NO_WINNER else None
    sentences = []
    if samples and recon and recon.model != NO_WINNER:
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
            leaders = cost.tied(column)  # within the cost margin of the fastest
            sentences.append(
                f"{samples.model} is also the fastest sampler ({ms.min():.3f} ms per image)."
                if leaders == [samples.model] else
                f"{samples.model} is also among the fastest samplers (tied: "
                f"{ms[samples.model]:.3f} ms per image)."
                if samples.model in leaders else
                f"{samples.model}'s samples cost {ratio:,.0f}× the sampling time of "
                f"{fastest}'s ({ms[samples.model]:,.3f} against {ms.min():,.3f} ms per image)."
                if ratio >= 2 else
                f"{samples.model} samples within 2× of the fastest sampler, {fastest}.")
    return sentences


def one_seed_sentence(part: pd.DataFrame) -> str:
    """Where every model has one seed: what its intervals are, and what they are not."""
    if "seeds" not in part or part.empty or part["seeds"].max() > 1:
        return ""
    return ("Every model has one training seed: its intervals are evaluation noise only (the "
            "evaluation resampled), not the variation between training seeds, which may be "
            "larger.")


def verdict(curves: Curves | None) -> str:
    """The verdict of the curves on the headline's axis (FLOPs where every curve counts them:
    the seconds verdict stays with its table)."""
    if curves is None:
        return ""
    axis = common_budget.axis_of(curves)
    said = curves.verdict(axis)
    return f"In training FLOPs: {said[:1].lower()}{said[1:]}" if said and axis == "flops" \
        else said


def headline(tables: list[Table], curves: Curves | None = None,
             part: pd.DataFrame | None = None) -> tuple[list[Finding], list[str]]:
    """(findings, sentences) of one dataset; `part`: its summary rows (for the seeds). The
    sentences: what the intervals are, where fidelity and diversity disagree with the
    distance, whether the spaces agree, the trade-off, the curves' verdict and slopes."""
    found = findings(tables, curves)
    sentences = [one_seed_sentence(part) if part is not None else ""]
    sentences += best_samples.disagreements(tables)
    sentences += [agreement.leader_sentence(tables), agreement.tau_sentence(tables)]
    sentences += trade_off(found, tables)
    if curves is not None:
        sentences += [verdict(curves), common_budget.slope_sentence(curves)]
    return found, [s for s in sentences if s]
