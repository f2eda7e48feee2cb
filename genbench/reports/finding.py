"""One line of the headline: a question, who answers it best, with what value. A model is named
only where the table separates it from the rest (its interval, or the stated margin: ties.py);
tied models are named together, never one of them alone; where every value is tied, or the
table's column is not ranked (an untrusted judge, another sample count), no winner is named and
the line says why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from genbench.reports.table import Table

NO_WINNER = "no winner"


@dataclass
class Finding:
    """'Best samples (classifier FID): cvae (FID 2.90 [classifier, n=2000], ...)'."""

    question: str
    model: str  # 'cvae', 'cvae and gan (tied)', or 'no winner'
    value: str
    table: str  # the Table.key it comes from
    column: str
    models: list[str] = field(default_factory=list)  # the leader, or every tied model


def lead(table: Table, column: str, question: str,
         text: Callable[[float], str]) -> Finding | None:
    """The leader of `column` (with every model tied with it); `text` says its value. None
    where the column has no values or no direction."""
    if column not in table.values or table.values[column].notna().sum() == 0 \
            or table.better.get(column) is None:
        return None
    if column in table.unranked:
        return Finding(question, NO_WINNER, table.unranked[column], table.key, column)
    _, value = table.leader(column)
    said, tied = table.named(column), table.tied(column)
    if said == NO_WINNER:
        return Finding(question, NO_WINNER, f"all {len(tied)} tied; best {text(value)}",
                       table.key, column)
    return Finding(question, said, text(value), table.key, column, tied)
