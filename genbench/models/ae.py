"""Deterministic autoencoder, made generative by ex-post density estimation.

A plain AE has no prior to sample from. Following Ghosh et al. (2020, "From
variational to deterministic autoencoders"), genbench fits a full-covariance
Gaussian to the training set's codes once training ends and decodes samples of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genbench.models.base import GenerativeModel, positive, register_model
from genbench.models.nets import vector_decoder, vector_encoder
from genbench.models.vae import decoder_log_prob, decoder_mean


@dataclass
class AEConfig:
    latent_dim: int = 20
    backbone: str = "mlp"
    hidden: tuple[int, ...] = (512, 256)
    width: int = 32
    likelihood: str = "bernoulli"  # reconstruction loss: BCE, or "gaussian" for MSE
    sigma: float = 0.1

    def __post_init__(self) -> None:
        positive("latent_dim", self.latent_dim)


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
        d = config.latent_dim
        self.register_buffer("code_mean", torch.zeros(d))
        self.register_buffer("code_scale_tril", torch.eye(d))

    def training_step(self, x, y):
        logits = self.decoder(self.to_latent(self.encoder(x)))
        loss = -decoder_log_prob(logits, x, self.config.likelihood, self.config.sigma).mean()
        return {"loss": loss}

    @torch.no_grad()
    def prepare_sampling(self, batches) -> None:
        codes = torch.cat([self.encode(x) for x, _ in batches.epoch(0)])
        cov = torch.cov(codes.T.double()) + 1e-5 * torch.eye(codes.shape[1], device=codes.device)
        self.code_mean.copy_(codes.mean(0))
        self.code_scale_tril.copy_(torch.linalg.cholesky(cov).float())

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
        eps = torch.randn(n, self.config.latent_dim, device=self.device)
        return self.decode(self.code_mean + eps @ self.code_scale_tril.T)
