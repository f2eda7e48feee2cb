"""Batches by indexing an in-memory uint8 tensor: no per-item transforms, no workers.

The images travel to the device once, as uint8 (4x smaller than float), and only
the batch in hand is converted to float in [0, 1].
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from genbench.datasets.base import ImageData
from genbench.datasets.binarize import META_KEY
from genbench.errors import ConfigError

Batch = tuple[torch.Tensor, torch.Tensor | None]


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [0, 1]."""
    return images.float().div_(255)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [0, 1] -> uint8, rounding to the nearest level."""
    return images.clamp(0, 1).mul(255).round().to(torch.uint8)


def check_batch_size(batch_size: int, data: ImageData, whole: bool = True) -> None:
    """ConfigError unless batches of `batch_size` (with `whole`, only full ones) can be drawn
    from `data`."""
    if batch_size < 1:
        raise ConfigError(f"batch size must be positive, got {batch_size}")
    if whole and batch_size > len(data):
        raise ConfigError(f"batch size {batch_size} is larger than the {len(data)} images of "
                          f"{data.meta.get('name', 'the dataset')}; use at most {len(data)}.")


class Batches:
    """Epochs of shuffled batches; the order of epoch e depends only on (seed, e)."""

    def __init__(self, data: ImageData, batch_size: int, *, seed: int = 0, shuffle: bool = True,
                 drop_last: bool = True, device: str | torch.device = "cpu") -> None:
        check_batch_size(batch_size, data, whole=drop_last)
        self.images = data.images.to(device)
        self.labels = None if data.labels is None else data.labels.to(device)
        self.batch_size, self.seed = batch_size, seed
        self.shuffle, self.drop_last = shuffle, drop_last
        self.draw_binary = data.meta.get(META_KEY) == "dynamic"  # see datasets/binarize.py

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def epoch(self, epoch: int = 0, start: int = 0) -> Iterator[Batch]:
        """Batches of one epoch, beginning at batch `start` (to resume mid-epoch)."""
        n = len(self.images)
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            order = torch.randperm(n, generator=generator).to(self.images.device)
        else:
            order = torch.arange(n, device=self.images.device)
        for b in range(start, len(self)):
            index = order[b * self.batch_size: (b + 1) * self.batch_size]
            x = to_float(self.images[index])
            if self.draw_binary:  # the global generator: checkpoints restore it on resume
                x = torch.bernoulli(x)
            yield x, None if self.labels is None else self.labels[index]

    def __iter__(self) -> Iterator[Batch]:
        return self.epoch(0)
