"""Likelihood: the importance-weighted bound on -log p(x) (Burda et al., 2016), in nats per
image and bits per dimension, under the conventions that make it comparable with the
literature:

- binary pixels (Bernoulli decoders): a Bernoulli is a probability of binary images, so
  the held-out images are binarised, one fixed draw (seed 0: the same for every model
  and run). Grey-level targets would give a cross-entropy, not a likelihood.
- densities over [0, 1] (Gaussian decoders): the 8-bit images are dequantised,
  y = (x + u) / 256 with u ~ U[0, 1)^D (fixed seed), and -log p(y) + D log 256 bounds
  the discrete -log P(x) from above (Theis et al., 2016), so bits/dim is >= 0 and
  comparable with discrete models.

With k = 1 the bound is the ELBO; it tightens as k grows.
"""

from __future__ import annotations

import math

import torch

from genbench.datasets import binarize, to_float
from genbench.models import GenerativeModel

SEED = 0  # the evaluation draws (binarisation, dequantisation noise): the same for all runs
DEQUANTIZED = "8-bit, uniform dequantization"
Z95 = 1.959964  # the normal quantile of a two-sided 95% interval

# Published test -log p(x), by dataset and training binarisation (the evaluation draw is
# binarised the same way): what our number sits beside in the report.
PUBLISHED = {
    ("mnist", "dynamic"): "86.76 nats: VAE, one stochastic layer, k=5000 "
                          "(Burda et al., 2016)",
}


def dequantize(images: torch.Tensor, seed: int = SEED) -> torch.Tensor:
    """uint8 images -> (x + u) / 256, u ~ U[0, 1) per pixel: points inside each 8-bit bin."""
    u = torch.rand(images.shape, generator=torch.Generator().manual_seed(seed))
    return (images.cpu().float() + u) / 256


def evaluation_pixels(model: GenerativeModel, images: torch.Tensor,
                      seed: int = SEED) -> tuple[torch.Tensor, float]:
    """The pixels a model's likelihood is measured on (floats in [0, 1]), and the nats per
    image added to -log p of them to give -log P of the 8-bit (or binarised) images."""
    kind = model.likelihood_kind()
    if kind == "binary":
        return to_float(binarize(images.cpu(), seed)), 0.0
    if kind == "density":
        return dequantize(images, seed), math.prod(images.shape[1:]) * math.log(256)
    raise ValueError(f"unknown likelihood kind {kind!r} of model {model.name!r}")


@torch.no_grad()
def negative_log_likelihood(model: GenerativeModel, images: torch.Tensor, k: int,
                            labels: torch.Tensor | None = None,
                            batch_size: int = 500) -> torch.Tensor:
    """-log P(x) bound per uint8 image (nats), with k importance samples, on the CPU.

    labels: for conditional models, the bound on -log P(x|y) instead of -log P(x).
    """
    if not model.likelihood:
        raise ValueError(f"model {model.name!r} has no likelihood")
    if k < 1:
        raise ValueError(f"k (importance samples) must be at least 1, got {k}")
    pixels, offset = evaluation_pixels(model, images)
    out = []
    for i in range(0, len(images), batch_size):
        x = pixels[i:i + batch_size].to(model.device)
        y = None if labels is None else labels[i:i + batch_size].to(model.device)
        out.append(offset - model.log_likelihood(x, k, y).double().cpu())
    return torch.cat(out)


def bits_per_dim(nats: float, dims: int) -> float:
    return nats / (dims * math.log(2))


def likelihood_metrics(model: GenerativeModel, images: torch.Tensor, ks: tuple[int, ...],
                       batch_size: int = 500) -> dict[str, float]:
    """nll_k{k} (nats per image, -log P(x)) and bpd_k{k} for each k, each with the 95%
    interval of its mean over the images (_lo, _hi: the images' spread, normal
    approximation), the evaluation noise that a larger k does not reduce."""
    dims = math.prod(images.shape[1:])
    out = {}
    for k in ks:
        nats = negative_log_likelihood(model, images, k, None, batch_size)
        mean = float(nats.mean())
        half = Z95 * float(nats.std()) / math.sqrt(len(nats)) if len(nats) > 1 else 0.0
        for name, scale in ((f"nll_k{k}", 1.0), (f"bpd_k{k}", bits_per_dim(1.0, dims))):
            out.update({name: mean * scale, f"{name}_lo": (mean - half) * scale,
                        f"{name}_hi": (mean + half) * scale})
    return out


def likelihood_notes(model: GenerativeModel, dataset: str, binarized: str) -> dict[str, str]:
    """likelihood_convention (how to read the numbers) and, where the literature has one for
    the same data and convention, likelihood_reference; `binarized`: the training pixels
    of binary-pixel models (datasets.BINARIZE)."""
    if model.likelihood_kind() == "density":
        return {"likelihood_convention": DEQUANTIZED}
    if binarized == "none":
        notes = {"likelihood_convention": f"binarized pixels (dynamic, seed {SEED}; "
                                          "trained on grey levels)"}
    else:
        notes = {"likelihood_convention": f"binarized pixels ({binarized}, seed {SEED})"}
    if (dataset, binarized) in PUBLISHED:
        notes["likelihood_reference"] = PUBLISHED[dataset, binarized]
    return notes
