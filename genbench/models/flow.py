"""Flow matching / rectified flow (Lipman et al., 2023; Liu et al., 2023).

Training: a straight line from data (t = 0) to noise (t = 1), and regression on its velocity:
    x0 ~ data (scaled to [-1, 1]), eps ~ N(0, I), t ~ p(t) on (0, 1)
    x_t = (1 - t) x0 + t eps
    v = dx_t/dt = eps - x0,     loss = ||v - f(x_t, t)||^2
The minimiser is f*(x, t) = E[eps - x0 | x_t = x], whose ODE dx/dt = f*(x, t) carries
N(0, I) at t = 1 to the data at t = 0, with the marginals of x_t at every t in between.
p(t): logit-normal (Esser et al., 2024), t = sigmoid(m + s n) with n ~ N(0, 1), which spends
the updates on the middle times where v is hardest to predict; or uniform.
Sampling: integrate dx/dt = f(x, t) from x ~ N(0, I) at t = 1 to t = 0 on the uniform grid
t_i = 1 - i/S, i = 0..S, with h = t_{i+1} - t_i = -1/S:
    Euler: x_{i+1} = x_i + h f(x_i, t_i)                                      NFE = S
    Heun:  x' = x_i + h f(x_i, t_i)
           x_{i+1} = x_i + h (f(x_i, t_i) + f(x', t_{i+1})) / 2                NFE = 2 S
Heun corrects every step, the last included (EDM, Karras et al., 2022, uses Euler there
because its field is singular at sigma = 0; f is finite at t = 0 here): NFE = 2 S exactly.
The U-Net and its knobs are DiffusionConfig's, so that a comparison isolates the objective.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from genbench.models.base import GenerativeModel, positive
from genbench.models.nets import UNet
from genbench.models.registry import register_model

TIME_SCALE = 1000  # the U-Net's time input is t * 1000: the range of diffusion's timesteps
SOLVERS = ("euler", "heun")


@dataclass
class FlowConfig:
    width: int = 32
    mults: tuple[int, ...] | None = None  # U-Net width multipliers per level; None: by size
    blocks: int = 1  # residual blocks per U-Net level on the way down (one more on the way up)
    attention: bool = False  # self-attention at the lowest resolution
    patch: int = 1  # space-to-depth factor: 2 runs a 28x28 image as 14x14x4
    time_sampling: str = "logit-normal"  # or "uniform": the training distribution of t
    logit_mean: float = 0.0  # m and s of the logit-normal t = sigmoid(m + s n)
    logit_std: float = 1.0
    sampling_steps: int = 50  # ODE steps at sampling time
    solver: str = "euler"  # or "heun"
    ema_decay: float = 0.999

    def __post_init__(self) -> None:
        positive("sampling_steps", self.sampling_steps)
        positive("logit_std", self.logit_std)
        positive("blocks", self.blocks)
        positive("patch", self.patch)
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        choices = {"solver": SOLVERS, "time_sampling": ("logit-normal", "uniform")}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"{key} must be one of {', '.join(allowed)}, got "
                                 f"{getattr(self, key)!r}")


def interpolate(x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = (1 - t) x0 + t eps, with one t per row of x0."""
    t = t.view(-1, *[1] * (x0.dim() - 1))
    return (1 - t) * x0 + t * eps


def velocity_target(x0: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """v = d x_t / dt = eps - x0: the regression target, constant along each line."""
    return eps - x0


def draw_times(n: int, kind: str, mean: float = 0.0, std: float = 1.0,
               device: torch.device | str | None = None) -> torch.Tensor:
    """n training times in (0, 1): logit-normal (sigmoid of N(mean, std^2)) or uniform."""
    if kind == "uniform":
        return torch.rand(n, device=device)
    return torch.sigmoid(mean + std * torch.randn(n, device=device))


@register_model("flow", FlowConfig)
class Flow(GenerativeModel):
    denoises = True
    solvers: ClassVar[tuple[str, ...]] = SOLVERS

    def __init__(self, config: FlowConfig, image_shape, num_classes=None) -> None:
        super().__init__(config, image_shape, num_classes)
        c, size, _ = self.image_shape
        self.unet = UNet(c, size, config.width, config.mults, config.blocks, config.attention,
                         config.patch)
        self.ema_decay = config.ema_decay

    def velocity(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """f(x_t, t) for one t per row: the one place the network is evaluated (a test puts
        the exact field here). Time is continuous, so its embedding takes the float t * 1000."""
        return self.unet(x, t * TIME_SCALE).float()

    def training_step(self, x, y):
        x0 = x * 2 - 1
        eps = torch.randn_like(x0)
        c = self.config
        t = draw_times(len(x0), c.time_sampling, c.logit_mean, c.logit_std, x0.device)
        error = self.velocity(interpolate(x0, eps, t), t) - velocity_target(x0, eps)
        return {"loss": error.pow(2).mean()}

    def integrate(self, x: torch.Tensor, steps: int, solver: str,
                  keep: int = 0) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x at t = 1 carried to t = 0 in `steps` Euler or Heun steps; also `keep` evenly
        spaced intermediate x_t (in [0, 1])."""
        grid = torch.linspace(1, 0, steps + 1).tolist()
        kept_at = set(torch.linspace(0, steps - 1, keep).round().long().tolist())
        frames = []
        for i in range(steps):
            t, t_next = (torch.full((len(x),), s, device=x.device) for s in grid[i:i + 2])
            h = grid[i + 1] - grid[i]
            v = self.velocity(x, t)
            if solver == "heun":  # the trapezoid rule on v, predicted by an Euler step
                v = (v + self.velocity(x + h * v, t_next)) / 2
            x = x + h * v
            if keep and i in kept_at:
                frames.append(((x + 1) / 2).clamp(0, 1))
        return x, frames

    @torch.no_grad()
    def denoise(self, n: int, steps: int | None = None, eta: float | None = None,
                keep: int = 0) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The configured ODE solver from noise; also `keep` evenly spaced intermediate x_t
        (in [0, 1]). `eta` is Diffusion's; the flow's sampler is deterministic (eta = 0)."""
        if eta:
            raise ValueError(f"the flow's ODE sampler is deterministic: eta must be 0, got {eta}")
        x = torch.randn(n, *self.image_shape, device=self.device)
        x, frames = self.integrate(x, steps or self.config.sampling_steps, self.config.solver,
                                   keep)
        return ((x + 1) / 2).clamp(0, 1), frames

    @torch.no_grad()
    def sample(self, n, labels=None):
        return self.denoise(n)[0]

    def steps_for(self, nfe: int, solver: str) -> int | None:
        """ODE steps that spend exactly `nfe` network evaluations: Euler 1, Heun 2 per step."""
        self.check_solver(solver)
        per_step = 2 if solver == "heun" else 1
        return nfe // per_step if nfe >= per_step and nfe % per_step == 0 else None

    def nfe_refusal(self, nfe: int, solver: str) -> str:
        return (f"{solver} cannot spend exactly {nfe} network evaluations"
                + (" (two per step: an even number, 2 or more)" if solver == "heun"
                   else " (one per step, 1 or more)"))

    @torch.no_grad()
    def sample_steps(self, n: int, steps: int, solver: str) -> torch.Tensor:
        x = torch.randn(n, *self.image_shape, device=self.device)
        return ((self.integrate(x, steps, solver)[0] + 1) / 2).clamp(0, 1)
