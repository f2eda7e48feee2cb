"""The headline of a dataset: the best model for each question and the trade-off, in words
generated from the tables' own numbers (never written by hand), so that it always matches them.
"""

from __future__ import annotations

from dataclasses import dataclass

from genbench.reports.tables import Table


@dataclass
class Finding:
    """'Best samples: cvae (FID 2.90 [classifier, n=2000])'."""

    question: str
    model: str
    value: str
    table: str  # the Table.key it comes from
    column: str


def _lead(table: Table, column: str, question: str, text: str) -> Finding | None:
    """The leader of `column`; `text` formats its value, e.g. "{value:.2f} ms per image"."""
    if column not in table.values:
        return None
    leader = table.leader(column)
    if leader is None:
        return None
    model, value = leader
    tied = list(table.values.index[table.values[column] == value])
    if len(tied) > 1:
        model = " and ".join(tied) + " (tied)"
    return Finding(question, model, text.format(value=value), table.key, column)


def _bracket(column: str) -> str:
    """'FID [classifier, n=2000]' -> ' [classifier, n=2000]'."""
    return column[column.index(" ["):] if " [" in column else ""


def findings(tables: list[Table]) -> list[Finding]:
    """The best model per question, one per table (three for cost), from the tables' values."""
    out: list[Finding | None] = []
    for t in tables:
        columns = list(t.values.columns)
        if not columns:
            continue
        if t.key == "samples":
            fid = [c for c in columns if c.startswith("FID")]
            out.append(_lead(t, fid[0], "Best samples", "FID {value:,.2f}" + _bracket(fid[0]))
                       if fid else None)
        elif t.key == "reconstruction":
            out.append(_lead(t, columns[0], "Best reconstructions", "MSE {value:.4f}"))
        elif t.key == "likelihood":
            nll = [c for c in columns if c.startswith("NLL")]
            k = nll[-1].split("k=")[1].split()[0] if nll else ""
            out.append(_lead(t, nll[-1], "Best likelihood", "{value:,.2f} nats, k=" + k)
                       if nll else None)
        elif t.key == "cost":
            memory = [c for c in columns if c.startswith("peak MB") and "RSS" not in c]
            out += [_lead(t, "train img/s", "Fastest training", "{value:,.0f} images/s"),
                    _lead(t, "sample ms/img", "Fastest sampling", "{value:,.3f} ms per image"),
                    _lead(t, memory[0], "Least memory", "{value:,.1f} MB")
                    if memory else None]
        elif t.key == "time-to-quality":
            reached = [c for c in columns if t.values[c].notna().any()]
            out.append(_lead(t, reached[-1], f"First to {reached[-1]}",
                             "{value:,.1f} s of training") if reached else None)
        elif t.key == "ranking":
            shared = [c for c in columns if t.values[c].notna().sum() >= 2] or columns
            metric = t.title.split("[")[1].split(",")[0] if "[" in t.title else ""
            out.append(_lead(t, shared[-1], f"Best after {shared[-1]} of training",
                             metric + " {value:,.2f}"))
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
    if samples and cost is not None and "sample ms/img" in cost.values:
        ms = cost.values["sample ms/img"].dropna()
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
