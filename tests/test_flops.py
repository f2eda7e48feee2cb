"""Training FLOPs: one step counted by PyTorch's counter, held against the analytic count;
the count leaves the model, its optimizers and the random stream untouched; FLOP budgets
are step counts."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from genbench import models
from genbench.datasets import to_float
from genbench.training import Progress, TrainConfig, Trainer, step_flops


def update(loss, optimizer):
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def seed_vae_step_flops(batch: int, latent: int = 20) -> int:
    """The seed's MLP VAE by hand: 784-512-256, mean and log-variance heads, 256-512-784.
    A linear layer costs 2 x batch x in x out FLOPs forward (a multiply-add is two), as much
    again for its weight gradient and again for its input gradient, which the first layer
    does not need (the images take no gradient)."""
    layers = [(784, 512), (512, 256), (256, latent), (256, latent), (latent, 256), (256, 512),
              (512, 784)]
    multiply_adds = batch * sum(i * o for i, o in layers)
    return 2 * (3 * multiply_adds - batch * 784 * 512)


def test_seed_vae_step_equals_the_analytic_count():
    torch.manual_seed(0)
    model = models.create("vae", (1, 28, 28)).train()
    x = torch.rand(64, 1, 28, 28).round()
    counted = step_flops(model, model.optimizers(1e-3, 0.0), (x, None), update)
    # Within a few percent (the counter's conventions may change); with torch 2.x it is exact.
    assert counted == pytest.approx(seed_vae_step_flops(64), rel=0.02)


def _forward_flops(fn) -> int:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        fn()
    return counter.get_total_flops()


def test_gan_step_counts_both_optimizers_and_leaves_the_model_untouched():
    torch.manual_seed(0)
    gan = models.create("gan", (1, 28, 28), width=16).train()
    optimizers = gan.optimizers(2e-4, 0.0)
    x = torch.rand(32, 1, 28, 28)
    gan.optimization_step(x, None, optimizers, update)  # optimizer state that must survive
    weights = {k: v.clone() for k, v in gan.state_dict().items()}
    moments = [[t.clone() for s in o.state.values() for t in s.values()] for o in optimizers]
    rng = torch.get_rng_state()

    counted = step_flops(gan, optimizers, (x, None), update)
    for k, v in gan.state_dict().items():  # BatchNorm statistics included
        assert torch.equal(v, weights[k]), k
    for before, o in zip(moments, optimizers, strict=True):
        after = [t for s in o.state.values() for t in s.values()]
        assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert torch.equal(torch.get_rng_state(), rng)

    # D step: D on real and fake images, backward about twice that (weights and inputs);
    # G step: D on the fake again, its input gradient only (D frozen), the generator's
    # backward: 3 F_G + 8 F_D, less the input gradients no one needs (noise, images).
    g = _forward_flops(lambda: gan.generate(32))
    d = _forward_flops(lambda: gan.discriminator(x))
    assert counted == pytest.approx(3 * g + 8 * d, rel=0.03)


class FlopsSeen:
    def __init__(self) -> None:
        self.seen: list[tuple[int, float, int]] = []

    def resume(self, progress: Progress) -> None:
        pass

    def due(self, progress: Progress) -> bool:
        return True

    def __call__(self, model, progress: Progress) -> None:
        self.seen.append((progress.step, progress.flops, progress.images))


def _fit(data, out, callbacks=(), **budget):
    torch.manual_seed(0)
    model = models.create("vae", data.image_shape)
    config = TrainConfig(**budget, batch_size=64, show_progress=False, device="cpu",
                         checkpoint_every=2)
    return Trainer(config, out, "vae", list(callbacks)).fit(model, data)


def test_trainer_records_flops_and_a_flop_budget_is_a_step_count(sprites, tmp_path):
    train, _ = sprites
    per_step = seed_vae_step_flops(64)
    seen = FlopsSeen()
    result = _fit(train, tmp_path / "a", [seen], flops=3.5 * per_step)
    assert result.flops_per_step == pytest.approx(per_step, rel=0.02)
    assert result.steps == 4 == math.ceil(3.5)
    assert result.flops == 4 * result.flops_per_step and result.images == 4 * 64
    assert [s for s, _, _ in seen.seen] == [1, 2, 3, 4]
    assert all(f == s * result.flops_per_step and i == s * 64 for s, f, i in seen.seen)
    # A budget of exactly n steps' FLOPs is n steps, not n + 1 (rounding).
    assert _fit(train, tmp_path / "b", flops=3 * result.flops_per_step).steps == 3
    # A resumed run reads its cost of a step from the checkpoint and goes on to the budget.
    assert _fit(train, tmp_path / "b", flops=5 * result.flops_per_step).steps == 5


@pytest.mark.parametrize("settings, match", [
    ({"flops": -1.0}, "the flops budget must be greater than 0"),
    ({"flops": 1e9, "steps": 10}, "exactly one training budget: epochs, steps, seconds or flops"),
])
def test_bad_flop_budgets_are_refused(settings, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**settings)


def test_a_flop_budget_needs_a_counted_step():
    config = TrainConfig(flops=1e9)
    assert config.total_steps(10, 1e8) == 10
    with pytest.raises(ValueError, match="step counted 0 FLOPs"):
        config.total_steps(10, 0.0)


def test_each_training_phase_is_counted_at_its_own_cost(sprites, tmp_path):
    # The VQ-VAE trains its autoencoder, then only its prior on frozen codes: two costs.
    train, _ = sprites
    torch.manual_seed(0)
    settings = {"width": 8, "prior_layers": 1, "autoencoder_steps": 2}
    model = models.create("vqvae", train.image_shape, **settings)
    x = to_float(train.images[:32])
    optimizers = model.optimizers(1e-3, 0.0)
    autoencoder = step_flops(model, optimizers, (x, None), update)
    model.steps_done.fill_(2)
    prior = step_flops(model, optimizers, (x, None), update)
    assert prior != autoencoder

    torch.manual_seed(0)
    config = TrainConfig(steps=5, batch_size=32, show_progress=False, device="cpu")
    result = Trainer(config, tmp_path, "vqvae").fit(
        models.create("vqvae", train.image_shape, **settings), train)
    assert result.flops == pytest.approx(2 * autoencoder + 3 * prior, rel=1e-9)
    # A FLOP budget spends FLOPs, whatever the phase: 2 autoencoder steps, then the prior's.
    torch.manual_seed(0)
    budget = TrainConfig(flops=2 * autoencoder + 2.5 * prior, batch_size=32, show_progress=False,
                         device="cpu")
    assert Trainer(budget, tmp_path / "b", "vqvae").fit(
        models.create("vqvae", train.image_shape, **settings), train).steps == 5
