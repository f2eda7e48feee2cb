"""What a checkpoint holds: everything the training loop depends on.

Weights, the EMA copy, optimizer and scheduler state, the random state and the
loop's state (training/state.py, as a plain dict), so that a resumed run continues
exactly where an uninterrupted one would be.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.optim.swa_utils import AveragedModel

from genbench.io import atomic_torch_save, torch_load
from genbench.models import GenerativeModel
from genbench.training.state import TrainState

CHECKPOINT = "checkpoint.pt"


def save(path: Path, model: GenerativeModel, ema: AveragedModel | None, optimizers: list,
         schedulers: list, state: TrainState) -> None:
    atomic_torch_save(path, {
        "model": model.state_dict(),
        "ema": ema.state_dict() if ema is not None else None,
        "optimizers": [o.state_dict() for o in optimizers],
        "schedulers": [s.state_dict() for s in schedulers],
        "state": state.to_dict(),
        "rng": {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
    })


def read(path: Path | None) -> dict[str, Any] | None:
    """The checkpoint at `path`, None when there is none."""
    return torch_load(path, "checkpoint") if path and path.exists() else None


def saved_state(ckpt: dict[str, Any] | None) -> TrainState:
    """The loop's state in `ckpt`; a fresh one without a checkpoint."""
    return TrainState.from_dict(ckpt["state"]) if ckpt else TrainState()


def restore(ckpt: dict[str, Any], model: GenerativeModel, ema: AveragedModel | None,
            optimizers: list, schedulers: list) -> None:
    """Loads `ckpt` into the loop's objects and the random state."""
    model.load_state_dict(ckpt["model"])
    if ema is not None and ckpt.get("ema") is not None:
        ema.load_state_dict(ckpt["ema"])
    for o, s in zip(optimizers, ckpt["optimizers"], strict=True):
        o.load_state_dict(s)
    for sch, s in zip(schedulers, ckpt["schedulers"], strict=True):
        sch.load_state_dict(s)
    torch.set_rng_state(ckpt["rng"]["torch"])
    if ckpt["rng"].get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
