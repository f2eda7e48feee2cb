"""Binarised pixels: the convention under which Bernoulli likelihoods are probabilities.

A Bernoulli decoder assigns probabilities to binary images; on grey levels its
"NLL" is a cross-entropy, not a likelihood. The field draws each pixel as a
Bernoulli with its grey level as the probability:

    dynamic: a fresh draw for every training batch (Burda et al., 2016);
    static:  one fixed draw of the training images (seed 1), the same every epoch
             (Larochelle & Murray's binarised MNIST is such a draw, another one).

The likelihood is measured on one fixed draw of the held-out images (seed 0) in both
cases, and also for models trained on grey levels (metrics/likelihood.py).
"""

from __future__ import annotations

import torch

from genbench.datasets.base import ImageData

BINARIZE = ("none", "dynamic", "static")  # "none": grey levels, as the images come
META_KEY = "binarize"  # in ImageData.meta; "dynamic": Batches draws binary pixels per batch
SEED = 0  # the fixed draws: the same binary images for every model, seed and run


def binarize(images: torch.Tensor, seed: int = SEED) -> torch.Tensor:
    """uint8 images -> one Bernoulli draw per pixel (probability: the grey level), 0 or 255."""
    generator = torch.Generator().manual_seed(seed)
    draw = torch.rand(images.shape, generator=generator) < images.cpu().float() / 255
    return draw.to(torch.uint8).mul_(255).to(images.device)


def binarized(data: ImageData, mode: str) -> ImageData:
    """The data as a Bernoulli model trains on it under `mode` (one of BINARIZE)."""
    if mode not in BINARIZE:
        raise ValueError(f"binarize must be one of {', '.join(BINARIZE)}, got {mode!r}")
    if mode == "none":
        return data
    # static: the training draw comes from another stream than the held-out one (SEED)
    images = binarize(data.images, SEED + 1) if mode == "static" else data.images
    return ImageData(images, data.labels, {**data.meta, META_KEY: mode}, data.attributes)
