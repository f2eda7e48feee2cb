"""DDPM (Ho et al., 2020) with DDIM sampling (Song et al., 2021).

Training (Algorithm 1 of DDPM, with the network's target a choice):
    x0 ~ data (scaled to [-1, 1]), t ~ U{0..T-1}, eps ~ N(0, I)
    x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps
    loss = w(t) ||target - f(x_t, t)||^2,   target = eps (DDPM), or
           v = sqrt(abar_t) eps - sqrt(1 - abar_t) x0 (Salimans & Ho, 2022), or x0;
    w(t) = 1, or min-SNR-gamma (Hang et al., 2023): every target weighted as
           min(SNR, gamma) ||x0 - x0_hat||^2, which stops the easy low-noise steps from
           dominating the gradient, with SNR = abar / (1 - abar).
Sampling (DDIM, eq. 12): on a sub-sequence of S timesteps,
    x0_hat, eps_hat from f (optionally x0_hat clipped to [-1, 1], eps_hat re-derived)
    x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - s^2) eps_hat + s z
    with s = eta * sqrt((1 - abar_prev)/(1 - abar_t)) sqrt(1 - abar_t/abar_prev).
eta = 1 with S = T is DDPM's ancestral sampler; eta = 0 is deterministic DDIM.
Sampling cost: one network evaluation (NFE) per step, so NFE = S <= T.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from genbench.models.base import GenerativeModel, positive
from genbench.models.nets import UNet
from genbench.models.registry import register_model

MIN_TIMESTEPS = 20  # the rescaled linear schedule needs enough steps to keep beta < 1


@dataclass
class DiffusionConfig:
    width: int = 32
    mults: tuple[int, ...] | None = None  # U-Net width multipliers per level; None: by size
    blocks: int = 1  # residual blocks per U-Net level on the way down (one more on the way up)
    attention: bool = False  # self-attention at the lowest resolution
    patch: int = 1  # space-to-depth factor: 2 runs a 28x28 image as 14x14x4
    timesteps: int = 1000
    schedule: str = "linear"  # or "cosine" (Nichol & Dhariwal, 2021)
    prediction: str = "eps"  # what the network predicts: "eps", "v" or "x0"
    weighting: str = "none"  # or "min-snr"
    snr_gamma: float = 5.0
    sampling_steps: int = 50  # DDIM steps at sampling time
    eta: float = 0.0
    clip: bool = True  # clip x0_hat to [-1, 1] while sampling (and re-derive eps_hat from it)
    ema_decay: float = 0.999

    def __post_init__(self) -> None:
        positive("timesteps", self.timesteps)
        positive("sampling_steps", self.sampling_steps)
        positive("eta", self.eta, allow_zero=True)
        positive("snr_gamma", self.snr_gamma)
        positive("blocks", self.blocks)
        positive("patch", self.patch)
        if self.timesteps < MIN_TIMESTEPS:
            raise ValueError(f"timesteps must be at least {MIN_TIMESTEPS}, got {self.timesteps}")
        if self.sampling_steps > self.timesteps:
            raise ValueError(f"sampling_steps ({self.sampling_steps}) cannot exceed timesteps "
                             f"({self.timesteps})")
        choices = {"schedule": ("linear", "cosine"), "prediction": ("eps", "v", "x0"),
                   "weighting": ("none", "min-snr")}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"{key} must be one of {', '.join(allowed)}, got "
                                 f"{getattr(self, key)!r}")


def alpha_bars(schedule: str, timesteps: int) -> torch.Tensor:
    """abar_t for t = 0..T-1. The linear schedule's ends are scaled by 1000/T (Nichol &
    Dhariwal, 2021), so that abar_T is near 0 whatever T: sampling starts from N(0, I)."""
    if schedule == "linear":
        scale = 1000 / timesteps
        betas = torch.linspace(1e-4 * scale, 0.02 * scale, timesteps, dtype=torch.float64)
        return torch.cumprod(1 - betas.clamp(max=0.999), 0)
    s = 0.008
    t = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, 0)


@register_model("diffusion", DiffusionConfig)
class Diffusion(GenerativeModel):
    denoises = True
    solvers: ClassVar[tuple[str, ...]] = ("ddim",)

    def __init__(self, config: DiffusionConfig, image_shape, num_classes=None) -> None:
        super().__init__(config, image_shape, num_classes)
        c, size, _ = self.image_shape
        self.unet = UNet(c, size, config.width, config.mults, config.blocks, config.attention,
                         config.patch)
        self.register_buffer("alpha_bar", alpha_bars(config.schedule, config.timesteps).float())
        self.ema_decay = config.ema_decay

    def training_step(self, x, y):
        x0 = x * 2 - 1
        t = torch.randint(self.config.timesteps, (len(x),), device=x.device)
        eps = torch.randn_like(x0)
        abar = self.alpha_bar[t].view(-1, 1, 1, 1)
        x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
        target = {"eps": eps, "v": abar.sqrt() * eps - (1 - abar).sqrt() * x0,
                  "x0": x0}[self.config.prediction]
        error = (self.unet(x_t, t).float() - target).pow(2).flatten(1).mean(1)
        return {"loss": (self.loss_weight(abar.flatten()) * error).mean()}

    def loss_weight(self, abar: torch.Tensor) -> torch.Tensor:
        """min-SNR-gamma expressed for the chosen target (its error is a multiple of x0's)."""
        if self.config.weighting == "none":
            return torch.ones_like(abar)
        snr = abar / (1 - abar)
        clipped = snr.clamp(max=self.config.snr_gamma)
        return {"eps": clipped / snr, "v": clipped / (snr + 1), "x0": clipped}[
            self.config.prediction]

    def output(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        """f(x_t, t), the network's prediction of the configured target: the one place
        sampling evaluates the network (a test puts the exact solution here)."""
        return self.unet(x_t, torch.full((len(x_t),), t, device=x_t.device)).float()

    def predict(self, x_t: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(x0_hat, eps_hat) at timestep t; with `clip`, x0_hat is clipped to the data range
        and eps_hat re-derived from it, so that the DDIM step stays consistent."""
        abar = self.alpha_bar[t]
        out = self.output(x_t, t)
        if self.config.prediction == "eps":
            x0 = (x_t - (1 - abar).sqrt() * out) / abar.sqrt()
        elif self.config.prediction == "v":
            x0 = abar.sqrt() * x_t - (1 - abar).sqrt() * out
        else:
            x0 = out
        if self.config.clip:
            x0 = x0.clamp(-1, 1)
        return x0, (x_t - abar.sqrt() * x0) / (1 - abar).sqrt()

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
            x0, eps = self.predict(x, t)
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

    def steps_for(self, nfe: int, solver: str) -> int | None:
        """DDIM steps that spend exactly `nfe` network evaluations: one each, at most T."""
        self.check_solver(solver)
        return nfe if 1 <= nfe <= self.config.timesteps else None

    def nfe_refusal(self, nfe: int, solver: str) -> str:
        return (f"DDIM cannot spend {nfe} network evaluations: it takes 1 to timesteps "
                f"({self.config.timesteps}), one per step")

    def sample_steps(self, n: int, steps: int, solver: str) -> torch.Tensor:
        """Deterministic DDIM (eta = 0): the same noise gives the same images at every NFE."""
        return self.denoise(n, steps=steps, eta=0.0)[0]
