"""Every model family through the one Trainer: losses fall, samples are images, capabilities
hold, checkpoints reload, divergence stops the run."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genbench import models
from genbench.datasets import Batches, ImageData, to_float
from genbench.io import torch_load
from genbench.training import (
    NonFiniteLoss,
    TrainConfig,
    Trainer,
    lay_out,
    load_sampling_weights,
)

SMALL = {  # small widths: the behaviour under test does not need capacity
    "ae": {}, "vae": {}, "cvae": {},
    "vae-conv": {"width": 16}, "beta-vae": {"width": 16},
    "vqvae": {"width": 16, "prior_layers": 1},
    "gan": {"width": 16},
    "diffusion": {"width": 16, "sampling_steps": 5},
    "flow": {"width": 16, "sampling_steps": 5},
}
LR = {"gan": 2e-4, "diffusion": 2e-3, "flow": 2e-3}


def test_registry_has_the_seven_families():
    assert set(SMALL) == set(models.available())


def test_unknown_model_and_setting_are_named():
    with pytest.raises(KeyError, match="unknown model 'vea'.*vae"):
        models.create("vea", (1, 28, 28))
    with pytest.raises(ValueError, match="no setting.*latent_size"):
        models.create("vae", (1, 28, 28), latent_size=2)


@pytest.mark.parametrize("setting, match", [
    ({"latent_dim": 0}, "latent_dim must be greater than 0"),
    ({"beta": -1.0}, "beta must be 0 or more"),
])
def test_bad_settings_are_refused(setting, match):
    with pytest.raises(ValueError, match=match):
        models.create("vae", (1, 28, 28), **setting)


def _train(name, data, tmp_path, steps, batch_size=64, **extra):
    torch.manual_seed(0)
    model = models.create(name, data.image_shape, data.num_classes, **{**SMALL[name], **extra})
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=LR.get(name, 1e-3),
                         log_every=10, checkpoint_every=steps, show_progress=False, device="cpu")
    return Trainer(config, tmp_path, name).fit(model, data)


@pytest.mark.parametrize("name", [m for m in SMALL if m != "gan"])
def test_training_loss_falls_and_samples_are_images(name, sprites, tmp_path):
    train, _ = sprites
    steps = {"vqvae": 200, "diffusion": 80, "flow": 80}.get(name, 120)
    denoiser = name in ("diffusion", "flow")
    result = _train(name, train, tmp_path, steps, batch_size=32 if denoiser else 64)
    curve = pd.read_csv(tmp_path / "loss.csv")["loss"]
    assert curve.iloc[-3:].mean() < 0.8 * curve.iloc[:2].mean(), curve.tolist()
    samples = result.sampler.sample(6, result.sampler.random_labels(6))
    assert samples.shape == (6, *train.image_shape)
    assert float(samples.min()) >= 0 and float(samples.max()) <= 1


@pytest.mark.parametrize("name", models.available())
def test_every_model_trains_under_bf16_autocast(name, sprites):
    # CUDA runs train in bf16 autocast (TrainConfig.amp); CPU autocast applies the same
    # dtype rules, so a step that breaks on the GPU breaks here too.
    train, _ = sprites
    torch.manual_seed(0)
    model = models.create(name, train.image_shape, train.num_classes, **SMALL[name]).train()
    optimizers = model.optimizers(LR.get(name, 1e-3), 0.0)

    def update(loss, optimizer):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    with torch.autocast("cpu", dtype=torch.bfloat16):
        for _, (x, y) in zip(range(2), Batches(train, 8), strict=False):
            losses = model.optimization_step(x, y, optimizers, update)
    assert all(torch.isfinite(v).all() for v in losses.values()), losses
    state = [t for t in model.state_dict().values() if t.is_floating_point()]
    assert all(t.dtype == torch.float32 for t in state)  # weights and statistics stay fp32


def test_gan_samples_move_towards_the_data(sprites, tmp_path):
    train, _ = sprites
    target = to_float(train.images[:512]).mean(0)
    torch.manual_seed(0)
    untrained = models.create("gan", train.image_shape, **SMALL["gan"]).eval()
    before = F.mse_loss(untrained.sample(256).mean(0), target)
    result = _train("gan", train, tmp_path, 80, ema_decay=0.9)
    after = F.mse_loss(result.sampler.sample(256).mean(0), target)
    assert after < 0.5 * before
    losses = pd.read_csv(tmp_path / "loss.csv")
    assert {"loss", "d_loss", "g_loss"} <= set(losses.columns)


def test_cvae_samples_follow_the_label(tmp_path):
    # Class k is a bright band at rows 7k..7k+6 with random texture: the label decides it.
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(1024) % 4
    images = torch.randint(0, 60, (1024, 1, 28, 28), generator=g, dtype=torch.uint8)
    for k in range(4):
        images[labels == k, :, 7 * k:7 * k + 7] += 180
    data = ImageData(images, labels, {"name": "bands", "num_classes": 4})
    model = _train("cvae", data, tmp_path, 300).sampler
    for k in range(4):
        torch.manual_seed(1)  # the same noise for every label
        rows = model.sample(16, torch.full((16,), k)).mean((0, 1, 3)).view(4, 7).mean(1)
        assert int(rows.argmax()) == k, rows


def test_vqvae_uses_many_codes(sprites, tmp_path):
    train, _ = sprites
    model = _train("vqvae", train, tmp_path, 100).sampler
    codes = model.codes(to_float(train.images[:256]))
    assert codes.unique().numel() > 4


def test_two_dimensional_latent(sprites, tmp_path):
    train, _ = sprites
    model = _train("vae", train, tmp_path, 30, latent_dim=2).sampler
    z = model.encode(to_float(train.images[:10]))
    assert z.shape == (10, 2)
    assert model.decode(z).shape == (10, *train.image_shape)


def test_seed_mlp_vae_is_the_presentations_model():
    model = models.create("vae", (1, 28, 28), latent_dim=2)
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    shapes = [(m.in_features, m.out_features) for m in linear]
    assert shapes == [(784, 512), (512, 256), (256, 2), (256, 2), (2, 256), (256, 512),
                      (512, 784)]
    # Its loss is the seed's vae_loss (BCE summed + KL), per image.
    x = torch.rand(16, 1, 28, 28).round()
    torch.manual_seed(0)
    ours = model.training_step(x, None)["loss"]
    torch.manual_seed(0)
    mu, log_var = model.posterior(x)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
    reconstructed = torch.sigmoid(model.decoder_logits(z))
    seed_loss = (F.binary_cross_entropy(reconstructed, x, reduction="sum")
                 - 0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp()))
    torch.testing.assert_close(ours, seed_loss / 16, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("name", ["vae", "gan", "diffusion", "flow"])
def test_checkpoint_reloads_to_identical_outputs(name, sprites, tmp_path):
    train, _ = sprites
    trained = _train(name, train, tmp_path, 20).sampler
    fresh = models.create(name, train.image_shape, train.num_classes, **SMALL[name])
    lay_out(fresh, TrainConfig(steps=1).channels_last)  # as it trained (and load_trained does)
    load_sampling_weights(fresh, torch_load(tmp_path / "checkpoint.pt"))
    torch.manual_seed(5)
    a = trained.sample(4)
    torch.manual_seed(5)
    b = fresh.sample(4)
    assert torch.equal(a, b)


def test_resumed_training_equals_uninterrupted(sprites, tmp_path):
    train, _ = sprites
    whole = _train("vae", train, tmp_path / "whole", 40).model
    # Stop after 20 steps (a checkpoint), then resume to 40 from a new Trainer.
    _train("vae", train, tmp_path / "parts", 20)
    ckpt = torch_load(tmp_path / "parts" / "checkpoint.pt")
    ckpt["state"]["finished"] = False
    torch.save(ckpt, tmp_path / "parts" / "checkpoint.pt")
    torch.manual_seed(123)  # a different global RNG state: the checkpoint restores its own
    resumed = _train("vae", train, tmp_path / "parts", 40).model
    for (k, a), (_, b) in zip(whole.state_dict().items(), resumed.state_dict().items(),
                              strict=True):
        assert torch.equal(a, b), k


def test_nan_loss_stops_with_step_and_name(sprites, tmp_path, monkeypatch):
    train, _ = sprites
    original = models.model_class("vae").training_step

    def poisoned(self, x, y):
        losses = original(self, x, y)
        if int(self.steps_seen) == 3:
            losses["loss"] = losses["loss"] * float("nan")
        return losses

    monkeypatch.setattr(models.model_class("vae"), "training_step", poisoned)
    with pytest.raises(NonFiniteLoss, match="loss 'loss' became nan at step 3"):
        _train("vae", train, tmp_path, 10)
    assert not (tmp_path / "checkpoint.pt").exists()  # nothing passes for a finished run


def test_batches_feed_the_device_once(sprites):
    train, _ = sprites
    batches = Batches(train, 32, device="cpu")
    x, y = next(iter(batches))
    assert x.shape == (32, *train.image_shape) and y.shape == (32,)
