"""Deterministic autoencoder, made generative by ex-post density estimation.

A plain AE has no prior to sample from. Following Ghosh et al. (2020, "From
variational to deterministic autoencoders"), genbench fits a density to the training set's
codes once training ends and decodes samples of it: by default a full-covariance Gaussian,
or (`sampler`) a Gaussian mixture or Dai & Wipf's second-stage VAE (models/latent.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genbench.models.base import GenerativeModel, positive
from genbench.models.latent import check_sampler, keep_state_names, make_sampler
from genbench.models.nets import vector_decoder, vector_encoder
from genbench.models.registry import register_model
from genbench.models.vae import decoder_log_prob, decoder_mean

SAMPLERS = ("gaussian", "gmm", "two-stage")
# The Gaussian's buffers keep the names they had before samplers were pluggable.
GAUSSIAN_NAMES = {"latent_sampler.mean": "code_mean",
                  "latent_sampler.scale_tril": "code_scale_tril"}


@dataclass
class AEConfig:
    latent_dim: int = 20
    backbone: str = "mlp"
    hidden: tuple[int, ...] = (512, 256)
    width: int = 32
    likelihood: str = "bernoulli"  # reconstruction loss: BCE, or "gaussian" for MSE
    sigma: float = 0.1
    sampler: str = "gaussian"  # the density fitted to the codes: "gaussian", "gmm", "two-stage"
    gmm_components: int = 10  # sampler "gmm": mixture components
    second_stage_steps: int = 1500  # sampler "two-stage": Adam steps of the second VAE

    def __post_init__(self) -> None:
        positive("latent_dim", self.latent_dim)
        check_sampler(self.sampler, SAMPLERS, "the ae")
        positive("gmm_components", self.gmm_components)
        positive("second_stage_steps", self.second_stage_steps)


@register_model("ae", AEConfig)
class AE(GenerativeModel):
    reconstructs = latent = True

    def __init__(self, config: AEConfig, image_shape, num_classes=None) -> None:
        super().__init__(config, image_shape, num_classes)
        self.encoder, features = vector_encoder(config.backbone, self.image_shape,
                                                config.hidden, config.width)
        self.to_latent = nn.Linear(features, config.latent_dim)
        self.decoder = vector_decoder(config.backbone, self.image_shape, config.latent_dim,
                                      config.hidden, config.width)
        self.latent_sampler = make_sampler(config.sampler, config.latent_dim,
                                           components=config.gmm_components,
                                           steps=config.second_stage_steps)
        if config.sampler == "gaussian":
            keep_state_names(self, GAUSSIAN_NAMES)

    def training_step(self, x, y):
        logits = self.decoder(self.to_latent(self.encoder(x)))
        loss = -decoder_log_prob(logits, x, self.config.likelihood, self.config.sigma).mean()
        return {"loss": loss}

    @torch.no_grad()
    def prepare_sampling(self, batches) -> None:
        self.latent_sampler.fit_encoder(self.encode, batches)

    def sampler_cost(self) -> dict[str, float]:
        return {f"sampler_{k}": v for k, v in self.latent_sampler.cost().items()}

    @torch.no_grad()
    def encode(self, x, y=None):
        return self.to_latent(self.encoder(x))

    @torch.no_grad()
    def decode(self, z, y=None):
        return decoder_mean(self.decoder(z), self.config.likelihood)

    @torch.no_grad()
    def reconstruct(self, x, y=None):
        return self.decode(self.encode(x))

    @torch.no_grad()
    def sample(self, n, labels=None):
        return self.decode(self.latent_sampler.sample(n, self.device))
