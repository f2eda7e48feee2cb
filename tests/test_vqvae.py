"""The VQ-VAE trains as its paper does: the autoencoder and codebook first, then the prior on
the frozen codes; the phase is checkpointed with the weights and a resumed run goes on
exactly as an uninterrupted one."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from genbench import models
from genbench.datasets import to_float
from genbench.io import torch_load
from genbench.training import TrainConfig, Trainer

SMALL = {"width": 8, "prior_dim": 32, "prior_layers": 1, "codebook_size": 16}


def trained(data, directory, steps, autoencoder_steps, resume=True):
    torch.manual_seed(0)
    model = models.create("vqvae", data.image_shape, **SMALL,
                          autoencoder_steps=autoencoder_steps)
    config = TrainConfig(steps=steps, batch_size=32, lr=2e-3, log_every=5,
                         checkpoint_every=1000, show_progress=False, device="cpu")
    Trainer(config, directory, "vqvae").fit(model, data, resume=resume)
    return model


def part(model, prefix: str, keep: bool = True) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()
            if k.startswith(prefix) == keep and k != "steps_done"}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_phase_one_trains_the_autoencoder_and_leaves_the_prior(sprites, tmp_path):
    train, _ = sprites
    torch.manual_seed(0)
    untrained = models.create("vqvae", train.image_shape, **SMALL, autoencoder_steps=20)
    model = trained(train, tmp_path, 20, autoencoder_steps=20)
    assert int(model.steps_done) == 20
    assert same(part(model, "prior."), part(untrained, "prior."))
    assert not torch.equal(model.quantizer.embed, untrained.quantizer.embed)
    assert not same(part(model, "encoder."), part(untrained, "encoder."))
    assert model.in_prior_phase() and not model.sampling_ready()


def test_phase_two_trains_only_the_prior_on_frozen_codes(sprites, tmp_path):
    train, _ = sprites
    after_phase_one = trained(train, tmp_path / "a", 20, autoencoder_steps=20)
    model = trained(train, tmp_path / "b", 30, autoencoder_steps=20)
    # Encoder, decoder, codebook and BatchNorm statistics are as phase 1 left them.
    assert same(part(model, "prior.", keep=False), part(after_phase_one, "prior.", keep=False))
    assert not same(part(model, "prior."), part(after_phase_one, "prior."))
    assert model.sampling_ready()
    x = to_float(train.images[:64])
    assert torch.equal(model.eval().codes(x), after_phase_one.eval().codes(x))


def test_each_phase_logs_its_own_losses(sprites, tmp_path):
    import pandas as pd

    train, _ = sprites
    trained(train, tmp_path, 30, autoencoder_steps=15)
    curve = pd.read_csv(tmp_path / "loss.csv").set_index("step")
    assert curve.loc[15, ["recon", "commit"]].notna().all() and pd.isna(curve.loc[15, "prior_nll"])
    assert curve.loc[30, "prior_nll"] > 0 and pd.isna(curve.loc[30, "recon"])
    # In phase 2 the loss is the prior's NLL of the frozen codes alone.
    assert curve.loc[20, "loss"] == curve.loc[20, "prior_nll"]


def test_a_resumed_run_crosses_the_phase_boundary_exactly(sprites, tmp_path):
    train, _ = sprites
    straight = trained(train, tmp_path / "straight", 30, autoencoder_steps=20)
    trained(train, tmp_path / "resumed", 12, autoencoder_steps=20)  # stops in phase 1
    ckpt = torch_load(tmp_path / "resumed" / "checkpoint.pt", "checkpoint")
    assert int(ckpt["model"]["steps_done"]) == 12  # the phase travels with the weights
    resumed = trained(train, tmp_path / "resumed", 30, autoencoder_steps=20)
    assert same(resumed.state_dict(), straight.state_dict())
    assert int(resumed.steps_done) == 30


def test_each_phase_has_its_own_optimizer():
    model = models.create("vqvae", (1, 28, 28), **SMALL)
    autoencoder, prior = model.optimizers(1e-3, 0.0)
    prior_params = {id(p) for p in model.prior.parameters()}
    assert {id(p) for g in prior.param_groups for p in g["params"]} == prior_params
    ae = {id(p) for g in autoencoder.param_groups for p in g["params"]}
    assert not ae & prior_params and len(ae) + len(prior_params) == len(list(model.parameters()))


def test_autoencoder_steps_must_be_positive():
    with pytest.raises(ValueError, match="autoencoder_steps must be greater than 0, got 0"):
        models.create("vqvae", (1, 28, 28), autoencoder_steps=0)


def test_points_before_the_prior_trains_keep_the_loss_and_no_sample_quality(tmp_path):
    """The quality curve of a run still in its first phase: rows with the loss and without
    FID/KID, no samples strip, and the run finishes (its final evaluation samples anyway)."""
    from genbench.cli import main

    out = tmp_path / "vq"
    assert main(["train", "--model", "vqvae", "--dataset", "sprites", "--option", "size=16",
                 "--max-train", "256", "--steps", "8", "--batch-size", "32", "--set",
                 "width=8", "--set", "prior_layers=1", "--set", "autoencoder_steps=100",
                 "--out", str(out), "--quiet"]) == 0
    rows = pd.read_csv(out / "quality.csv")
    assert len(rows) >= 1 and rows["fid"].isna().all() and rows["loss"].notna().all()


def test_the_cached_prior_samples_as_the_full_causal_pass_does():
    """Sampling with cached keys and values gives each position the logits of the full
    causal pass over its prefix, so it draws what recomputing the prefix would draw."""
    from genbench.models.code_prior import CodePrior

    torch.manual_seed(0)
    prior = CodePrior(codebook_size=16, positions=9, dim=32, layers=2, heads=4).eval()
    with torch.no_grad():
        for p in prior.parameters():  # away from the initialisation's zero positions
            p.add_(0.3 * torch.randn_like(p))
        codes = torch.randint(16, (5, 9))
        full = prior.logits(codes)
        cache = [None] * 2
        token = torch.full((5,), prior.bos)
        for i in range(9):
            step = prior.next_logits(token, i, cache)
            assert torch.allclose(step, full[:, i], atol=1e-5), i
            token = codes[:, i]

        def recomputed(n: int) -> torch.Tensor:  # the prefix recomputed at every position
            drawn = torch.zeros(n, 0, dtype=torch.long)
            for _ in range(9):
                probs = prior.logits(torch.cat([drawn, torch.zeros(n, 1, dtype=torch.long)],
                                                dim=1))[:, -1].softmax(-1)
                drawn = torch.cat([drawn, torch.multinomial(probs, 1)], dim=1)
            return drawn

        torch.manual_seed(1)
        reference = recomputed(64)
        torch.manual_seed(1)
        assert torch.equal(prior.sample(64, 9, torch.device("cpu")), reference)
