"""The diffusion peer itself: denoising-diffusion-pytorch, trained as its own Trainer trains.

Its Unet and GaussianDiffusion (its defaults otherwise: v-prediction, sigmoid
schedule), Adam with its Trainer's betas, the gradient norm clipped, and its
Trainer's EMA (ema_pytorch, asked after every step). Two things differ from its
Trainer, so that models are compared rather than data pipelines: batches come
from genbench's in-memory uint8 images scaled to [0, 1] (what a per-image PIL
loader costs instead is what `data_path` shows), and there are no horizontal
flips (its default; flipped digits are not digits).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from genbench.datasets import Batches, ImageData
from genbench.training import Progress
from genbench.training.clock import BudgetClock  # the clock genbench's Trainer runs on
from perf.common import endless

REQUIRES = ("denoising_diffusion_pytorch", "ema_pytorch")


@dataclass(frozen=True)
class PeerSettings:
    dim: int = 32
    dim_mults: tuple[int, ...] = (1, 2, 4)
    timesteps: int = 1000
    sampling_timesteps: int = 10  # DDIM
    batch_size: int = 32
    lr: float = 8e-5
    # Its Trainer's defaults (denoising-diffusion-pytorch 2.3.4); a test holds them equal.
    adam_betas: tuple[float, float] = (0.9, 0.99)
    max_grad_norm: float = 1.0
    ema_decay: float = 0.995
    ema_update_every: int = 10


class PeerSampler:
    """The peer's EMA weights, seen as genbench's `generate` sees a model."""

    conditional = False

    def __init__(self, diffusion: torch.nn.Module) -> None:
        self.diffusion = diffusion
        self.device = next(diffusion.parameters()).device

    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        with contextlib.redirect_stderr(io.StringIO()):  # its progress bar, per batch
            return self.diffusion.eval().sample(batch_size=n)  # in [0, 1]


def build(image_shape: tuple[int, int, int], s: PeerSettings) -> torch.nn.Module:
    from denoising_diffusion_pytorch import GaussianDiffusion, Unet

    unet = Unet(dim=s.dim, dim_mults=s.dim_mults, channels=image_shape[0])
    return GaussianDiffusion(unet, image_size=image_shape[-1], timesteps=s.timesteps,
                             sampling_timesteps=s.sampling_timesteps)


def train(data: ImageData, device: torch.device, budgets: list[float],
          s: PeerSettings) -> Iterator[tuple[Progress, PeerSampler]]:
    """Trains while the budget clock reads less than each budget (the rule genbench's Trainer
    ends a seconds budget by), then yields where it stands and its EMA weights; the clock is
    stopped until the next item is asked for."""
    from ema_pytorch import EMA

    torch.manual_seed(0)
    diffusion = build(data.image_shape, s).to(device)
    opt = torch.optim.Adam(diffusion.parameters(), lr=s.lr, betas=s.adam_betas)
    ema = EMA(diffusion, beta=s.ema_decay, update_every=s.ema_update_every).to(device)
    batches = Batches(data, s.batch_size, device=device)
    sampler = PeerSampler(ema.ema_model)
    stream, clock, steps = endless(batches.epoch), BudgetClock(), 0
    for budget in budgets:
        diffusion.train()
        while clock.read() < budget:  # one step of its Trainer.train
            loss = diffusion(next(stream)[0])
            loss.item()  # as its Trainer logs it (and waits for the step on a GPU)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(diffusion.parameters(), s.max_grad_norm)
            opt.step()
            opt.zero_grad()
            ema.update()
            steps += 1
        # Paused, and on a forked random stream: training goes on as if nothing ran.
        with clock.paused(), torch.random.fork_rng(devices=[device] if device.type == "cuda"
                                                   else []):
            yield (Progress(step=steps, epoch=steps // len(batches),
                            images=steps * s.batch_size, seconds=clock.read()), sampler)
