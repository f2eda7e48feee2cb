"""Where the training loop stands: the one record a checkpoint carries and a resume reads."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass
class TrainState:
    step: int = 0
    epoch: int = 0
    batch: int = 0  # batches done in the current epoch (a resume starts at the next one)
    seconds: float = 0.0  # training seconds on the budget clock
    eval_seconds: float = 0.0  # spent in callbacks, outside the budget
    loss_sum: float = 0.0  # the training loss summed since the last callback run
    loss_steps: int = 0
    flops_per_step: float | None = None  # counted once per run, before its first step
    finished: bool = False  # the final callbacks ran and the last checkpoint was written
    stopped: str | None = None  # why a callback ended the run early; None: its budget did

    @property
    def flops(self) -> float:
        """Training FLOPs so far: every step costs what the counted one did."""
        return self.step * (self.flops_per_step or 0.0)

    @property
    def mean_loss(self) -> float | None:
        return self.loss_sum / self.loss_steps if self.loss_steps else None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainState:
        """A saved state; fields added since it was written take their defaults."""
        return cls(**values)
