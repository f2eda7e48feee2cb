"""The tensors behind the report's figures, computed once per run at evaluation.

The report never runs a model: everything it draws is here, saved as
visuals.pt in the run directory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.stats import norm
from sklearn.manifold import TSNE

from genbench.datasets import ImageData, to_float, to_uint8
from genbench.judge import Judgement
from genbench.models import GenerativeModel, decodes

GRID = 15  # the seed's decoded uniform grid of the 2-D latent space: GRID x GRID images
GALLERY = 8  # rows of the nearest-neighbour gallery: the samples nearest a training image


@torch.no_grad()
def run_visuals(model: GenerativeModel, test: ImageData, samples: torch.Tensor,
                seed: int = 0) -> dict[str, Any]:
    torch.manual_seed(seed)
    out: dict[str, Any] = {"samples": samples[:64].clone(),
                           "capabilities": model.capabilities()}
    x = to_float(test.images[:16].to(model.device))
    y = None if test.labels is None else test.labels[:16].to(model.device)
    if model.reconstructs:
        out["originals"] = test.images[:16].clone()
        out["reconstructions"] = to_uint8(model.reconstruct(x, y).float()).cpu()
    if model.latent:
        out.update(latent_map(model, test, seed))
    if decodes(model):
        out["interpolations"] = interpolations(model, test)
        out["traversals"] = traversals(model, test)
        if out["latent_dim"] == 2:
            out["latent_grid"] = latent_grid(model)
    if model.conditional:
        out["label_grid"] = label_grid(model)
        out["label_names"] = test.meta.get("class_names")
    if model.denoises:
        _, frames = model.denoise(4, keep=8)
        out["denoising"] = to_uint8(torch.stack(frames, 1).float()).cpu()  # [4, 8, C, H, W]
    return out


def judge_visuals(judgement: Judgement, samples: torch.Tensor,
                  candidates: torch.Tensor) -> dict[str, Any]:
    """The copy test's evidence for the memorisation figure (each sample's distance to its
    nearest training image, and the held-out images' distances), and the gallery: the
    GALLERY samples nearest to a training image, each beside its nearest training images
    (`candidates`: the images the test compared with), uint8 [GALLERY, 1 + k, C, H, W].
    `samples`: the judged ones, uint8."""
    copies = judgement.copies
    closest = copies.sample_distances.argsort()[:GALLERY]
    gallery = torch.cat([samples[closest].unsqueeze(1),
                         candidates[copies.nearest[closest]]], 1)
    return {"copy_distances": copies.sample_distances.clone(),
            "copy_heldout_distances": copies.heldout_distances.clone(),
            "copy_threshold": copies.threshold, "copy_nearest": copies.nearest[closest].clone(),
            "copy_gallery_index": closest, "gallery": gallery.clone()}


def latent_map(model: GenerativeModel, test: ImageData, seed: int,
               n: int = 1000) -> dict[str, Any]:
    """Codes of n held-out images in 2-D: the latent itself when 2-D, else a t-SNE."""
    images = test.images[:n].to(model.device)
    labels = None if test.labels is None else test.labels[:n].to(model.device)
    codes = torch.cat([model.encode(to_float(images[i:i + 500]),
                                    None if labels is None else labels[i:i + 500]).float()
                       for i in range(0, len(images), 500)]).cpu()
    dim = codes.shape[1]
    if dim == 2:
        points, method = codes, "latent"
    else:
        # 500 iterations, not sklearn's 1000: on the quick suite's MNIST vae-conv codes
        # (2026-12-07) KL 1.138 against 1.129, a 5-NN classifier on the map 89.6% against
        # 89.5%, for 0.97 s against 1.77 s of every final evaluation
        tsne = TSNE(2, init="pca", random_state=seed, perplexity=min(30, len(codes) - 1),
                    max_iter=500)
        points, method = torch.from_numpy(tsne.fit_transform(codes.numpy())).float(), "t-SNE"
    labels, names, title = categories(test, n)
    return {"latent_dim": dim, "latent_points": points, "latent_method": method,
            "latent_labels": labels, "latent_label_names": names, "latent_label_title": title}


def categories(test: ImageData, n: int) -> tuple[torch.Tensor | None, list[str] | None, str]:
    """What colours a latent map, with the names its legend shows: the class labels, else a
    binary attribute (CelebA: 'Male')."""
    if test.labels is not None:
        names = test.meta.get("class_names")
        return test.labels[:n].clone(), None if names is None else list(names), "class"
    attributes = test.meta.get("attribute_names") or []
    if test.attributes is not None and attributes:
        i = attributes.index("Male") if "Male" in attributes else 0
        return (test.attributes[:n, i].clone(), [f"not {attributes[i]}", attributes[i]],
                attributes[i])
    return None, None, ""


def latent_grid(model: GenerativeModel, n: int = GRID) -> torch.Tensor:
    """Decode an n x n grid of z, uniform in probability under the N(0, I) prior."""
    q = torch.from_numpy(norm.ppf(np.linspace(0.05, 0.95, n))).float()
    zy, zx = torch.meshgrid(q.flip(0), q, indexing="ij")  # top row: largest z2, as in a plot
    z = torch.stack([zx.flatten(), zy.flatten()], 1).to(model.device)
    labels = model.random_labels(len(z))
    return to_uint8(model.decode(z, labels).float()).cpu()


def interpolations(model: GenerativeModel, test: ImageData, rows: int = 6,
                   steps: int = 10) -> torch.Tensor:
    """Linear paths in latent space between pairs of held-out images: [rows, steps, C,H,W]."""
    x = to_float(test.images[:2 * rows].to(model.device))
    y = None if test.labels is None else test.labels[:2 * rows].to(model.device)
    z = model.encode(x, y).float()
    a, b = z[:rows], z[rows:]
    t = torch.linspace(0, 1, steps, device=z.device).view(1, steps, 1)
    path = (a.unsqueeze(1) * (1 - t) + b.unsqueeze(1) * t).flatten(0, 1)
    labels = None if y is None else y[:rows].repeat_interleave(steps)
    return to_uint8(model.decode(path, labels).float()).cpu().view(rows, steps,
                                                                  *model.image_shape)


def traversals(model: GenerativeModel, test: ImageData, dims: int = 8, steps: int = 9,
               span: float = 3.0) -> torch.Tensor:
    """One latent coordinate at a time swept over [-span, span] from an image's code.

    The coordinates shown are those that vary most across held-out images (the
    active ones, for a beta-VAE), most active first: [dims, steps, C, H, W].
    """
    x = to_float(test.images[:500].to(model.device))
    y = None if test.labels is None else test.labels[:500].to(model.device)
    codes = model.encode(x, y).float()
    order = codes.std(0).argsort(descending=True)[:dims]
    values = torch.linspace(-span, span, steps, device=codes.device)
    path = codes[0].repeat(len(order), steps, 1)
    for row, d in enumerate(order):
        path[row, :, d] = values
    labels = None if y is None else y[:1].repeat(len(order) * steps)
    images = model.decode(path.flatten(0, 1), labels).float()
    return to_uint8(images).cpu().view(len(order), steps, *model.image_shape)


def label_grid(model: GenerativeModel, columns: int = 8) -> torch.Tensor:
    """A conditional model's samples, one row per label, one shared noise per column."""
    rows = []
    for label in range(model.num_classes):
        torch.manual_seed(0)  # the same noise in every row: only the label changes
        labels = torch.full((columns,), label, device=model.device)
        rows.append(to_uint8(model.sample(columns, labels).float()).cpu())
    return torch.stack(rows)
