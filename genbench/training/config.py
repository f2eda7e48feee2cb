"""Training settings, and the device they run on."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

BUDGETS = ("epochs", "steps", "seconds", "flops")  # the kinds of training budget


@dataclass
class TrainConfig:
    # The budget: exactly one of these. FLOPs are those of training steps as counted by
    # training/flops.py, so a FLOP budget is a step count on every machine and for any --jobs.
    epochs: float | None = None
    steps: int | None = None
    seconds: float | None = None
    flops: float | None = None
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float | None = None
    schedule: str = "constant"  # or "cosine" (needs an epochs or steps budget)
    warmup_steps: int = 0
    device: str = "auto"  # auto: cuda, then mps, then cpu
    amp: bool = True  # bf16 autocast, on CUDA only
    compile: bool = False
    # Convolutional models train and sample in channels-last (NHWC) memory format: oneDNN's
    # CPU convolutions run faster on it (docs/speed.md); models without convolutions ignore it.
    channels_last: bool = True
    seed: int = 0
    log_every: int = 50
    # Images per batch when a model readies its sampler from the training data (an AE's
    # Gaussian over its codes): the fit does not depend on it beyond rounding; it bounds memory.
    sampling_batch: int = 512
    checkpoint_every: int = 1000
    wandb: bool = False
    show_progress: bool = True  # a progress bar while training (not part of the results)

    def __post_init__(self) -> None:
        budgets = {k: getattr(self, k) for k in BUDGETS if getattr(self, k) is not None}
        if len(budgets) != 1:
            raise ValueError("give exactly one training budget: epochs, steps, seconds or flops "
                             f"(got {budgets or 'none'})")
        for k, v in budgets.items():
            if not v > 0:
                raise ValueError(f"the {k} budget must be greater than 0, got {v}")
        for k in ("batch_size", "log_every", "checkpoint_every", "sampling_batch"):
            if getattr(self, k) < 1:
                raise ValueError(f"{k} must be at least 1, got {getattr(self, k)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be greater than 0, got {self.lr}")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}")
        if self.schedule == "cosine" and self.seconds is not None:
            raise ValueError("a cosine schedule needs a steps, epochs or flops budget, not "
                             "seconds")

    def total_steps(self, batches_per_epoch: int,
                    flops_per_step: float | None = None) -> int | None:
        """The budget in optimisation steps; None for a seconds budget. A FLOP budget needs
        the FLOPs of one step (training/flops.py) and is the steps it takes to spend it."""
        if self.steps is not None:
            return self.steps
        if self.epochs is not None:
            return max(1, math.ceil(self.epochs * batches_per_epoch))
        if self.flops is not None:
            if flops_per_step is None:
                raise ValueError("a FLOP budget is counted in steps of known cost: pass "
                                 "flops_per_step (training.flops.step_flops)")
            if not flops_per_step > 0:
                raise ValueError(f"a FLOP budget needs counted FLOPs; this model's training "
                                 f"step counted {flops_per_step:g} FLOPs (the counter sees "
                                 "matrix products and convolutions only): give steps, epochs "
                                 "or seconds instead")
            # Less a hair, so that a budget of exactly n steps' FLOPs is n steps, not n + 1.
            return max(1, math.ceil(self.flops / flops_per_step * (1 - 1e-12)))
        return None


def pick_device(name: str = "auto") -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def convolutional(model: nn.Module) -> bool:
    """Whether the model has convolutions (the models channels-last layout applies to)."""
    return any(isinstance(m, nn.Conv2d | nn.ConvTranspose2d) for m in model.modules())


def lay_out(model: nn.Module, channels_last: bool) -> bool:
    """Put a convolutional model's weights in channels-last memory format where asked;
    whether it did (a model without convolutions is left as it is). The same function in
    another order of summation: float rounding apart, nothing changes."""
    if channels_last and convolutional(model):
        model.to(memory_format=torch.channels_last)
        return True
    return False
