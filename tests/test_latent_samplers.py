"""Latent samplers fitted after training (models/latent.py): each recovers what it models,
fits deterministically without touching the caller's random stream, round-trips through a
state_dict, stays out of the main optimizer, and the AE and VAE sample images with them."""

from __future__ import annotations

import io

import pytest
import torch
from torch.optim.swa_utils import AveragedModel

from genbench import models
from genbench.models.latent import make_sampler

MEANS = torch.tensor([[4.0, 0, 0, 0], [-4, 0, 0, 0], [0, 4, 0, 0]])
WEIGHTS = torch.tensor([0.5, 0.3, 0.2])
FITTED = {"gaussian": {}, "gmm": {"components": 3}, "two-stage": {"steps": 40}}


@pytest.fixture(scope="module")
def codes() -> torch.Tensor:
    """3000 codes of 3 well-separated Gaussian clusters in 4-d (std 0.7, weights .5 .3 .2)."""
    g = torch.Generator().manual_seed(0)
    k = torch.multinomial(WEIGHTS, 3000, replacement=True, generator=g)
    return MEANS[k] + 0.7 * torch.randn(3000, 4, generator=g)


def cluster_shares(z: torch.Tensor) -> torch.Tensor:
    return torch.bincount(torch.cdist(z, MEANS).argmin(1), minlength=3) / len(z)


def near_a_cluster(z: torch.Tensor) -> float:
    """Share of points within 3 cluster std of a centre (the data: about 0.93)."""
    return float((torch.cdist(z, MEANS).min(1).values < 2.1).float().mean())


def build(name: str, **options):
    return make_sampler(name, 4, **{**FITTED[name], **options})


def fitted(name: str, codes: torch.Tensor, **options):
    sampler = build(name, **options)
    sampler.fit(codes)
    return sampler


def test_gmm_recovers_the_components(codes):
    gmm = fitted("gmm", codes)
    order = torch.cdist(MEANS, gmm.means).argmin(1)  # fitted component of each true one
    assert sorted(order.tolist()) == [0, 1, 2]
    torch.testing.assert_close(gmm.means[order], MEANS, atol=0.1, rtol=0)
    torch.testing.assert_close(gmm.weights[order], WEIGHTS, atol=0.03, rtol=0)
    covariances = gmm.scale_trils @ gmm.scale_trils.transpose(1, 2)
    torch.testing.assert_close(covariances, 0.49 * torch.eye(4).expand(3, 4, 4), atol=0.08,
                               rtol=0)
    torch.manual_seed(0)
    z = gmm.sample(20_000)
    torch.testing.assert_close(cluster_shares(z), WEIGHTS, atol=0.02, rtol=0)
    assert near_a_cluster(z) > 0.9
    cost = gmm.cost()
    assert cost["fit_seconds"] > 0 and "fit_flops" not in cost  # sklearn's EM: not counted


def test_gaussian_matches_mean_and_covariance(codes):
    gaussian = fitted("gaussian", codes)
    torch.testing.assert_close(gaussian.mean, codes.mean(0))
    cov = torch.cov(codes.T)
    torch.testing.assert_close(gaussian.scale_tril @ gaussian.scale_tril.T, cov,
                               atol=1e-4, rtol=1e-4)
    torch.manual_seed(0)
    z = gaussian.sample(50_000)
    torch.testing.assert_close(z.mean(0), codes.mean(0), atol=0.06, rtol=0)
    torch.testing.assert_close(torch.cov(z.T), cov, atol=0.12, rtol=0.03)
    assert gaussian.cost()["fit_flops"] > 0


def test_two_stage_matches_the_codes_and_beats_simpler_densities(codes):
    two_stage = fitted("two-stage", codes, steps=800, hidden=128)  # narrower: a faster test
    torch.manual_seed(0)
    z = two_stage.sample(5000)
    spread = codes.std(0)
    assert ((z.mean(0) - codes.mean(0)).abs() < 0.25 * spread).all(), z.mean(0)
    cov = torch.cov(codes.T)
    assert torch.linalg.norm(torch.cov(z.T) - cov) < 0.35 * torch.linalg.norm(cov)
    torch.testing.assert_close(cluster_shares(z), WEIGHTS, atol=0.05, rtol=0)
    # Mixture-aware: most samples land on a cluster, unlike N(0, I) or one Gaussian's.
    gaussian = fitted("gaussian", codes)
    torch.manual_seed(0)
    one_gaussian = gaussian.sample(5000)
    assert near_a_cluster(z) > near_a_cluster(one_gaussian) + 0.3
    assert near_a_cluster(z) > near_a_cluster(torch.randn(5000, 4)) + 0.5
    cost = two_stage.cost()
    assert cost["fit_seconds"] > 0 and cost["fit_flops"] > 800 * 2 * 3000  # 800 counted steps


@pytest.mark.parametrize("name", FITTED)
def test_fit_is_deterministic_and_leaves_the_callers_stream(name, codes):
    torch.manual_seed(1)
    a = build(name)  # building draws nothing either: a model's training stream is unchanged
    a.fit(codes)
    after_fit = torch.rand(3)
    torch.manual_seed(1)
    assert torch.equal(after_fit, torch.rand(3))  # the fit drew nothing from the caller's
    torch.manual_seed(2)  # another caller stream: the same fit
    b = fitted(name, codes)
    for (key, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        if not key.endswith("_extra_state"):  # the cost: seconds differ
            assert torch.equal(x, y), key
    draws = []
    for seed in (5, 5, 6):
        torch.manual_seed(seed)
        draws.append(a.sample(64))
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])


def test_a_second_stage_refit_starts_from_the_last_fit(codes):
    """Curve points refit on codes that moved a little: the second stage trains on from its
    last weights for a fifth of the steps."""
    stage = build("two-stage", steps=50)
    stage.fit(codes)
    first = stage.cost()["fit_flops"]
    last_fit = torch.cat([b.flatten() for b in stage.net.buffers()])
    stage.fit(codes + 0.1)
    assert stage.cost()["fit_flops"] == pytest.approx(first / 5)
    fresh = build("two-stage", steps=10)
    fresh.fit(codes + 0.1)
    refit, scratch = (torch.cat([b.flatten() for b in s.net.buffers()]) for s in (stage, fresh))
    assert (refit - last_fit).norm() < (scratch - last_fit).norm() / 2


@pytest.mark.parametrize("name", FITTED)
def test_state_dict_round_trip_reproduces_samples(name, codes):
    sampler = fitted(name, codes)
    buffer = io.BytesIO()
    torch.save(sampler.state_dict(), buffer)
    buffer.seek(0)
    fresh = build(name)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    torch.manual_seed(3)
    a = sampler.sample(100)
    torch.manual_seed(3)
    assert torch.equal(a, fresh.sample(100))
    assert fresh.cost() == sampler.cost() and fresh.cost()["fit_seconds"] > 0


class FakeBatches:
    """What prepare_sampling reads: epoch(0) yields (x, y) over the training set."""

    def __init__(self, n: int = 96, shape=(1, 28, 28)) -> None:
        self.x = torch.rand(n, *shape, generator=torch.Generator().manual_seed(0))

    def epoch(self, index):
        return iter([(x, None) for x in self.x.split(32)])


class NoBatches:
    def epoch(self, index):
        raise AssertionError("the prior has nothing to fit: the codes are not needed")


def test_second_stage_is_outside_the_main_optimizer():
    torch.manual_seed(0)
    model = models.create("vae", (1, 28, 28), sampler="two-stage", second_stage_steps=20)
    model.prepare_sampling(FakeBatches())
    stored = dict(model.latent_sampler.named_buffers())
    assert any(k.startswith("net.decoder") for k in stored) and "net.log_gamma" in stored
    assert all(t.requires_grad is False for t in stored.values())
    optimizer, = model.optimizers(1e-3, 0.0)
    in_groups = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert in_groups.isdisjoint(id(t) for t in stored.values())
    assert len(in_groups) == len(list(model.parameters()))
    assert not any(k.startswith("latent_sampler") for k, _ in model.named_parameters())
    plain = models.create("vae", (1, 28, 28))
    assert (sum(p.numel() for p in model.parameters())
            == sum(p.numel() for p in plain.parameters()))
    assert not any("latent_sampler" in k for k, _ in AveragedModel(model).named_parameters())
    before = {k: v.clone() for k, v in model.state_dict().items()}

    def update(loss, opt):
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train().optimization_step(FakeBatches(32).x.round(), None, [optimizer], update)
    after = model.state_dict()
    changed = {k for k, v in before.items() if not torch.equal(v, after[k])
               if not k.endswith("_extra_state")}
    assert changed and not any(k.startswith("latent_sampler") for k in changed), changed


@pytest.mark.parametrize("name, setting, match", [
    ("ae", {"sampler": "nope"}, "sampler 'nope': unknown sampler.*'gaussian', 'gmm'"),
    ("vae", {"sampler": "nope"}, "sampler 'nope': unknown sampler.*'prior', 'gaussian'"),
    ("ae", {"sampler": "prior"}, "the ae samples with one of 'gaussian'"),
    ("cvae", {"sampler": "gmm"}, "cvae samples each class from its prior.*'prior'"),
    ("vae", {"sampler": "gmm", "gmm_components": 0}, "gmm_components must be greater"),
    ("ae", {"second_stage_steps": 0}, "second_stage_steps must be greater"),
])
def test_bad_sampler_settings_are_refused(name, setting, match):
    with pytest.raises(ValueError, match=match):
        models.create(name, (1, 28, 28), 10, **setting)


@pytest.mark.parametrize("name, setting, counted", [
    ("ae", {"sampler": "gmm"}, False),
    ("vae", {"sampler": "two-stage", "second_stage_steps": 20}, True),
])
def test_models_sample_images_from_a_fitted_sampler(name, setting, counted):
    torch.manual_seed(0)
    model = models.create(name, (1, 28, 28), **setting).eval()
    assert model.sampler_cost() == {}
    model.prepare_sampling(FakeBatches())
    cost = model.sampler_cost()
    assert cost["sampler_fit_seconds"] > 0 and ("sampler_fit_flops" in cost) == counted
    assert cost["sampler_encode_flops"] > 0  # the encoding pass, common to every sampler
    torch.manual_seed(4)
    x = model.sample(6)
    assert x.shape == (6, 1, 28, 28) and float(x.min()) >= 0 and float(x.max()) <= 1
    fresh = models.create(name, (1, 28, 28), **setting)
    fresh.load_state_dict(model.state_dict())
    torch.manual_seed(4)
    assert torch.equal(fresh.eval().sample(6), x) and fresh.sampler_cost() == cost


def test_vae_with_a_fitted_sampler_reports_no_likelihood():
    fitted_vae = models.create("vae", (1, 28, 28), sampler="gmm")
    assert fitted_vae.likelihood is False and fitted_vae.capabilities()["likelihood"] is False
    assert models.create("vae", (1, 28, 28)).capabilities()["likelihood"] is True
    assert models.model_class("vae").capabilities()["likelihood"] is True  # the class's


def test_vae_prior_keeps_its_random_stream():
    torch.manual_seed(0)
    model = models.create("vae", (1, 28, 28)).eval()
    model.prepare_sampling(NoBatches())
    assert not any(k.startswith("latent_sampler") for k in model.state_dict())
    assert model.sampler_cost() == {}
    torch.manual_seed(3)
    a = model.sample(4)
    torch.manual_seed(3)
    assert torch.equal(a, model.decode(torch.randn(4, 20)))


def test_ae_gaussian_keeps_its_checkpoint_names():
    torch.manual_seed(0)
    model = models.create("ae", (1, 28, 28))
    model.prepare_sampling(FakeBatches())
    state = model.state_dict()
    assert {"code_mean", "code_scale_tril"} <= set(state)
    assert not {"latent_sampler.mean", "latent_sampler.scale_tril"} & set(state)
    ema = AveragedModel(model, use_buffers=True)
    assert "module.code_mean" in ema.state_dict()
    # A checkpoint from before samplers were pluggable: the same keys, no fit cost.
    old = {k: v for k, v in state.items() if not k.endswith("_extra_state")}
    fresh = models.create("ae", (1, 28, 28))
    fresh.load_state_dict(old)
    assert fresh.sampler_cost() == {}
    torch.manual_seed(2)
    a = model.sample(5)
    torch.manual_seed(2)
    assert torch.equal(a, fresh.sample(5))
    torch.manual_seed(2)  # today's sampling: mean + eps @ L^T, decoded
    eps = torch.randn(5, 20)
    assert torch.equal(a, model.decode(state["code_mean"] + eps @ state["code_scale_tril"].T))
