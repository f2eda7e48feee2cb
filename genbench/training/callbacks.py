"""What the Trainer calls between steps, and when: the one hook for work done during training.

A callback runs with the budget clock stopped, so its cost never counts as
training time; the Trainer records that cost separately and checkpoints right
after, so whatever the callback wrote survives a kill and is not redone.

A callback may end training early (a stop rule: the curve is flat) by returning a short
reason ("flat since 120 s"); the run then ends as if its budget were spent, and the
reason is kept in its checkpoint (a resumed run stays stopped) and in TrainResult.stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from genbench.models import GenerativeModel


@dataclass(frozen=True)
class Progress:
    """Where training stands: the x axis of every curve."""

    step: int
    epoch: int
    images: int  # images seen
    seconds: float  # training seconds on the budget clock
    flops: float = 0.0  # training FLOPs (training/flops.py: matmuls and convolutions)
    loss: float | None = None  # mean training loss since the previous callback run
    final: bool = False  # the budget is spent


class Callback(Protocol):
    def resume(self, progress: Progress) -> None:
        """Training (re)starts at `progress`: forget anything recorded after it."""

    def due(self, progress: Progress) -> bool:
        """Whether to run now (cheap; asked after every step and at the end)."""

    def __call__(self, model: GenerativeModel, progress: Progress) -> str | None:
        """Do the work, given the weights to sample from (EMA where kept), in eval mode.

        Return None to let training go on, or a short reason to stop it now ("flat since
        120 s"): the run ends as if its budget were spent (the final callback run still
        happens). A reason returned at the final run is ignored: the budget ended that run.
        """


class LogSpaced:
    """Points at start, start*growth, start*growth^2, ... of a quantity (seconds or steps),
    and always at the end: enough points early, few late, so their cost stays small."""

    def __init__(self, start: float, growth: float = 2.0) -> None:
        if not start > 0 or not growth > 1:
            raise ValueError(f"log-spaced points need start > 0 and growth > 1, got {start}, "
                             f"{growth}")
        self.start, self.growth = start, growth

    def index(self, value: float) -> int:
        """How many points lie at or before `value`."""
        n, point = 0, self.start
        while point <= value * (1 + 1e-9):
            n, point = n + 1, point * self.growth
        return n
