"""The Fréchet Wavelet Distance (FWD; Veeramacheneni et al., 2023): FID's Fréchet distance,
taken of wavelet-packet coefficients instead of a network's features. No network is trained
or downloaded, so no network's blind spots or training can bias it.

Per image, a 2-D wavelet packet transform to `level` (Haar) gives P = 4^level packets of
C×h×w coefficients, each one band of spatial frequencies. Per packet, the mean and covariance
over the images of its C·h·w coefficients; FWD is the mean over packets of the Fréchet
distance between the two sets' Gaussians. The transform and the distance are pytorchfwd's own
(freq_math.py); its fwd.py is never imported: it sets torch's default dtype to float64 at
import, which would change every model genbench trains.

Cost (MNIST, 2,000 images, one thread): ~0.05 s for the statistics, ~0.01 s for the 16
distances (49×49 matrix square roots); the first call in a process ~0.15 s.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import torch
from scipy.linalg import LinAlgWarning

from genbench.errors import GenbenchError

WAVELET = "haar"  # the paper's default
MAX_LEVEL = 4  # the paper's level at 256 px
MIN_PACKET = 4  # pixels: smaller packets hold too few coefficients to be a band of the image
BATCH_VALUES = 2**23  # input values per batch: ~64 MB of float64 coefficients at a time


class WaveletUnavailable(GenbenchError, ImportError):
    """pytorchfwd (the reference FWD code) is not installed."""


def _freq_math() -> ModuleType:
    """pytorchfwd.freq_math, imported on first use so that genbench imports without it."""
    try:
        from pytorchfwd import freq_math
    except ImportError as error:
        raise WaveletUnavailable(
            f"FWD needs pytorchfwd ({error}); `make setup` installs it, or run "
            "`pip install --no-deps pytorchfwd==1.0.1`") from error
    return freq_math


def packet_level(height: int, width: int) -> int:
    """The deepest level, at most the paper's 4, whose packets are still >= 4 px a side:
    28 px -> 2 (16 packets of 7×7), 32 px -> 3 (64 of 4×4), 256 px -> 4 (the paper's)."""
    level = 1  # at least one split: level 0 would be the Fréchet distance of raw pixels
    while level < MAX_LEVEL and min(height, width) // 2 ** (level + 1) >= MIN_PACKET:
        level += 1
    return level


@dataclass(frozen=True)
class PacketStats:
    """The Gaussians of one set of images' wavelet packets: what FWD compares."""

    mean: torch.Tensor  # [P, D] float64, D = C·h·w coefficients of a packet
    cov: torch.Tensor  # [P, D, D] float64, unbiased (N - 1), as torch.cov in pytorchfwd
    count: int  # images
    wavelet: str
    level: int


@torch.no_grad()
def packet_statistics(images: torch.Tensor, level: int | None = None,
                      wavelet: str = WAVELET) -> PacketStats:
    """Per-packet mean and covariance of uint8 `images` [N, C, H, W], scaled to [0, 1] as
    pytorchfwd's ToTensor does; `level` None: packet_level of their size. Batched, summing
    coefficients and their products in float64, so memory does not grow with N."""
    freq_math = _freq_math()
    n, c, h, w = images.shape
    if n < 2:
        raise ValueError(f"packet statistics need at least 2 images, got {n}")
    level = packet_level(h, w) if level is None else level
    batch = max(1, BATCH_VALUES // (c * h * w))
    shift = total = products = None
    for start in range(0, n, batch):
        x = images[start:start + batch].to(torch.float64) / 255
        packets = freq_math.forward_wavelet_packet_transform(x, wavelet, level, False)
        flat = packets.flatten(2).transpose(0, 1)  # [B, P, C, h, w] -> [P, B, D]
        if shift is None:  # centre on the first batch's mean: no cancellation in the sums
            shift = flat.mean(dim=1, keepdim=True)
            total = torch.zeros_like(shift[:, 0])
            products = flat.new_zeros(flat.shape[0], flat.shape[2], flat.shape[2])
        flat = flat - shift
        total += flat.sum(dim=1)
        products += flat.mT @ flat
    centred_mean = total / n
    cov = (products - n * centred_mean[:, :, None] * centred_mean[:, None, :]) / (n - 1)
    return PacketStats(centred_mean + shift[:, 0], cov, n, wavelet, level)


def fwd(fake: PacketStats, real: PacketStats) -> float:
    """FWD: the mean over packets of the Fréchet distance of the two sets' Gaussians (lower is
    better; 0 for equal statistics)."""
    if (fake.wavelet, fake.level, fake.mean.shape) != (real.wavelet, real.level, real.mean.shape):
        raise ValueError(f"FWD of different packets: {fake.wavelet} level {fake.level} "
                         f"{tuple(fake.mean.shape)} against {real.wavelet} level {real.level} "
                         f"{tuple(real.mean.shape)}")
    distance = _freq_math().calculate_frechet_distance
    with warnings.catch_warnings():
        # A coefficient that is constant over a dataset (MNIST's black corners) makes a
        # covariance singular; scipy warns, and the square root is still finite and exact
        # enough (FID implementations live with the same).
        warnings.simplefilter("ignore", LinAlgWarning)
        distances = [distance(fake.mean[p].numpy(), fake.cov[p].numpy(),
                              real.mean[p].numpy(), real.cov[p].numpy())
                     for p in range(len(real.mean))]
    return float(np.mean(distances))


def frechet_wavelet_distance(fake_images: torch.Tensor, real_images: torch.Tensor,
                             level: int | None = None, wavelet: str = WAVELET) -> float:
    """FWD of uint8 `fake_images` against uint8 `real_images`, at the level of their size."""
    level = packet_level(*real_images.shape[-2:]) if level is None else level
    return fwd(packet_statistics(fake_images, level, wavelet),
               packet_statistics(real_images, level, wavelet))
