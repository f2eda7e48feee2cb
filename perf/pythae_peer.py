"""The VAE peer: pythae training the seed's MLP VAE, against genbench training the same model.

(a) Seconds per epoch at the same batch size and learning rate. (b) Time to
quality: pythae at its own defaults for a number of epochs, then genbench (its
own settings) until it reaches the same held-out loss.
"""

from __future__ import annotations

import math
import tempfile
from typing import Any

import numpy as np
import torch

from genbench import models
from genbench.datasets import to_float
from genbench.training import TrainConfig, Trainer
from perf.common import Context, Stopwatch
from perf.pythae_vae import train_pythae

REQUIRES = ("pythae",)
GENBENCH_SETTINGS = {"batch_size": 128, "lr": 2e-3}


@torch.no_grad()
def heldout_loss(loss_of_batch, images: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean per-image loss (BCE summed + KL, one z sample) on held-out images."""
    torch.manual_seed(1)
    total = 0.0
    for i in range(0, len(images), batch_size):
        x = to_float(images[i:i + batch_size])
        total += float(loss_of_batch(x)) * len(x)
    return total / len(images)


def genbench_config(device: torch.device, **budget: Any) -> TrainConfig:
    return TrainConfig(**budget, device=str(device), show_progress=False, log_every=10**9,
                       checkpoint_every=10**9)


def per_epoch(ctx: Context, arrays: np.ndarray, epochs: int, batch_size: int = 128) -> dict:
    """Seconds per epoch, both at the same batch size and learning rate."""
    _, seconds = train_pythae(arrays, epochs, batch_size, 1e-3, ctx.device)
    pythae_epoch = float(np.median(seconds))
    torch.manual_seed(0)
    model = models.create("vae", ctx.train.image_shape)
    with tempfile.TemporaryDirectory() as tmp, Stopwatch(ctx.device) as watch:
        Trainer(genbench_config(ctx.device, epochs=epochs, batch_size=batch_size, lr=1e-3),
                tmp).fit(model, ctx.train)
    genbench_epoch = watch.seconds / epochs
    return {"batch_size": batch_size, "pythae_seconds": pythae_epoch,
            "genbench_seconds": genbench_epoch, "speedup": pythae_epoch / genbench_epoch}


def time_to_quality(ctx: Context, arrays: np.ndarray, epochs: int) -> dict:
    """pythae at its defaults for `epochs`; genbench until it reaches pythae's held-out loss
    (checked four times per epoch; given up after 20x pythae's time)."""
    peer, seconds = train_pythae(arrays, epochs, None, None, ctx.device)
    peer_device = next(peer.parameters()).device
    target = heldout_loss(lambda x: peer({"data": x.to(peer_device)}).loss.mean(),
                          ctx.test.images)
    peer_seconds = sum(seconds)
    torch.manual_seed(0)
    ours = models.create("vae", ctx.train.image_shape)
    s = GENBENCH_SETTINGS
    elapsed, reached, loss, steps = 0.0, False, math.inf, 0
    per_check = max(1, len(ctx.train) // s["batch_size"] // 4)
    with tempfile.TemporaryDirectory() as tmp:
        while elapsed < 20 * peer_seconds and not reached:
            steps += per_check
            trainer = Trainer(genbench_config(ctx.device, steps=steps, **s), tmp)
            with Stopwatch(ctx.device) as watch:
                trainer.fit(ours, ctx.train)  # resumes from the previous check's checkpoint
            elapsed += watch.seconds
            loss = heldout_loss(lambda x: ours.eval().training_step(x, None)["loss"],
                                ctx.test.images)
            reached = loss <= target
    return {"pythae_settings": f"defaults (batch 64, lr 1e-4, Adam), {epochs} epochs",
            "genbench_settings": f"batch {s['batch_size']}, lr {s['lr']}, Adam",
            "pythae_heldout_loss": target, "pythae_seconds": peer_seconds,
            "genbench_heldout_loss": loss, "genbench_seconds": elapsed,
            "genbench_steps": steps, "reached": reached,
            "speedup": peer_seconds / elapsed if reached else None}


def measure(ctx: Context) -> dict[str, Any]:
    arrays = to_float(ctx.train.images).numpy()
    return {"train_images": len(ctx.train),
            "per_epoch": per_epoch(ctx, arrays, ctx.args.pythae_epoch_test),
            "time_to_quality": time_to_quality(ctx, arrays, ctx.args.pythae_epochs)}


def markdown(result: dict[str, Any]) -> list[str]:
    e, q = result["per_epoch"], result["time_to_quality"]
    return ["## Against pythae (the seed's MLP VAE, same data)", "",
            f"Per epoch at batch {e['batch_size']}: pythae {e['pythae_seconds']:.2f} s, "
            f"genbench {e['genbench_seconds']:.2f} s: **{e['speedup']:.2f}×**", "",
            f"Time to quality: pythae at {q['pythae_settings']}: held-out loss "
            f"{q['pythae_heldout_loss']:.2f} in {q['pythae_seconds']:.1f} s; genbench "
            f"({q['genbench_settings']}) reached {q['genbench_heldout_loss']:.2f} in "
            f"{q['genbench_seconds']:.1f} s: **"
            + (f"{q['speedup']:.2f}×**" if q["reached"] else "not reached**")]
