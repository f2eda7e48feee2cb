"""Variational autoencoders (Kingma & Welling, 2014) and their conditional and beta variants.

    encoder q(z|x) = N(mu(x), diag sigma^2(x))
    decoder p(x|z) = Bernoulli(sigmoid(f(z)))   (or Gaussian with fixed sigma)
    prior   p(z)   = N(0, I)
    loss = -E_q[log p(x|z)] + beta * KL(q(z|x) || p(z))

The default `vae` is the seed presentation's network exactly: a 784-512-256 MLP
encoder with mean and log-variance heads, a 256-512-784 decoder, summed BCE + KL.
The decoder emits logits and the BCE is taken with logits: the same function as
the seed's sigmoid + BCE, without its overflow at saturated pixels.

`sampler` other than "prior" samples the decoder from a density fitted to the posterior
means after training (models/latent.py: "gaussian", "gmm", Dai & Wipf's "two-stage"). Those
samples no longer come from the model whose likelihood the IWAE bound measures, so such an
instance reports no likelihood.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genbench.errors import ConfigError
from genbench.models.base import GenerativeModel, positive
from genbench.models.latent import check_sampler, make_sampler
from genbench.models.nets import vector_decoder, vector_encoder
from genbench.models.registry import register_model

LOG_2PI = math.log(2 * math.pi)
IW_PIXELS = 2**20  # pixel values decoded in one pass of the likelihood bound (4 MB of images)
SAMPLERS = ("prior", "gaussian", "gmm", "two-stage")


@dataclass
class VAEConfig:
    latent_dim: int = 20
    backbone: str = "mlp"  # "mlp": the seed's network; "conv": for 32/64 px colour
    hidden: tuple[int, ...] = (512, 256)  # MLP widths
    width: int = 32  # conv channels of the first stage
    likelihood: str = "bernoulli"  # or "gaussian" with fixed `sigma`
    sigma: float = 0.1
    beta: float = 1.0
    capacity_max: float = 0.0  # Burgess et al. (2018): > 0 anneals a KL target C to this
    capacity_steps: int = 10_000
    gamma: float = 1000.0  # weight of |KL - C| when capacity annealing is on
    # what sample() decodes: "prior" N(0, I), or a density fitted to the posterior means
    # after training: "gaussian", "gmm", "two-stage" (models/latent.py)
    sampler: str = "prior"
    gmm_components: int = 10  # sampler "gmm": mixture components
    second_stage_steps: int = 1500  # sampler "two-stage": Adam steps of the second VAE

    def __post_init__(self) -> None:
        positive("latent_dim", self.latent_dim)
        positive("beta", self.beta, allow_zero=True)
        positive("sigma", self.sigma)
        positive("capacity_max", self.capacity_max, allow_zero=True)
        if self.likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got "
                             f"{self.likelihood!r}")
        check_sampler(self.sampler, SAMPLERS, "the vae")
        positive("gmm_components", self.gmm_components)
        positive("second_stage_steps", self.second_stage_steps)


def decoder_log_prob(logits: torch.Tensor, x: torch.Tensor, likelihood: str,
                     sigma: float) -> torch.Tensor:
    """log p(x|z) per image, summed over pixels."""
    if likelihood == "bernoulli":
        log_p = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    else:
        log_p = -0.5 * (((x - logits) / sigma) ** 2 + LOG_2PI) - math.log(sigma)
    return log_p.flatten(1).sum(1)


def decoder_mean(logits: torch.Tensor, likelihood: str) -> torch.Tensor:
    return torch.sigmoid(logits) if likelihood == "bernoulli" else logits.clamp(0, 1)


def gaussian_log_prob(z: torch.Tensor, mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    return (-0.5 * ((z - mu) ** 2 / log_var.exp() + log_var + LOG_2PI)).sum(-1)


@register_model("beta-vae", VAEConfig, backbone="conv", beta=4.0, latent_dim=10)
@register_model("vae-conv", VAEConfig, backbone="conv", latent_dim=32)
@register_model("vae", VAEConfig)
class VAE(GenerativeModel):
    reconstructs = likelihood = latent = True

    def __init__(self, config: VAEConfig, image_shape, num_classes=None) -> None:
        super().__init__(config, image_shape, num_classes)
        cond = num_classes if self.conditional else 0
        self.encoder, features = vector_encoder(config.backbone, self.image_shape,
                                                config.hidden, config.width)
        self.fc_mean = nn.Linear(features + cond, config.latent_dim)
        self.fc_log_var = nn.Linear(features + cond, config.latent_dim)
        self.decoder = vector_decoder(config.backbone, self.image_shape,
                                      config.latent_dim + cond, config.hidden, config.width)
        self.register_buffer("steps_seen", torch.zeros((), dtype=torch.long))
        self.latent_sampler = make_sampler(config.sampler, config.latent_dim,
                                           components=config.gmm_components,
                                           steps=config.second_stage_steps)
        if self.latent_sampler.fits:  # samples not from p(z): the bound is not their model's
            self.likelihood = False

    def _condition(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if not self.conditional:
            return h
        if y is None:
            raise ValueError(f"{self.name} is conditional: pass labels")
        return torch.cat([h, F.one_hot(y, self.num_classes).to(h.dtype)], dim=1)

    def posterior(self, x: torch.Tensor, y: torch.Tensor | None = None):
        h = self._condition(self.encoder(x), y)
        return self.fc_mean(h), self.fc_log_var(h)

    def decoder_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(self._condition(z, y))

    @staticmethod
    def reparameterize(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        return mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)

    def training_step(self, x, y):
        mu, log_var = self.posterior(x, y)
        z = self.reparameterize(mu, log_var)
        recon = -decoder_log_prob(self.decoder_logits(z, y), x, self.config.likelihood,
                                  self.config.sigma).mean()
        kl = (-0.5 * (1 + log_var - mu.pow(2) - log_var.exp()).sum(1)).mean()
        loss = recon + self.kl_term(kl)
        self.steps_seen += 1
        return {"loss": loss, "recon": recon.detach(), "kl": kl.detach()}

    def kl_term(self, kl: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if cfg.capacity_max <= 0:
            return cfg.beta * kl
        capacity = cfg.capacity_max * min(1.0, self.steps_seen.item() / cfg.capacity_steps)
        return cfg.gamma * (kl - capacity).abs()

    @torch.no_grad()
    def prepare_sampling(self, batches) -> None:
        if self.latent_sampler.fits:
            self.latent_sampler.fit_encoder(self.encode, batches)

    def sampler_cost(self) -> dict[str, float]:
        return {f"sampler_{k}": v for k, v in self.latent_sampler.cost().items()}

    @torch.no_grad()
    def sample(self, n, labels=None):
        labels = self.random_labels(n) if labels is None and self.conditional else labels
        return self.decode(self.latent_sampler.sample(n, self.device), labels)

    @torch.no_grad()
    def decode(self, z, y=None):
        return decoder_mean(self.decoder_logits(z, y), self.config.likelihood)

    @torch.no_grad()
    def encode(self, x, y=None):
        return self.posterior(x, y)[0]

    @torch.no_grad()
    def reconstruct(self, x, y=None):
        return self.decode(self.encode(x, y), y)

    def likelihood_kind(self) -> str:
        return "binary" if self.config.likelihood == "bernoulli" else "density"

    @torch.no_grad()
    def log_likelihood(self, x, k, y=None):
        """Importance-weighted bound (Burda et al., 2016): log mean_k p(x,z_k)/q(z_k|x)."""
        mu, log_var = self.posterior(x, y)
        n = len(x)
        per_pass = max(1, IW_PIXELS // x.numel())  # importance samples decoded at once
        weights = []
        for done in range(0, k, per_pass):
            m = min(per_pass, k - done)
            z = self.reparameterize(mu.expand(m, *mu.shape), log_var.expand(m, *mu.shape))
            labels = None if y is None else y.repeat(m)
            logits = self.decoder_logits(z.flatten(0, 1), labels)
            log_px_z = decoder_log_prob(logits, x.repeat(m, 1, 1, 1), self.config.likelihood,
                                        self.config.sigma).view(m, n)
            log_pz = gaussian_log_prob(z, torch.zeros_like(z), torch.zeros_like(z))
            weights.append(log_px_z + log_pz - gaussian_log_prob(z, mu, log_var))
        return torch.logsumexp(torch.cat(weights), dim=0) - math.log(k)


@register_model("cvae", VAEConfig)
class CVAE(VAE):
    """Conditional VAE (Sohn et al., 2015): the label enters both encoder and decoder."""

    conditional = True

    def __init__(self, config: VAEConfig, image_shape, num_classes=None) -> None:
        if config.sampler != "prior":
            raise ConfigError(f"cvae samples each class from its prior N(0, I): sampler "
                              f"{config.sampler!r} fits one density to every class's codes; "
                              "use sampler 'prior'")
        super().__init__(config, image_shape, num_classes)

    @torch.no_grad()
    def log_likelihood(self, x, k, y=None):
        """log p(x) = log mean_y p(x|y) under the uniform label prior, each p(x|y) bounded
        with k importance samples: the same -log p(x) as the other models report. Given
        labels y, the conditional bound log p(x|y)."""
        if y is not None:
            return super().log_likelihood(x, k, y)
        conditional = super().log_likelihood
        per_label = [conditional(x, k, torch.full((len(x),), c, device=x.device))
                     for c in range(self.num_classes)]
        return torch.logsumexp(torch.stack(per_label), dim=0) - math.log(self.num_classes)
