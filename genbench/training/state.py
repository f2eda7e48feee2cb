"""Where the training loop stands: the one record a checkpoint carries and a resume reads."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainState:
    step: int = 0
    epoch: int = 0
    batch: int = 0  # batches done in the current epoch (a resume starts at the next one)
    seconds: float = 0.0  # training seconds on the budget clock
    eval_seconds: float = 0.0  # spent in callbacks, outside the budget
    # fitting a latent sampler for them (prepare_sampling), outside the budget and apart
    # from evaluation
    sampler_seconds: float = 0.0
    loss_sum: float = 0.0  # the training loss summed since the last callback run
    loss_steps: int = 0
    # FLOPs of one step of each training phase (models/base.py training_phase), counted when
    # the phase is first met, and the steps done in it: keys are phases, as strings (JSON).
    phase_flops: dict[str, float] = field(default_factory=dict)
    phase_steps: dict[str, int] = field(default_factory=dict)
    finished: bool = False  # the final callbacks ran and the last checkpoint was written
    stopped: str | None = None  # why a callback ended the run early; None: its budget did

    @property
    def flops(self) -> float:
        """Training FLOPs so far: each step costs what the counted step of its phase did."""
        return sum(steps * self.phase_flops[p] for p, steps in self.phase_steps.items())

    @property
    def first_step_flops(self) -> float | None:
        """The first phase's cost of a step: what a FLOP budget's step count is planned with,
        the same for a fresh and a resumed run."""
        return next(iter(self.phase_flops.values()), None)

    @property
    def mean_loss(self) -> float | None:
        return self.loss_sum / self.loss_steps if self.loss_steps else None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainState:
        """A saved state; fields added since it was written take their defaults."""
        values = dict(values)
        legacy = values.pop("flops_per_step", None)  # states before per-phase counts
        if legacy is not None and "phase_flops" not in values:
            values["phase_flops"], values["phase_steps"] = {"0": legacy}, {"0": values["step"]}
        return cls(**values)
