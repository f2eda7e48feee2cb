"""DDPM (Ho et al., 2020) with DDIM sampling (Song et al., 2021).

Training (Algorithm 1 of DDPM):
    x0 ~ data (scaled to [-1, 1]), t ~ U{0..T-1}, eps ~ N(0, I)
    x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps
    loss = ||eps - eps_theta(x_t, t)||^2
Sampling (DDIM, eq. 12): on a sub-sequence of S timesteps,
    x0_hat = (x_t - sqrt(1 - abar_t) eps_theta) / sqrt(abar_t)
    x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - s^2) eps_theta + s z
    with s = eta * sqrt((1 - abar_prev)/(1 - abar_t)) sqrt(1 - abar_t/abar_prev).
eta = 1 with S = T is DDPM's ancestral sampler; eta = 0 is deterministic DDIM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genbench.models.base import GenerativeModel, positive, register_model
from genbench.models.nets import UNet


@dataclass
class DiffusionConfig:
    width: int = 32
    mults: tuple[int, ...] | None = None  # U-Net width multipliers per level; None: by size
    timesteps: int = 1000
    schedule: str = "linear"  # or "cosine" (Nichol & Dhariwal, 2021)
    sampling_steps: int = 50  # DDIM steps at sampling time
    eta: float = 0.0
    ema_decay: float = 0.999

    def __post_init__(self) -> None:
        positive("timesteps", self.timesteps)
        positive("sampling_steps", self.sampling_steps)
        positive("eta", self.eta, allow_zero=True)
        if self.sampling_steps > self.timesteps:
            raise ValueError(f"sampling_steps ({self.sampling_steps}) cannot exceed timesteps "
                             f"({self.timesteps})")
        if self.schedule not in ("linear", "cosine"):
            raise ValueError(f"schedule must be 'linear' or 'cosine', got {self.schedule!r}")


def alpha_bars(schedule: str, timesteps: int) -> torch.Tensor:
    if schedule == "linear":
        betas = torch.linspace(1e-4, 0.02, timesteps, dtype=torch.float64)
        return torch.cumprod(1 - betas, 0)
    s = 0.008
    t = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, 0)


@register_model("diffusion", DiffusionConfig)
class Diffusion(GenerativeModel):
    def __init__(self, config: DiffusionConfig, image_shape, num_classes=None) -> None:
        super().__init__(config, image_shape, num_classes)
        c, size, _ = self.image_shape
        self.unet = UNet(c, size, config.width, config.mults)
        self.register_buffer("alpha_bar", alpha_bars(config.schedule, config.timesteps).float())
        self.ema_decay = config.ema_decay

    def training_step(self, x, y):
        x0 = x * 2 - 1
        t = torch.randint(self.config.timesteps, (len(x),), device=x.device)
        eps = torch.randn_like(x0)
        abar = self.alpha_bar[t].view(-1, 1, 1, 1)
        x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
        return {"loss": F.mse_loss(self.unet(x_t, t), eps)}

    def sampling_timesteps(self, steps: int | None = None) -> list[int]:
        steps = steps or self.config.sampling_steps
        return torch.linspace(self.config.timesteps - 1, 0, steps).round().long().tolist()

    @torch.no_grad()
    def denoise(self, n: int, steps: int | None = None, eta: float | None = None,
                keep: int = 0) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """DDIM sampling; also returns `keep` evenly spaced intermediate x_t (in [0, 1])."""
        eta = self.config.eta if eta is None else eta
        times = self.sampling_timesteps(steps)
        x = torch.randn(n, *self.image_shape, device=self.device)
        kept_at = set(torch.linspace(0, len(times) - 1, keep).round().long().tolist())
        frames = []
        for i, t in enumerate(times):
            abar = self.alpha_bar[t]
            abar_prev = self.alpha_bar[times[i + 1]] if i + 1 < len(times) else torch.ones(())
            eps = self.unet(x, torch.full((n,), t, device=self.device)).float()
            x0 = ((x - (1 - abar).sqrt() * eps) / abar.sqrt()).clamp(-1, 1)
            sigma = eta * ((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev)).sqrt()
            x = abar_prev.sqrt() * x0 + (1 - abar_prev - sigma**2).clamp(min=0).sqrt() * eps
            if eta > 0 and i + 1 < len(times):
                x = x + sigma * torch.randn_like(x)
            if keep and i in kept_at:
                frames.append(((x + 1) / 2).clamp(0, 1))
        return ((x + 1) / 2).clamp(0, 1), frames

    @torch.no_grad()
    def sample(self, n, labels=None):
        return self.denoise(n)[0]
