"""What the numbers mean: the metrics of disturbed real images, measured like a model's samples.

Real held-out images that are not the reference give the floor (a perfect
model, at this n); blurred and noised ones place a model's FID between "slight"
and "visible" damage (Heusel et al., 2017, disturbed images the same way); half
the classes shows what dropping modes costs (recall, coverage); the training
images are a model that copies (FID at the floor: only the copy test sees it).
Every set has n images of the reference's shape, is uint8, and is the same for
the same seed. The reference is the first `reference_size` held-out images (as
the judge's inputs take it); the sets are drawn from the rest. judge/calibration.py
measures them with the one judge.
"""

from __future__ import annotations

import math

import torch
import torchvision.transforms.v2.functional as TF

from genbench.datasets import to_float, to_uint8

BLUR_SIGMAS = (0.5, 1.0, 2.0)  # pixels
NOISE_SIGMAS = (0.05, 0.15, 0.30)  # of the [0, 1] pixel range
HELDOUT, TRAINING, HALF_CLASSES = "held-out", "training images", "half the classes"


def blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of uint8 images, kernel out to 3 sigma (border: reflection)."""
    size = 2 * math.ceil(3 * sigma) + 1
    return to_uint8(TF.gaussian_blur(to_float(images), [size, size], [sigma, sigma]))


def noise(images: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """Independent Gaussian pixel noise, clipped to [0, 1] and rounded to 8 bits."""
    x = to_float(images)
    return to_uint8(x + sigma * torch.randn(x.shape, generator=generator))


def _draw(images: torch.Tensor, n: int, what: str, generator: torch.Generator) -> torch.Tensor:
    if len(images) < n:
        raise ValueError(f"calibration needs {n} {what}, only {len(images)} are left; lower "
                         "fid_samples or use a dataset with a larger held-out split")
    return images[torch.randperm(len(images), generator=generator)[:n]]


def calibration_sets(heldout: torch.Tensor, train: torch.Tensor, n: int,
                     heldout_labels: torch.Tensor | None = None, reference_size: int | None = None,
                     seed: int = 0) -> dict[str, torch.Tensor]:
    """The disturbed image sets, by name: held-out, blur σ, noise σ, half the classes (labels
    below num_classes/2, where labels exist) and training images; each uint8 [n, C, H, W]."""
    generator = torch.Generator().manual_seed(seed)
    skip = n if reference_size is None else reference_size
    pool = heldout[skip:]
    base = _draw(pool, n, "held-out images outside the reference", generator)
    sets = {HELDOUT: base}
    sets.update({f"blur σ={s:g}": blur(base, s) for s in BLUR_SIGMAS})
    sets.update({f"noise σ={s:g}": noise(base, s, generator) for s in NOISE_SIGMAS})
    if heldout_labels is not None:
        labels = heldout_labels[skip:]
        classes = torch.unique(heldout_labels)
        kept = classes[:max(1, len(classes) // 2)]
        sets[HALF_CLASSES] = _draw(pool[torch.isin(labels, kept)], n,
                                   f"held-out images of the classes {kept.tolist()}", generator)
    sets[TRAINING] = _draw(train, n, "training images", generator)
    return sets
