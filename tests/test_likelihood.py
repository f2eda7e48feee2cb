"""Likelihoods against exact values: the importance-weighted bound on models whose log p(x)
is known, bits/dim of densities (dequantised), Bernoulli likelihoods of binarised pixels,
the CVAE's marginal -log p(x), and the conventions written beside them."""

from __future__ import annotations

import math

import pytest
import torch

from genbench import datasets, metrics, models
from genbench.benchmarks.build import training_data
from genbench.datasets import Batches, ImageData, to_float
from genbench.errors import ConfigError
from genbench.models.vae import decoder_log_prob
from genbench.settings import DataConfig, RunConfig


def linear_gaussian_vae(sigma: float = 0.2, exact_posterior: bool = True) -> models.GenerativeModel:
    """A VAE whose decoder is linear-Gaussian, so log p(x) is known in closed form:
    x = W z + b + sigma * eps, z ~ N(0, I)  =>  x ~ N(b, W W^T + sigma^2 I)."""
    torch.manual_seed(0)
    model = models.create("vae", (1, 4, 4), latent_dim=2, hidden=(), likelihood="gaussian",
                          sigma=sigma).double()
    decoder = model.decoder[0][0]  # Linear(2, 16)
    w = torch.zeros(16, 2, dtype=torch.float64)
    w[:8, 0], w[8:, 1] = 0.3, -0.2  # orthogonal columns: the exact posterior is diagonal
    b = torch.full((16,), 0.5, dtype=torch.float64)
    posterior_var = 1 / (1 + (w**2).sum(0) / sigma**2)
    gain = posterior_var[:, None] * w.T / sigma**2
    if not exact_posterior:
        gain = gain * 0.7
    with torch.no_grad():
        decoder.weight.copy_(w)
        decoder.bias.copy_(b)
        model.fc_mean.weight.copy_(gain)
        model.fc_mean.bias.copy_(-gain @ b)
        model.fc_log_var.weight.zero_()
        model.fc_log_var.bias.copy_(posterior_var.log() + (0 if exact_posterior else 0.5))
    forward = model.log_likelihood  # the metrics hand it float32 pixels: run it in float64
    model.log_likelihood = lambda x, k, y=None: forward(x.double(), k, y)
    return model.eval()


@torch.no_grad()
def exact_nll(images: torch.Tensor, sigma: float = 0.2) -> torch.Tensor:
    """-log P of 8-bit images under the model, dequantised: -log p((x + u) / 256) + D log 256."""
    model = linear_gaussian_vae(sigma)
    w, b = model.decoder[0][0].weight, model.decoder[0][0].bias
    density = torch.distributions.MultivariateNormal(
        b, covariance_matrix=w @ w.T + sigma**2 * torch.eye(16, dtype=torch.float64))
    y = metrics.dequantize(images).double().flatten(1)
    return -density.log_prob(y) + 16 * math.log(256)


def test_importance_weighted_bound_is_exact_on_a_linear_gaussian_model():
    g = torch.Generator().manual_seed(1)
    images = torch.randint(60, 200, (400, 1, 4, 4), dtype=torch.uint8, generator=g)
    exact = exact_nll(images)
    # With the exact posterior as proposal every importance weight equals p(x): k=1 is exact.
    ours = metrics.negative_log_likelihood(linear_gaussian_vae(), images, k=1)
    torch.testing.assert_close(ours, exact, rtol=1e-6, atol=1e-6)
    # With a wrong proposal the bound is looser, and tightens towards the exact value with k.
    loose = linear_gaussian_vae(exact_posterior=False)
    torch.manual_seed(0)
    gaps = [float((metrics.negative_log_likelihood(loose, images, k) - exact).mean())
            for k in (1, 10, 1000)]
    assert gaps[0] > 0.1 and abs(gaps[1]) < 0.3 * gaps[0] and abs(gaps[2]) < 0.03 * gaps[0], gaps


def test_importance_weighted_bound_tightens_on_a_trained_vae(sprites, tmp_path):
    from genbench.training import TrainConfig, Trainer

    train, test = sprites
    model = models.create("vae", train.image_shape, latent_dim=8)
    Trainer(TrainConfig(steps=150, batch_size=64, show_progress=False, device="cpu"),
            tmp_path).fit(model, train)
    torch.manual_seed(0)
    result = metrics.likelihood_metrics(model.eval(), test.images[:200], (1, 10, 100))
    assert result["nll_k1"] > result["nll_k10"] > result["nll_k100"] > 0
    assert result["bpd_k1"] == pytest.approx(result["nll_k1"] / (28 * 28 * math.log(2)))


def test_bits_per_dim_of_a_sharp_density_is_positive_and_exact():
    # A sharp density (sigma 0.05) around grey 0.5: as a density on [0, 1] its -log p is
    # negative; as a probability of 8-bit values it cannot be.
    images = torch.tensor([127, 128], dtype=torch.uint8).repeat(8, 1, 8).view(8, 1, 4, 4)
    result = metrics.likelihood_metrics(linear_gaussian_vae(0.05), images, (1,))
    direct = float(exact_nll(images, 0.05).mean()) / (16 * math.log(2))
    assert result["bpd_k1"] >= 0
    assert result["bpd_k1"] == pytest.approx(direct, rel=1e-6)


def test_binarize_draws_each_pixel_with_its_grey_level():
    grey = torch.randint(0, 256, (64, 1, 16, 16), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(0))
    binary = datasets.binarize(grey)
    assert set(binary.unique().tolist()) <= {0, 255}
    assert torch.equal(binary, datasets.binarize(grey))  # a fixed draw
    assert float(to_float(binary).mean()) == pytest.approx(float(to_float(grey).mean()), abs=0.01)
    assert torch.equal(datasets.binarize(binary), binary)  # binary images stay as they are


def test_bernoulli_likelihood_is_measured_on_binarised_images(sprites):
    _, test = sprites
    grey = (test.images[:64] * 0.8).to(torch.uint8)  # sprites are binary: make them grey
    torch.manual_seed(0)
    model = models.create("vae", test.image_shape, latent_dim=4, hidden=(32,)).eval()

    def nll(images):
        torch.manual_seed(0)
        return metrics.negative_log_likelihood(model, images, k=3)

    torch.testing.assert_close(nll(grey), nll(datasets.binarize(grey)))


def test_bernoulli_models_train_on_the_binarisation_asked_for(sprites):
    train, _ = sprites
    grey = ImageData((train.images[:256] * 0.8).to(torch.uint8), train.labels[:256],
                     train.meta)
    vae = models.create("vae", grey.image_shape)
    runs = {mode: RunConfig("vae", "vae", DataConfig("sprites", binarize=mode))
            for mode in datasets.BINARIZE}
    assert training_data(runs["none"], vae, grey) is grey
    static = training_data(runs["static"], vae, grey)
    assert torch.equal(static.images, datasets.binarize(grey.images, seed=1))
    dynamic = Batches(training_data(runs["dynamic"], vae, grey), 256, shuffle=False)
    first, second = (next(dynamic.epoch(e))[0] for e in (0, 1))
    assert set(first.unique().tolist()) == {0.0, 1.0} and not torch.equal(first, second)
    gan = models.create("gan", grey.image_shape, width=8)  # no likelihood: grey levels
    assert training_data(runs["dynamic"], gan, grey) is grey
    with pytest.raises(ConfigError, match="binarize must be one of: none, dynamic, static"):
        DataConfig("sprites", binarize="yes")


def test_likelihood_convention_and_published_reference():
    bernoulli = models.create("vae", (1, 28, 28))
    notes = metrics.likelihood_notes(bernoulli, "mnist", "dynamic")
    assert notes["likelihood_convention"] == "binarized pixels (dynamic, seed 0)"
    assert "86.76" in notes["likelihood_reference"] and "Burda" in notes["likelihood_reference"]
    grey = metrics.likelihood_notes(bernoulli, "mnist", "none")
    assert "grey" in grey["likelihood_convention"] and "likelihood_reference" not in grey
    gaussian = models.create("vae", (1, 28, 28), likelihood="gaussian")
    assert metrics.likelihood_notes(gaussian, "mnist", "dynamic") == {
        "likelihood_convention": "8-bit, uniform dequantization"}


@torch.no_grad()
def test_cvae_reports_the_marginal_likelihood():
    # 2x2 binary images and a 1-D latent: p(x|y) by quadrature over z, p(x) = mean_y p(x|y).
    torch.manual_seed(0)
    model = models.create("cvae", (1, 2, 2), 3, latent_dim=1, hidden=(16,)).double().eval()
    for p in model.decoder.parameters():
        p.mul_(2)  # sharper decoders: labels and latents matter
    for head in (model.fc_mean, model.fc_log_var):  # proposal q(z|x, y) = p(z): low variance
        head.weight.zero_()
        head.bias.zero_()
    images = torch.tensor([[(i >> b) & 1 for b in range(4)] for i in range(16)],
                          dtype=torch.uint8).view(16, 1, 2, 2) * 255
    z = torch.linspace(-10, 10, 4001, dtype=torch.float64)[:, None]
    log_prior_mass = torch.distributions.Normal(0.0, 1.0).log_prob(z[:, 0]) + math.log(20 / 4000)

    def exact_log_p(image: torch.Tensor, y: int) -> torch.Tensor:  # log sum_z p(x|z,y) p(z) dz
        logits = model.decoder_logits(z, torch.full((len(z),), y))
        log_px_z = decoder_log_prob(logits, image.expand(len(z), -1, -1, -1), "bernoulli", 1.0)
        return torch.logsumexp(log_prior_mass + log_px_z, 0)

    conditional = torch.stack([torch.stack([exact_log_p(image, y) for image in
                                            to_float(images).double()]) for y in range(3)])
    marginal = torch.logsumexp(conditional, 0) - math.log(3)
    assert float(marginal.exp().sum()) == pytest.approx(1.0, abs=1e-6)  # a distribution
    forward = model.log_likelihood
    model.log_likelihood = lambda x, k, y=None: forward(x.double(), k, y)
    torch.manual_seed(0)
    ours = metrics.negative_log_likelihood(model, images, k=20000)
    torch.testing.assert_close(ours, -marginal, atol=0.03, rtol=0)
    given = metrics.negative_log_likelihood(model, images, k=20000, labels=torch.ones(16).long())
    torch.testing.assert_close(given, -conditional[1], atol=0.03, rtol=0)
    assert bool((ours <= given + math.log(3) + 0.03).all())  # p(x) >= p(x|y) p(y)
