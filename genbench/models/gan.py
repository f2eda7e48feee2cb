"""DCGAN (Radford et al., 2016): a transposed-conv generator against a conv discriminator.

    D step: maximise log D(x) + log(1 - D(G(z)))      (or the hinge loss)
    G step: maximise log D(G(z))                      (non-saturating)
Both optimizers are Adam(beta1=0.5), the DCGAN recipe; the generator's weights are
averaged (EMA) for sampling, which steadies GAN samples a great deal.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genbench.models.base import GenerativeModel, fused_ok, positive, register_model
from genbench.models.nets import ConvDecoder, ConvEncoder, VectorToMap


@dataclass
class GANConfig:
    latent_dim: int = 64
    width: int = 32
    loss: str = "non-saturating"  # or "hinge"
    ema_decay: float = 0.999

    def __post_init__(self) -> None:
        positive("latent_dim", self.latent_dim)
        if self.loss not in ("non-saturating", "hinge"):
            raise ValueError(f"GAN loss must be 'non-saturating' or 'hinge', got {self.loss!r}")


@register_model("gan", GANConfig)
class GAN(GenerativeModel):
    compile_targets = ("discriminator_loss", "generator_loss")

    def __init__(self, config: GANConfig, image_shape, num_classes=None) -> None:
        super().__init__(config, image_shape, num_classes)
        c, size, _ = self.image_shape
        body = ConvDecoder(c, size, config.width * 2)
        self.generator = nn.Sequential(VectorToMap(config.latent_dim, body.in_channels,
                                                   body.in_size), body, nn.Tanh())
        features = ConvEncoder(c, size, config.width, activation=lambda: nn.LeakyReLU(0.2),
                               first_norm=False)
        self.discriminator = nn.Sequential(features, nn.Flatten(),
                                           nn.Linear(features.out_features, 1))
        self.ema_decay = config.ema_decay

    def optimizers(self, lr, weight_decay):
        adam = dict(lr=lr, betas=(0.5, 0.999), weight_decay=weight_decay, fused=fused_ok(self))
        return [torch.optim.Adam(self.generator.parameters(), **adam),
                torch.optim.Adam(self.discriminator.parameters(), **adam)]

    def generate(self, n: int) -> torch.Tensor:
        """Generator output in [-1, 1], with gradients."""
        return self.generator(torch.randn(n, self.config.latent_dim, device=self.device))

    def discriminator_loss(self, x: torch.Tensor) -> torch.Tensor:
        real = self.discriminator(x * 2 - 1)
        fake = self.discriminator(self.generate(len(x)).detach())
        if self.config.loss == "hinge":
            return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def generator_loss(self, n: int) -> torch.Tensor:
        fake = self.discriminator(self.generate(n))
        return -fake.mean() if self.config.loss == "hinge" else F.softplus(-fake).mean()

    def optimization_step(self, x, y, optimizers, update):
        opt_g, opt_d = optimizers
        d_loss = self.discriminator_loss(x)
        update(d_loss, opt_d)
        g_loss = self.generator_loss(len(x))
        update(g_loss, opt_g)
        return {"loss": (d_loss + g_loss).detach(), "d_loss": d_loss.detach(),
                "g_loss": g_loss.detach()}

    @torch.no_grad()
    def sample(self, n, labels=None):
        return (self.generate(n) + 1) / 2
