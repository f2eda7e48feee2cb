"""Training FLOPs: the compute axis that means the same on every machine.

One training step is counted with PyTorch's own counter,
`torch.utils.flop_counter.FlopCounterMode`: the forward and backward passes of every
part the step trains (the GAN's discriminator and generator steps, each through its own
optimizer), as the model's `optimization_step` runs them, on one real batch. A run's
training FLOPs are that count times its steps.

What the counter leaves out: it counts matrix products and convolutions (and attention),
two FLOPs per multiply-add, which is nearly all of the arithmetic of these networks, but
no elementwise work (activations, normalisation, losses, bias additions, the
reparameterisation, the EMA update) and none of the optimizer's arithmetic (Adam's moment
updates). A step whose cost changes during training (a model that trains another part
later, the VQ-VAE's prior) declares its phases (models/base.py `training_phase`): the
first step of each phase is counted, and each step costs what its phase's counted one did.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from genbench.models import GenerativeModel
from genbench.models.base import Update

Batch = tuple[torch.Tensor, torch.Tensor | None]


def step_flops(model: GenerativeModel, optimizers: list[torch.optim.Optimizer], batch: Batch,
               update: Update,
               context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
               ) -> int:
    """FLOPs of one `model.optimization_step` on `batch` (forward and backward of every
    optimizer's loss), run on a deep copy of the model and its optimizers: the model, its
    optimizer state and the random stream are left exactly as they were. `context` wraps
    the step as training does (autocast)."""
    twin, twin_optimizers = copy.deepcopy((model, optimizers))
    for target in model.compile_targets:  # a compiled method of the original is bound to it
        twin.__dict__.pop(target, None)
    x, y = batch
    devices = [x.device] if x.device.type == "cuda" else []
    counter = FlopCounterMode(display=False)
    with torch.random.fork_rng(devices=devices), counter, context():
        twin.optimization_step(x, y, twin_optimizers, update)
    return counter.get_total_flops()
