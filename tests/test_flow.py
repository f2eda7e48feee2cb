"""Flow matching against its closed form, and the common sampling-cost interface.

For Gaussian data x0 ~ N(mu, s^2 I) everything is known exactly. With eps ~ N(0, I) and
x_t = (1 - t) x0 + t eps, each coordinate of (x_t, v = eps - x0) is jointly Gaussian:
    E[x_t] = (1 - t) mu,           Var(x_t) = sigma_t^2 = (1 - t)^2 s^2 + t^2,
    E[v] = -mu,                    Cov(v, x_t) = t - (1 - t) s^2,
so the conditional mean (the velocity field flow matching learns) is linear in x_t,
    E[v | x_t] = -mu + (t - (1 - t) s^2) / sigma_t^2 (x_t - (1 - t) mu),
and what is left over is Var(v | x_t) = 1 + s^2 - Cov^2 / sigma_t^2 = s^2 / sigma_t^2.
Along this field the ODE keeps z = (x_t - (1 - t) mu) / sigma_t constant (d sigma_t / dt =
Cov / sigma_t), so the exact sampler maps the noise eps at t = 1 to mu + s eps at t = 0.

Diffusion likewise: with x_t = a x0 + b eps (a = sqrt(abar_t), b = sqrt(1 - abar_t)),
    E[eps | x_t] = b / (a^2 s^2 + b^2) (x_t - a mu),
and its probability-flow ODE (which deterministic DDIM discretises) keeps
z = (x_t - a mu) / sqrt(a^2 s^2 + b^2) constant, ending at mu + s z.
"""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch

from genbench import models
from genbench.models.diffusion import Diffusion, DiffusionConfig
from genbench.models.flow import Flow, FlowConfig, draw_times, interpolate, velocity_target

MU, S = 0.2, 0.3  # in the model's [-1, 1] space
SHAPE = (1, 2, 2)  # a 4-dimensional "image"


def exact_velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    t = t.view(-1, *[1] * (x.dim() - 1))
    var = (1 - t) ** 2 * S**2 + t**2
    return -MU + (t - (1 - t) * S**2) / var * (x - (1 - t) * MU)


class ExactFlow(Flow):
    """Flow with the exact velocity field of N(MU, S^2) data in place of its network."""

    def __init__(self, **config) -> None:
        super().__init__(FlowConfig(width=8, **config), SHAPE)
        self.times: list[torch.Tensor] = []

    def velocity(self, x, t):
        self.times.append(t)
        return exact_velocity(x, t)


class ExactDiffusion(Diffusion):
    """Diffusion (eps-prediction, no clipping) with the exact E[eps | x_t] as its network."""

    def __init__(self) -> None:
        super().__init__(DiffusionConfig(width=8, clip=False), SHAPE)

    def output(self, x_t, t):
        abar = self.alpha_bar[t]
        a, b = abar.sqrt(), (1 - abar).sqrt()
        return b / (a**2 * S**2 + b**2) * (x_t - a * MU)


def gaussian_data(n: int, generator: torch.Generator) -> torch.Tensor:
    return MU + S * torch.randn(n, *SHAPE, generator=generator)


@pytest.mark.parametrize("t", [0.1, 0.5, 0.8])
def test_regression_target_has_the_closed_form_conditional_mean(t):
    g = torch.Generator().manual_seed(0)
    n = 200_000
    x0 = MU + S * torch.randn(n, 1, generator=g)
    eps = torch.randn(n, 1, generator=g)
    x_t, v = interpolate(x0, eps, torch.full((n,), t)), velocity_target(x0, eps)
    # The pair is jointly Gaussian, so least squares recovers E[v | x_t] exactly.
    x_t, v = x_t.double().flatten(), v.double().flatten()
    slope = ((x_t - x_t.mean()) * (v - v.mean())).mean() / x_t.var()
    intercept = v.mean() - slope * x_t.mean()
    var = (1 - t) ** 2 * S**2 + t**2
    gain = (t - (1 - t) * S**2) / var
    assert float(slope) == pytest.approx(gain, abs=0.02)
    assert float(intercept) == pytest.approx(-MU - gain * (1 - t) * MU, abs=0.01)
    residual = v - (intercept + slope * x_t)
    assert float(residual.var()) == pytest.approx(S**2 / var, rel=0.02)


def test_training_loss_with_the_exact_field_is_the_irreducible_variance():
    # The loss of the best possible network is E_t[Var(v | x_t)] = E_t[S^2 / sigma_t^2]:
    # right only if training_step builds x_t, v and t as the closed form assumes.
    torch.manual_seed(0)
    model = ExactFlow()
    x = (gaussian_data(20_000, torch.Generator().manual_seed(1)) + 1) / 2  # image space
    loss = float(model.training_step(x, None)["loss"])
    t = torch.sigmoid(torch.randn(1_000_000, dtype=torch.float64))
    floor = float((S**2 / ((1 - t) ** 2 * S**2 + t**2)).mean())
    assert loss == pytest.approx(floor, rel=0.03)


@pytest.mark.parametrize("mean, std", [(0.0, 1.0), (0.5, 0.7)])
def test_training_times_are_logit_normal_as_configured(mean, std):
    torch.manual_seed(0)
    model = ExactFlow(logit_mean=mean, logit_std=std)
    model.training_step(torch.rand(50_000, *SHAPE), None)
    (t,) = model.times
    assert float(t.min()) > 0 and float(t.max()) < 1
    logit = torch.logit(t.double())
    assert float(logit.mean()) == pytest.approx(mean, abs=0.02)
    assert float(logit.std()) == pytest.approx(std, rel=0.02)


def test_uniform_times():
    t = draw_times(50_000, "uniform")
    assert 0 <= float(t.min()) and float(t.max()) < 1
    assert float(t.mean()) == pytest.approx(0.5, abs=0.01)
    assert float(t.var()) == pytest.approx(1 / 12, rel=0.03)


def flow_error(solver: str, nfe: int, eps: torch.Tensor) -> tuple[float, torch.Tensor]:
    """RMS distance of the solver's sample from the exact ODE solution mu + s eps."""
    model = ExactFlow()
    x, _ = model.integrate(eps.clone(), model.steps_for(nfe, solver), solver)
    assert len(model.times) == nfe  # the accounting: exactly nfe evaluations of the field
    return float((x - (MU + S * eps)).pow(2).mean().sqrt()), x


def test_euler_and_heun_converge_to_the_exact_samples_heun_faster():
    eps = torch.randn(4096, *SHAPE, generator=torch.Generator().manual_seed(0))
    nfes = [4, 8, 16, 32, 64]
    euler = [flow_error("euler", n, eps)[0] for n in nfes]
    heun = [flow_error("heun", n, eps)[0] for n in nfes]
    for e, h in zip(euler, heun, strict=True):
        assert h < e / 2, (euler, heun)  # at equal cost, the second-order solver wins
    # Orders: doubling NFE halves Euler's error; Heun's quarters once h is well below the
    # scale (~0.1) on which the field changes near t = 0 (s^2 / (1 + s^2)), from 32 NFE on.
    for a, b in pairwise(euler):
        assert 1.6 < a / b < 2.2, euler
    heun_fine = [flow_error("heun", n, eps.double())[0] for n in (32, 64, 128)]
    for a, b in pairwise(heun_fine):
        assert 3.3 < a / b < 4.5, heun_fine
    _, x = flow_error("heun", 32, eps)
    assert float(x.mean()) == pytest.approx(MU, abs=0.01)
    assert float(x.std()) == pytest.approx(S, abs=0.005)


def test_sample_with_spends_exactly_the_nfe_and_returns_images():
    for solver, nfe in [("euler", 1), ("euler", 7), ("heun", 2), ("heun", 10)]:
        model = ExactFlow()
        images = model.sample_with(256, nfe, solver)
        assert len(model.times) == nfe
        assert images.shape == (256, *SHAPE)
        assert 0 <= float(images.min()) and float(images.max()) <= 1
    torch.manual_seed(0)
    images = ExactFlow().sample_with(4096, 32, "heun")  # N((MU + 1) / 2, (S / 2)^2), clamped
    assert float(images.mean()) == pytest.approx((MU + 1) / 2, abs=0.01)
    assert float(images.std()) == pytest.approx(S / 2, abs=0.005)


def ddim_error(model: ExactDiffusion, nfe: int) -> tuple[float, torch.Tensor]:
    """RMS distance (in [0, 1]) of DDIM's images from the exact ODE solution's."""
    torch.manual_seed(3)
    eps = torch.randn(4096, *SHAPE)  # the noise sample_with starts from (eta = 0: no more)
    torch.manual_seed(3)
    images = model.sample_with(4096, nfe, "ddim")
    # The start is N(0, I), not quite the marginal at T: the ODE keeps its standard coordinate.
    abar = model.alpha_bar[model.config.timesteps - 1]
    z = (eps - abar.sqrt() * MU) / (abar * S**2 + 1 - abar).sqrt()
    exact = ((MU + S * z + 1) / 2).clamp(0, 1)
    return float((images - exact).pow(2).mean().sqrt()), images * 2 - 1


def test_ddim_with_the_exact_eps_converges_to_the_exact_samples():
    model = ExactDiffusion()
    errors = [ddim_error(model, nfe)[0] for nfe in (10, 20, 40, 80)]
    for a, b in pairwise(errors):
        assert 1.7 < a / b < 2.3, errors  # first order in the step
    error, x = ddim_error(model, 1000)
    assert error < 0.002
    assert float(x.mean()) == pytest.approx(MU, abs=0.01)
    assert float(x.std()) == pytest.approx(S, abs=0.005)


def test_a_small_flow_trains_and_samples_at_any_nfe():
    torch.manual_seed(0)
    model = models.create("flow", (1, 8, 8), width=8, sampling_steps=3)
    loss = model.training_step(torch.rand(16, 1, 8, 8), None)["loss"]
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0
    for solver, nfe in [("euler", 1), ("euler", 2), ("euler", 4), ("heun", 2), ("heun", 4)]:
        images = model.sample_with(5, nfe, solver)
        assert images.shape == (5, 1, 8, 8)
        assert 0 <= float(images.min()) and float(images.max()) <= 1
    images, frames = model.denoise(3, keep=3)
    assert images.shape == (3, 1, 8, 8) and len(frames) == 3
    assert all(f.shape == images.shape for f in frames)
    torch.testing.assert_close(frames[-1], images)  # the last frame is the sample
    with pytest.raises(ValueError, match="heun cannot spend exactly 3"):
        model.sample_with(2, 3, "heun")
    with pytest.raises(ValueError, match="deterministic"):
        model.denoise(2, eta=1.0)


def test_steps_for_counts_network_evaluations():
    flow = models.create("flow", (1, 8, 8), width=8)
    assert flow.solvers == ("euler", "heun")
    assert [flow.steps_for(n, "euler") for n in (0, 1, 7)] == [None, 1, 7]
    assert [flow.steps_for(n, "heun") for n in (1, 2, 7, 8)] == [None, 1, None, 4]
    diffusion = models.create("diffusion", (1, 8, 8), width=8, timesteps=100)
    assert diffusion.solvers == ("ddim",)
    assert [diffusion.steps_for(n, "ddim") for n in (0, 1, 100, 101)] == [None, 1, 100, None]
    with pytest.raises(ValueError, match="DDIM cannot spend 101"):
        diffusion.sample_with(2, 101, "ddim")
    with pytest.raises(ValueError, match="euler, heun, not 'ddim'"):
        flow.steps_for(4, "ddim")
    with pytest.raises(ValueError, match="ddim, not 'heun'"):
        diffusion.sample_with(2, 4, "heun")
    assert models.model_class("vae").solvers == ()  # not a denoiser: no sampling cost to set


@pytest.mark.parametrize("setting, match", [
    ({"solver": "rk4"}, "solver must be one of euler, heun, got 'rk4'"),
    ({"time_sampling": "beta"}, "time_sampling must be one of logit-normal, uniform"),
    ({"logit_std": 0.0}, "logit_std must be greater than 0"),
    ({"sampling_steps": 0}, "sampling_steps must be greater than 0"),
    ({"ema_decay": 1.0}, r"ema_decay must be in \[0, 1\)"),
])
def test_bad_flow_settings_are_refused(setting, match):
    with pytest.raises(ValueError, match=match):
        models.create("flow", (1, 8, 8), **setting)


def test_flow_follows_diffusion_in_the_registry():
    names = models.available()
    assert names.index("flow") == names.index("diffusion") + 1
