"""genbench's batches (indexing a uint8 tensor) against a DataLoader with per-item ToTensor.

The same model and steps are fed both ways, so the ratio is what the data path
alone costs or saves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from genbench import models
from genbench.datasets import Batches, ImageData
from perf.common import Context, Stopwatch, endless

WARMUP = 10  # steps before the clock starts: allocations, first batches


class PILImages(torch.utils.data.Dataset):
    """What torchvision's MNIST does per item: uint8 array -> PIL image -> ToTensor."""

    def __init__(self, data: ImageData) -> None:
        from torchvision import transforms

        self.arrays = data.images[:, 0].numpy()
        self.labels = data.labels
        self.transform = transforms.ToTensor()

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.arrays[i], mode="L")), self.labels[i]


def train_rate(batches: Iterator, data: ImageData, device: torch.device, batch_size: int,
               steps: int) -> float:
    """Images/s of the seed's MLP VAE trained on `batches`, after a warm-up."""
    torch.manual_seed(0)
    model = models.create("vae", data.image_shape).to(device)
    opt = torch.optim.Adam(model.parameters(), 1e-3)

    def step() -> None:
        x, _ = next(batches)
        loss = model.training_step(x.to(device, non_blocking=True), None)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(WARMUP):
        step()
    with Stopwatch(device) as watch:
        for _ in range(steps):
            step()
    return steps * batch_size / watch.seconds


def measure(ctx: Context, batch_size: int = 128) -> dict[str, Any]:
    steps = ctx.args.data_path_steps
    ours = Batches(ctx.train, batch_size, device=ctx.device)
    loader = torch.utils.data.DataLoader(PILImages(ctx.train), batch_size, shuffle=True,
                                         drop_last=True, pin_memory=ctx.device.type == "cuda")
    genbench_rate = train_rate(endless(ours.epoch), ctx.train, ctx.device, batch_size, steps)
    loader_rate = train_rate(endless(lambda e: iter(loader)), ctx.train, ctx.device,
                             batch_size, steps)
    return {"batch_size": batch_size, "steps": steps,
            "genbench_images_per_second": genbench_rate,
            "dataloader_images_per_second": loader_rate, "ratio": genbench_rate / loader_rate}


def markdown(result: dict[str, Any]) -> list[str]:
    return [f"Data path (seed MLP VAE, batch {result['batch_size']}): genbench batches "
            f"{result['genbench_images_per_second']:,.0f} img/s vs DataLoader+ToTensor "
            f"{result['dataloader_images_per_second']:,.0f} img/s: **{result['ratio']:.2f}×**"]
