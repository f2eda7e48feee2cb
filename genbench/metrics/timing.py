"""Cost of a model: parameters, sampling throughput, peak memory."""

from __future__ import annotations

import resource
import sys
import time

import torch

from genbench.datasets import to_uint8
from genbench.models import GenerativeModel


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def generate(model: GenerativeModel, n: int, batch_size: int = 500,
             labels: torch.Tensor | None = None, seed: int = 0) -> tuple[torch.Tensor, float]:
    """n samples as uint8 on the CPU, and the sampling rate in images per second."""
    torch.manual_seed(seed)
    if model.conditional and labels is None:
        labels = torch.arange(n) % model.num_classes
    out, seconds = [], 0.0
    for i in range(0, n, batch_size):
        m = min(batch_size, n - i)
        y = None if labels is None else labels[i:i + m].to(model.device)
        _sync(model.device)
        t0 = time.perf_counter()
        x = model.sample(m, y)
        _sync(model.device)
        seconds += time.perf_counter() - t0
        out.append(to_uint8(x.float()).cpu())
    return torch.cat(out), n / max(seconds, 1e-9)


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory of this process: CUDA allocator peak on a GPU, else peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10
