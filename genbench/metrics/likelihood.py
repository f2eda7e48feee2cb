"""Likelihood: the importance-weighted bound on -log p(x) (Burda et al., 2016).

With k = 1 it is the ELBO; it tightens as k grows. Reported in nats per image
and in bits per dimension, the unit that compares across image sizes.
"""

from __future__ import annotations

import math

import torch

from genbench.datasets import to_float
from genbench.models import GenerativeModel


@torch.no_grad()
def negative_log_likelihood(model: GenerativeModel, images: torch.Tensor, k: int,
                            labels: torch.Tensor | None = None,
                            batch_size: int = 500) -> torch.Tensor:
    """-log p(x) bound per image (nats), with k importance samples, on the CPU."""
    if not model.likelihood:
        raise ValueError(f"model {model.name!r} has no likelihood")
    if k < 1:
        raise ValueError(f"k (importance samples) must be at least 1, got {k}")
    out = []
    for i in range(0, len(images), batch_size):
        x = to_float(images[i:i + batch_size].to(model.device))
        y = None if labels is None else labels[i:i + batch_size].to(model.device)
        out.append(-model.log_likelihood(x, k, y).double().cpu())
    return torch.cat(out)


def bits_per_dim(nats: float, dims: int) -> float:
    return nats / (dims * math.log(2))


def likelihood_metrics(model: GenerativeModel, images: torch.Tensor, ks: tuple[int, ...],
                       labels: torch.Tensor | None = None,
                       batch_size: int = 500) -> dict[str, float]:
    """nll_k{k} (nats per image) and bpd_k{k} for each k."""
    dims = math.prod(images.shape[1:])
    out = {}
    for k in ks:
        nats = float(negative_log_likelihood(model, images, k, labels, batch_size).mean())
        out[f"nll_k{k}"] = nats
        out[f"bpd_k{k}"] = bits_per_dim(nats, dims)
    return out
