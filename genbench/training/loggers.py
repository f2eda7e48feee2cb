"""Where training curves go: a CSV file always, wandb when asked."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from genbench.io import atomic_write_text
from genbench.training.state import TrainState

LOSS_CURVE = "loss.csv"  # the run directory's loss log (benchmarks/store.py lists it)


class LossWindow:
    """The mean losses and images/s over the steps since the last logged row."""

    def __init__(self, seconds: float) -> None:
        self.sums: dict[str, float] = {}
        self.steps, self.start = 0, seconds

    def add(self, losses: dict[str, float]) -> None:
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.steps += 1

    def row(self, state: TrainState, batch_size: int, lr: float) -> dict[str, Any]:
        """The window's row of loss.csv, at `state`; the next window starts there."""
        seconds = state.seconds
        row = {"step": state.step, "epoch": state.epoch, "seconds": round(seconds, 3),
               "flops": state.flops,
               "images_per_second": self.steps * batch_size / max(seconds - self.start, 1e-9),
               "lr": lr, **{k: v / self.steps for k, v in self.sums.items()}}
        self.sums, self.steps, self.start = {}, 0, seconds
        return row


class CSVLogger:
    """loss.csv: one row per logged step. On resume, rows past the checkpoint are dropped.
    The file always has its header, even before the first row."""

    FIELDS = ("step", "epoch", "seconds", "flops", "images_per_second", "lr", "loss")

    def __init__(self, path: Path, resume_step: int = 0) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []
        if resume_step and path.exists():
            with path.open() as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        self._flush()

    def log(self, row: dict[str, Any]) -> None:
        self.rows.append(row)

    def _flush(self) -> None:
        fields = list(dict.fromkeys([*self.FIELDS, *(k for r in self.rows for k in r)]))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.path, out.getvalue())

    def flush(self) -> None:
        self._flush()


class WandbLogger:
    """Optional Weights & Biases logging; offline unless WANDB_MODE says otherwise."""

    def __init__(self, name: str, config: dict[str, Any], directory: Path,
                 project: str = "genbench") -> None:
        import wandb

        os.environ.setdefault("WANDB_MODE", "offline")
        os.environ.setdefault("WANDB_SILENT", "true")
        self.run = wandb.init(project=project, name=name, config=config, dir=str(directory),
                              reinit="finish_previous")

    def log(self, row: dict[str, Any]) -> None:
        self.run.log(row, step=int(row["step"]))

    def flush(self) -> None:
        pass

    def finish(self) -> None:
        self.run.finish()
