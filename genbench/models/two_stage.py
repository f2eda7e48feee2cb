"""Dai & Wipf's (2019) two-stage VAE as a latent sampler ("two-stage"): a second, small VAE
trained on the first stage's codes after training, whose decoder turns u ~ N(0, I) into codes.

    q(u|z) = N(mu(z), diag sigma^2(z)),  p(z|u) = N(f(u), gamma I),  p(u) = N(0, I)
    loss = ||z - f(u)||^2 / (2 gamma) + (d/2) log(2 pi gamma) + KL(q(u|z) || p(u))

with a learned scalar gamma (their second stage's), on codes standardised per dimension.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from genbench.models.latent import FittedSampler, register_sampler, seed_generators
from genbench.models.nets import mlp

LOG_2PI = math.log(2 * math.pi)
GAMMA_LR_SCALE = 10.0  # gamma's learning rate over the networks'
# A refit (the next curve point, the final weights) starts from the last fit, whose codes
# moved little, for steps // REFIT_FRACTION steps. On the quick suite's MNIST VAE
# (2026-12-07): every fit from scratch, 35.3 s of curve evaluation and FID 5.01 [4.53, 5.61];
# refits, 16.9 s and FID 5.27 [4.73, 5.76] (a GMM's EM refitted so stalled: gmm.py).
REFIT_FRACTION = 5


class SecondStage(nn.Module):
    """The second-stage VAE of Dai & Wipf (2019), on standardised codes z:
    q(u|z) = N(mu(z), diag sigma^2(z)), p(z|u) = N(f(u), gamma I) with a learned scalar
    gamma, p(u) = N(0, I); u has as many dimensions as z."""

    # gamma starts below the standardised codes' unit variance: from gamma = 1 the first
    # hundreds of steps explain the codes as decoder noise (the posterior collapses) before
    # gamma falls; it is learned with a 10x learning rate, and floored.
    LOG_GAMMA_INIT = -2.0
    LOG_GAMMA_MIN = -10.0

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.encoder = mlp([dim, hidden, hidden, 2 * dim])
        self.decoder = mlp([dim, hidden, hidden, dim])
        self.log_gamma = nn.Parameter(torch.full((), self.LOG_GAMMA_INIT))

    def loss(self, z: torch.Tensor) -> torch.Tensor:
        mu, log_var = self.encoder(z).chunk(2, dim=1)
        u = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
        log_gamma = self.log_gamma.clamp(min=self.LOG_GAMMA_MIN)
        recon = (0.5 * ((z - self.decoder(u)) ** 2).sum(1) / log_gamma.exp()
                 + 0.5 * z.shape[1] * (log_gamma + LOG_2PI))
        kl = -0.5 * (1 + log_var - mu.pow(2) - log_var.exp()).sum(1)
        return (recon + kl).mean()


def _as_buffers(module: nn.Module) -> nn.Module:
    """Turn every parameter of `module` into a buffer of the same name: saved in the
    state_dict, moved by .to(), but outside .parameters() (no optimizer, EMA parameter
    list or parameter count sees it)."""
    for sub in module.modules():
        for name, p in list(sub.named_parameters(recurse=False)):
            delattr(sub, name)
            sub.register_buffer(name, p.detach().clone())
    return module


@register_sampler("two-stage")
class TwoStageSampler(FittedSampler):
    """Dai & Wipf's (2019) two-stage VAE: a second VAE (MLP `hidden` x 2, latent dim = code
    dim, Gaussian decoder with a learned scalar variance) trained with Adam for `steps`
    steps of `batch_size` codes, from a fresh initialisation under its own seed; a refit
    continues from the last fit (kept in the buffers, so a resumed run does too).
    Sampling: u ~ N(0, I) -> its decoder's mean -> a code. The codes are standardised per
    dimension for the fit (shift, scale: buffers too)."""

    def __init__(self, dim: int, steps: int = 1500, hidden: int = 256, batch_size: int = 256,
                 lr: float = 1e-3, seed: int = 0) -> None:
        super().__init__(dim)
        self.steps, self.hidden, self.batch_size, self.lr, self.seed = (
            steps, hidden, batch_size, lr, seed)
        with torch.random.fork_rng(devices=[]):  # placeholders: building draws nothing
            self.net = _as_buffers(SecondStage(dim, hidden))
        self.register_buffer("shift", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))

    def _fit(self, codes: torch.Tensor) -> int:
        seed_generators(self.seed, codes.device)
        shift = codes.mean(0)
        scale = codes.std(0, correction=0).clamp_min(1e-6)
        z = (codes - shift) / scale
        with torch.inference_mode(False), torch.enable_grad():
            z = z.clone()  # a normal tensor even if the codes came from inference mode
            net = SecondStage(self.dim, self.hidden).to(codes.device)
            steps = self.steps
            if "fit_seconds" in self.cost():  # refit: from the last fit, a fifth of the steps
                net.load_state_dict(dict(self.net.named_buffers()))
                steps = max(1, self.steps // REFIT_FRACTION)
            networks = [p for name, p in net.named_parameters() if name != "log_gamma"]
            optimizer = torch.optim.Adam([
                {"params": networks},
                {"params": [net.log_gamma], "lr": GAMMA_LR_SCALE * self.lr}], lr=self.lr)
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
            step_flops = 0
            for step in range(steps):
                batch = z[torch.randint(len(z), (self.batch_size,), device=z.device)]
                counter = FlopCounterMode(display=False) if step == 0 else None
                with counter or contextlib.nullcontext():
                    loss = net.loss(batch)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                if counter is not None:
                    step_flops = counter.get_total_flops()
                optimizer.step()
                schedule.step()
        with torch.no_grad():
            for name, tensor in net.state_dict().items():
                self.net.get_buffer(name).copy_(tensor)
            self.shift.copy_(shift)
            self.scale.copy_(scale)
        return step_flops * steps

    def sample(self, n: int, device: torch.device | str | None = None) -> torch.Tensor:
        u = torch.randn(n, self.dim, device=self.shift.device)
        return self.net.decoder(u) * self.scale + self.shift
