"""Reconstruction error on held-out images: MSE, BCE, PSNR and SSIM (torchmetrics).

SSIM is the standard definition (Wang et al., 2004; scikit-image's
`structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`):
the SSIM map is averaged only where the 11x11 Gaussian window lies inside the image.
torchmetrics (since 1.0) averages the map of a reflection-padded image instead, which
on 28 px digits gives the padded 5-pixel border 59% of the weight; so genbench takes
torchmetrics' full map and crops that border.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

from genbench.datasets import to_float
from genbench.errors import ConfigError
from genbench.models import GenerativeModel


@torch.no_grad()
def reconstruction_errors(original: torch.Tensor, reconstruction: torch.Tensor) -> dict[str, float]:
    """Errors between images in [0, 1] (float) or uint8, averaged over images.

    mse: per pixel; bce: nats per image (summed over pixels, the seed's loss);
    psnr, ssim: per image, then averaged.
    """
    x = to_float(original) if original.dtype == torch.uint8 else original.float()
    r = to_float(reconstruction) if reconstruction.dtype == torch.uint8 else reconstruction.float()
    r = r.clamp(0, 1)
    bce = F.binary_cross_entropy(r.clamp(1e-6, 1 - 1e-6), x, reduction="none")
    return {
        "mse": float(F.mse_loss(r, x)),
        "bce": float(bce.flatten(1).sum(1).mean()),
        "psnr": float(peak_signal_noise_ratio(r, x, data_range=1.0, dim=(1, 2, 3),
                                              reduction="elementwise_mean")),
        "ssim": ssim(r, x),
    }


SSIM_SIGMA = 1.5  # Wang et al.'s Gaussian window: sigma 1.5, 11 pixels wide
SSIM_WINDOW = 11


def ssim(images: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean SSIM over image pairs (floats in [0, 1]), the border of each SSIM map cropped."""
    _, full = structural_similarity_index_measure(
        images, reference, gaussian_kernel=True, sigma=SSIM_SIGMA, kernel_size=SSIM_WINDOW,
        data_range=1.0, reduction="none", return_full_image=True)
    crop = (SSIM_WINDOW - 1) // 2
    if min(full.shape[-2:]) <= 2 * crop:
        raise ConfigError(f"SSIM needs images larger than {2 * crop} pixels a side, got "
                          f"{tuple(full.shape[-2:])}")
    return float(full[..., crop:-crop, crop:-crop].mean())


@torch.no_grad()
def reconstruct_all(model: GenerativeModel, images: torch.Tensor,
                    labels: torch.Tensor | None = None, batch_size: int = 500) -> torch.Tensor:
    """The model's reconstructions of uint8 images, as floats in [0, 1] on the CPU."""
    out = []
    for i in range(0, len(images), batch_size):
        x = to_float(images[i:i + batch_size].to(model.device))
        y = None if labels is None else labels[i:i + batch_size].to(model.device)
        out.append(model.reconstruct(x, y).float().clamp(0, 1).cpu())
    return torch.cat(out)


def reconstruction_metrics(model: GenerativeModel, images: torch.Tensor,
                           labels: torch.Tensor | None = None,
                           batch_size: int = 500) -> dict[str, float]:
    """Reconstruction errors of a model that `reconstructs`, on held-out uint8 images."""
    if not model.reconstructs:
        raise ValueError(f"model {model.name!r} does not reconstruct")
    return reconstruction_errors(images, reconstruct_all(model, images, labels, batch_size))
