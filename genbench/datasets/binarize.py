"""Binarised pixels: the convention under which Bernoulli likelihoods are probabilities.

A Bernoulli decoder assigns probabilities to binary images; on grey levels its
"NLL" is a cross-entropy, not a likelihood (Salakhutdinov & Murray, 2008). The
field draws each pixel as a Bernoulli with its grey level as the probability:

    dynamic: a fresh draw for every training batch (Burda et al., 2016), and one
             fixed draw (seed 0) of the held-out images for the likelihood;
    static:  one fixed draw (seed 0) of every image, for training and held-out
             alike (Larochelle & Murray's binarised MNIST is such a draw, another one).
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
    images = binarize(data.images) if mode == "static" else data.images
    return ImageData(images, data.labels, {**data.meta, META_KEY: mode}, data.attributes)
