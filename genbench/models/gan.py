"""DCGAN (Radford et al., 2016): a transposed-conv generator against a conv discriminator.

    D step: maximise log D(x) + log(1 - D(G(z)))      (or the hinge loss)
            [+ r1/2 E||grad_x D(x)||^2 on real images, Mescheder et al., 2018]
    G step: maximise log D(G(z))                      (non-saturating; hinge: D(G(z)))
Both optimizers are Adam(beta1=0.5), the DCGAN recipe; the discriminator may learn
faster than the generator (TTUR, Heusel et al., 2017) and have spectral norm on its
layers (Miyato et al., 2018). One batch of G(z) serves both steps, as in the DCGAN
reference code. The generator's weights are averaged (EMA) for sampling, and the
averaged generator's BatchNorm statistics are measured again before it samples:
statistics averaged from the live generator do not belong to the averaged weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from genbench.models.base import GenerativeModel, fused_ok, positive
from genbench.models.nets import ConvDecoder, ConvEncoder, VectorToMap
from genbench.models.registry import register_model


@dataclass
class GANConfig:
    latent_dim: int = 64
    width: int = 32  # discriminator's first width; the generator's is g_width (None: 2 x width)
    g_width: int | None = None
    loss: str = "non-saturating"  # or "hinge"
    spectral_norm: bool = False
    d_lr_ratio: float = 1.0  # discriminator lr / generator lr
    r1: float = 0.0
    ema_decay: float = 0.999
    # batches of z (of the trainer's sampling batch, 512) that re-measure the averaged
    # generator's BatchNorm before every curve point: 1,024 images give each channel's
    # statistics tens of thousands of values; 8 batches cost more than the point's FID
    bn_batches: int = 2

    def __post_init__(self) -> None:
        positive("latent_dim", self.latent_dim)
        positive("d_lr_ratio", self.d_lr_ratio)
        positive("r1", self.r1, allow_zero=True)
        if self.loss not in ("non-saturating", "hinge"):
            raise ValueError(f"GAN loss must be 'non-saturating' or 'hinge', got {self.loss!r}")


@register_model("gan", GANConfig)
class GAN(GenerativeModel):
    compile_targets = ("discriminator_loss", "generator_loss")

    def __init__(self, config: GANConfig, image_shape, num_classes=None) -> None:
        super().__init__(config, image_shape, num_classes)
        c, size, _ = self.image_shape
        body = ConvDecoder(c, size, config.g_width or config.width * 2)
        self.generator = nn.Sequential(VectorToMap(config.latent_dim, body.in_channels,
                                                   body.in_size), body, nn.Tanh())
        features = ConvEncoder(c, size, config.width, activation=lambda: nn.LeakyReLU(0.2),
                               first_norm=False, norm=not config.spectral_norm)
        self.discriminator = nn.Sequential(features, nn.Flatten(),
                                           nn.Linear(features.out_features, 1))
        if config.spectral_norm:
            for module in self.discriminator.modules():
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    spectral_norm(module)
        self.ema_decay = config.ema_decay

    def optimizers(self, lr, weight_decay):
        adam = dict(betas=(0.5, 0.999), weight_decay=weight_decay, fused=fused_ok(self))
        return [torch.optim.Adam(self.generator.parameters(), lr=lr, **adam),
                torch.optim.Adam(self.discriminator.parameters(),
                                 lr=lr * self.config.d_lr_ratio, **adam)]

    def generate(self, n: int) -> torch.Tensor:
        """Generator output in [-1, 1], with gradients."""
        return self.generator(torch.randn(n, self.config.latent_dim, device=self.device))

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        real = real.requires_grad_(self.config.r1 > 0)
        on_real, on_fake = self.discriminator(real), self.discriminator(fake)
        if self.config.loss == "hinge":
            loss = F.relu(1 - on_real).mean() + F.relu(1 + on_fake).mean()
        else:
            loss = F.softplus(-on_real).mean() + F.softplus(on_fake).mean()
        if self.config.r1 > 0:
            grad, = torch.autograd.grad(on_real.sum(), real, create_graph=True)
            loss = loss + self.config.r1 / 2 * grad.pow(2).flatten(1).sum(1).mean()
        return loss

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        on_fake = self.discriminator(fake)
        return -on_fake.mean() if self.config.loss == "hinge" else F.softplus(-on_fake).mean()

    def optimization_step(self, x, y, optimizers, update):
        opt_g, opt_d = optimizers
        fake = self.generate(len(x))
        d_loss = self.discriminator_loss(x * 2 - 1, fake.detach())
        update(d_loss, opt_d)
        self.discriminator.requires_grad_(False)  # the G step needs no D weight gradients
        g_loss = self.generator_loss(fake)
        update(g_loss, opt_g)
        self.discriminator.requires_grad_(True)
        return {"loss": (d_loss + g_loss).detach(), "d_loss": d_loss.detach(),
                "g_loss": g_loss.detach()}

    @torch.no_grad()
    def prepare_sampling(self, batches) -> None:
        """Re-measure the generator's BatchNorm statistics on its own outputs (cumulative
        averages over bn_batches batches), for the weights it will sample with."""
        norms = [m for m in self.generator.modules() if isinstance(m, nn.BatchNorm2d)]
        if not norms or self.config.bn_batches == 0:
            return
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None
        self.generator.train()
        for _ in range(self.config.bn_batches):
            self.generate(batches.batch_size)
        self.generator.eval()
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum

    @torch.no_grad()
    def sample(self, n, labels=None):
        return (self.generate(n) + 1) / 2
