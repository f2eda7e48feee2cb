"""What every measurement shares: its context, the machine's reference rate, a clock.

Every figure is measured in the same run, on the same machine, and reported as a
ratio where a comparison is meant: absolute times on shared machines are noisy.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from genbench import models
from genbench.datasets import ImageData
from genbench.metrics.timing import sync


@dataclass
class Context:
    """Everything a measurement may use; each reads its own knobs from `args`."""

    device: torch.device
    compile: bool
    train: ImageData
    test: ImageData
    out: Path  # perf.json and perf.md go here, and anything a measurement keeps
    cache: Path  # per-dataset artefacts (the FID classifier), shared with genbench's runs
    args: argparse.Namespace


class Stopwatch:
    """Seconds of the work inside `with Stopwatch(device) as watch:`, queued device work
    included; `watch.seconds` after the block."""

    def __init__(self, device: torch.device | None = None) -> None:
        self.device = device or torch.device("cpu")
        self.seconds = 0.0

    def __enter__(self) -> Stopwatch:
        sync(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        sync(self.device)
        self.seconds = time.perf_counter() - self._start


def endless(epoch: Callable[[int], Iterator]) -> Iterator:
    """Batches of epoch 0, 1, 2, ... without end (e.g. `endless(Batches(...).epoch)`)."""
    for e in count():
        yield from epoch(e)


def matmul_rate(device: torch.device, n: int = 2048, seconds: float = 3.0) -> float:
    """float32 FLOP/s of a large square torch.mm: what this machine can do at best."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        torch.mm(a, b)
    count = 0
    with Stopwatch(device) as watch:
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            torch.mm(a, b)
            count += 1
    return count * 2 * n**3 / watch.seconds


def step_flops(model: models.GenerativeModel, x: torch.Tensor, y: torch.Tensor | None) -> int:
    """FLOPs of one training step (forward and backward), counted by PyTorch."""
    optimizers = model.optimizers(1e-3, 0.0)

    def update(loss, optimizer):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()

    counter = FlopCounterMode(display=False)
    with counter:
        model.optimization_step(x, y, optimizers, update)
    return counter.get_total_flops()
