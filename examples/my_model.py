"""A genbench plug-in: a small VAE, registered as "my-vae". Copy it and change the networks."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genbench.models import GenerativeModel, register_model


@dataclass
class MyVAEConfig:  # a suite sets these: [model.my-vae] config = { latent_dim = 8 }
    latent_dim: int = 16
    hidden: int = 256


@register_model("my-vae", MyVAEConfig)
class MyVAE(GenerativeModel):
    # Capabilities are declared: reconstructs -> reconstruct(), latent -> encode() (and
    # decode(), for latent grids). Each adds its metrics and figures to the report.
    reconstructs = latent = True

    def __init__(self, config: MyVAEConfig, image_shape: tuple[int, int, int],
                 num_classes: int | None = None) -> None:
        super().__init__(config, image_shape, num_classes)  # image_shape is (C, H, W)
        pixels = image_shape[0] * image_shape[1] * image_shape[2]
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, config.hidden), nn.ReLU(),
                                     nn.Linear(config.hidden, 2 * config.latent_dim))
        self.decoder = nn.Sequential(nn.Linear(config.latent_dim, config.hidden), nn.ReLU(),
                                     nn.Linear(config.hidden, pixels))

    def training_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        # x: a batch of images, N×C×H×W floats in [0, 1]; y: their labels, or None.
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()  # reparameterisation trick
        logits = self.decoder(z)
        nll = F.binary_cross_entropy_with_logits(logits, x.flatten(1), reduction="none").sum(1)
        kl = 0.5 * (mean**2 + log_var.exp() - 1 - log_var).sum(1)
        # The trainer minimises "loss"; the other entries are only logged.
        return {"loss": (nll + kl).mean(), "nll": nll.mean(), "kl": kl.mean()}

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.encoder(x).chunk(2, dim=1)[0]  # the posterior's mean

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z)).view(-1, *self.image_shape)  # back to N×C×H×W

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x))

    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        # n images like the training images (N×C×H×W in [0, 1]), on the model's device
        return self.decode(torch.randn(n, self.config.latent_dim, device=self.device))
