"""The conv families' training, A/B in genbench's Trainer: channels-last memory format (the
Trainer's default for convolutional models) against the contiguous layout, and against
torch.compile (inductor) of the step, in the quick suite's own configuration, each held to
the same loss curve.

Each variant trains a fresh model from the same seed on the same batches (the Trainer's own
stream) for `--ab-warmup` + `--ab-steps` steps, logging every step's loss; the images/s of
the timed steps are a ratio to the contiguous layout's, measured in this run, and the losses
lie beside its: a change of speed that changed the mathematics would show as a loss curve
apart by more than float reassociation (the largest relative difference over all steps is
reported, and the mean loss of the last 50 steps beside).
"""

from __future__ import annotations

import csv
import logging
import tempfile
from pathlib import Path
from typing import Any

import torch

from genbench import models
from genbench.datasets import ImageData, to_float
from genbench.settings import RunConfig, load_suite
from genbench.training import LOSS_CURVE, TrainConfig, Trainer, convolutional
from perf.common import Context, matmul_rate, step_flops

log = logging.getLogger(__name__)

# variant -> TrainConfig settings (the rest: the suite's own)
VARIANTS: dict[str, dict[str, bool]] = {
    "contiguous": {"channels_last": False},
    "channels-last": {"channels_last": True},
    "compile": {"channels_last": False, "compile": True},
}


def train_steps(run: RunConfig, variant: str, data: ImageData, steps: int, warmup: int,
                device: torch.device) -> tuple[float, list[float]]:
    """Images/s over the timed steps of the Trainer, and every step's loss."""
    torch.manual_seed(0)
    model = models.create(run.model, data.image_shape, data.num_classes, **run.model_config)
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(steps=warmup + steps, batch_size=run.train.batch_size,
                             lr=run.train.lr, warmup_steps=run.train.warmup_steps,
                             device=str(device), show_progress=False, log_every=1,
                             checkpoint_every=10**9, **VARIANTS[variant])
        Trainer(config, tmp).fit(model, data)
        with (Path(tmp) / LOSS_CURVE).open() as f:
            rows = list(csv.DictReader(f))
    seconds = [float(r["seconds"]) for r in rows]
    rate = steps * run.train.batch_size / (seconds[-1] - seconds[warmup - 1])
    return rate, [float(r["loss"]) for r in rows]


def _tail_mean(losses: list[float], n: int = 50) -> float:
    return sum(losses[-n:]) / len(losses[-n:])


def measure(ctx: Context) -> dict[str, Any]:
    reference = matmul_rate(ctx.device)
    warmup, steps = ctx.args.ab_warmup, ctx.args.ab_steps
    rows = []
    for run in load_suite("quick").runs():
        model = models.create(run.model, ctx.train.image_shape, ctx.train.num_classes,
                              **run.model_config).to(ctx.device)
        if not convolutional(model) or run.model_config.get("sampler"):
            continue  # MLP families, and a sampler row that trains as its family does
        bs = run.train.batch_size
        x = to_float(ctx.train.images[:bs]).to(ctx.device)
        flops = step_flops(model, x, ctx.train.labels[:bs].to(ctx.device))
        base_rate, base_losses = train_steps(run, "contiguous", ctx.train, steps, warmup,
                                             ctx.device)
        for variant in VARIANTS:
            rate, losses = ((base_rate, base_losses) if variant == "contiguous" else
                            train_steps(run, variant, ctx.train, steps, warmup, ctx.device))
            apart = max(abs(a - b) / max(abs(b), 1e-8)
                        for a, b in zip(losses, base_losses, strict=True))
            rows.append({"model": run.name, "variant": variant, "batch_size": bs,
                         "train_images_per_second": rate, "speedup": rate / base_rate,
                         "fraction_of_matmul": flops * rate / bs / reference,
                         "loss_apart": apart, "last_losses": _tail_mean(losses),
                         "base_last_losses": _tail_mean(base_losses)})
            log.info("%s %s: %.0f img/s (%.2fx), %.0f%% of matmul, losses apart %.1e",
                     run.name, variant, rate, rate / base_rate,
                     100 * rows[-1]["fraction_of_matmul"], apart)
    return {"matmul_flops": reference, "warmup": warmup, "steps": steps, "rows": rows}


def markdown(result: dict[str, Any]) -> list[str]:
    lines = [f"Conv families A/B in the Trainer ({result['warmup']} warm-up + "
             f"{result['steps']} timed steps, matmul reference "
             f"{result['matmul_flops'] / 1e9:.1f} GFLOP/s in the same run; losses apart: the "
             "largest relative difference from the contiguous layout's loss at any step; last "
             "50: the mean loss of the last 50 steps, the contiguous layout's beside)",
             "", "| model | variant | train img/s | × contiguous | % of matmul | losses apart "
             "| last 50 |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['model']} | {r['variant']} | {r['train_images_per_second']:,.0f} | "
                     f"{r['speedup']:.2f} | {100 * r['fraction_of_matmul']:.0f}% | "
                     f"{r['loss_apart']:.1e} | {r['last_losses']:.4g} "
                     f"({r['base_last_losses']:.4g}) |")
    return lines
