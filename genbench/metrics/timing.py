"""Cost of a model: parameters, sampling throughput, peak memory."""

from __future__ import annotations

import itertools
import os
import platform
import time
from collections.abc import Callable

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from genbench.datasets import ImageData, to_float, to_uint8
from genbench.models import GenerativeModel


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a clock read after it counts that work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def generate(model: GenerativeModel, n: int, batch_size: int = 500,
             labels: torch.Tensor | None = None, seed: int = 0,
             check: Callable[[torch.Tensor], torch.Tensor] | None = None,
             sample: Callable[[int, torch.Tensor | None], torch.Tensor] | None = None
             ) -> tuple[torch.Tensor, float]:
    """n samples as uint8 on the CPU, and the sampling rate in images per second. `check`
    turns each batch into uint8 (the judge's, which refuses what is not an image); it is not
    timed. A conditional model draws the classes in turn unless `labels` are given. `sample`:
    how to draw m images (default `model.sample`; the NFE sweep's solver at a fixed NFE)."""
    sample = sample or model.sample
    torch.manual_seed(seed)
    if model.conditional and labels is None:
        labels = torch.arange(n) % model.num_classes
    out, seconds = [], 0.0
    for i in range(0, n, batch_size):
        m = min(batch_size, n - i)
        y = None if labels is None else labels[i:i + m].to(model.device)
        sync(model.device)
        t0 = time.perf_counter()
        x = sample(m, y)
        sync(model.device)
        seconds += time.perf_counter() - t0
        out.append(check(x.detach()) if check else to_uint8(x.float()).cpu())
    return torch.cat(out), n / max(seconds, 1e-9)


@torch.no_grad()
def sampling_flops(model: GenerativeModel, n: int = 4,
                   sample: Callable[[int, torch.Tensor | None], torch.Tensor] | None = None
                   ) -> float:
    """Network FLOPs per sampled image, counted like training FLOPs (torch.utils.flop_counter:
    matmuls and convolutions; training/flops.py says what it leaves out) on a batch of `n`,
    with the random stream left as it was."""
    sample = sample or model.sample
    devices = [model.device] if model.device.type == "cuda" else []
    counter = FlopCounterMode(display=False)
    with torch.random.fork_rng(devices=devices):
        labels = model.random_labels(n)
        with counter:
            sample(n, labels)
    return counter.get_total_flops() / n


CUDA_PEAK = "CUDA, peak allocated over the run"
STEP_PEAK = "live tensors in a training step"


def cuda_peak(device: torch.device) -> dict[str, float | str]:
    """The CUDA allocator's peak over the run (reset by the caller before training)."""
    mb = torch.cuda.max_memory_allocated(device) / 2**20
    return {"peak_memory_mb": mb, "peak_memory_measure": CUDA_PEAK}


def step_memory(device: torch.device, model: GenerativeModel, data: ImageData,
                batch_size: int, weight_decay: float = 0.0) -> dict[str, float | str] | None:
    """Off CUDA, the peak of live tensors during one training step of `model` (weights,
    optimizer state, batch, activations and gradients): the process's resident size says
    nothing about the model (several runs share one process, and the peak RSS only grows).
    None on CUDA, whose allocator's peak over the run is read after training (cuda_peak).

    Measured on the run's own model before it trains, and left as it was: the step's
    learning rate is 0 (the weights stay), a throwaway optimizer holds the state, the
    buffers (batch-norm statistics, step counters) are put back and the random stream is
    forked."""
    if device.type == "cuda":
        return None
    model = model.to(device)
    x = to_float(data.images[:batch_size]).to(device)
    y = None if data.labels is None else data.labels[:batch_size].to(device)
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    was_training = model.training
    with torch.random.fork_rng(devices=[]):
        mb = training_step_bytes(model, (x, y), 0.0, weight_decay) / 2**20
    with torch.no_grad():
        for name, b in model.named_buffers():
            b.copy_(buffers[name])
    for p in model.parameters():
        p.grad = None
    model.train(was_training)
    return {"peak_memory_mb": mb, "peak_memory_measure": f"{device.type.upper()}, {STEP_PEAK}"}


def training_step_bytes(model: GenerativeModel, batch: tuple[torch.Tensor, torch.Tensor | None],
                        lr: float, weight_decay: float = 0.0) -> int:
    """Peak bytes of live tensors in one training step (after a first, warm-up step that
    creates the optimizer state), from torch.profiler's allocation events."""
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")  # the profiler's own log lines are noise
    model.train()
    optimizers = model.optimizers(lr, weight_decay)
    x, y = batch
    model.optimization_step(x, y, optimizers, _update)  # creates the optimizer state
    for optimizer in optimizers:  # gradients are made again inside the profiled step
        optimizer.zero_grad(set_to_none=True)
    resident = [*model.parameters(), *model.buffers(), x, *([] if y is None else [y]),
                *(t for o in optimizers for s in o.state.values() for t in s.values()
                  if isinstance(t, torch.Tensor))]
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        model.optimization_step(x, y, optimizers, _update)
    events = sorted((e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
                    key=lambda e: e.start_ns())
    growth = max(itertools.accumulate((e.nbytes() for e in events), initial=0))
    return sum(t.numel() * t.element_size() for t in resident) + growth


def _update(loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def machine(device: torch.device) -> str:
    """What a run's seconds were measured on: the GPU's name, or the CPU's model and the
    torch threads the run used ("AMD EPYC 7B13, 2 threads")."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next(line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    threads = torch.get_num_threads()
    return f"{name}, {threads} thread{'s' if threads != 1 else ''}"
