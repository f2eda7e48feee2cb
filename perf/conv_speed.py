"""The conv families' training step, A/B: eager (genbench's default) against channels-last
memory format and against torch.compile (inductor) of the step, in the quick suite's own
configuration, each held to the same loss curve.

Each variant trains a fresh model from the same seed on the same batches for `--ab-steps`
steps after `--ab-warmup` untimed ones (compilation happens there); its images/s are a ratio
to eager's, measured in this run, and its losses beside eager's: a change of speed that
changed the mathematics would show as a loss curve apart from eager's by more than float
reassociation (the largest relative difference over the timed steps is reported).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from genbench import models
from genbench.datasets import to_float
from genbench.settings import load_suite
from perf.common import Context, Stopwatch, matmul_rate, step_flops

log = logging.getLogger(__name__)


def channels_last(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    model.to(memory_format=torch.channels_last)
    return lambda x: x.contiguous(memory_format=torch.channels_last)


def compiled(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    for target in model.compile_targets:
        setattr(model, target, torch.compile(getattr(model, target)))
    return lambda x: x


VARIANTS: dict[str, Callable[[nn.Module], Callable[[torch.Tensor], torch.Tensor]]] = {
    "eager": lambda model: (lambda x: x),
    "channels-last": channels_last,
    "compile": compiled,
}


def train_steps(make: Callable[[], models.GenerativeModel], variant: str, batches: list,
                lr: float, warmup: int, device: torch.device) -> tuple[float, list[float]]:
    """Images/s over the timed steps, and every step's loss (warm-up steps included)."""
    model = make()
    prepare = VARIANTS[variant](model)
    optimizers = model.optimizers(lr, 0.0)

    def update(loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    losses: list[torch.Tensor] = []
    torch.manual_seed(1)  # the models' noise (reparameterisation, timesteps): the same draws

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        losses.append(model.optimization_step(prepare(x), y, optimizers, update)["loss"]
                      .detach())

    for x, y in batches[:warmup]:
        step(x, y)
    with Stopwatch(device) as watch:
        for x, y in batches[warmup:]:
            step(x, y)
    images = sum(len(x) for x, _ in batches[warmup:])
    return images / watch.seconds, [float(v) for v in losses]


def is_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d | nn.ConvTranspose2d) for m in model.modules())


def measure(ctx: Context) -> dict[str, Any]:
    reference = matmul_rate(ctx.device)
    warmup, steps = ctx.args.ab_warmup, ctx.args.ab_steps
    rows = []
    for run in load_suite("quick").runs():
        def make(run=run) -> models.GenerativeModel:
            torch.manual_seed(0)
            return models.create(run.model, ctx.train.image_shape, ctx.train.num_classes,
                                 **run.model_config).to(ctx.device)
        if not is_conv(make()) or run.model_config.get("sampler"):
            continue  # MLP families, and a sampler row that trains as its family does
        bs = run.train.batch_size
        g = torch.Generator().manual_seed(0)
        order = torch.randint(len(ctx.train.images), (warmup + steps, bs), generator=g)
        batches = [(to_float(ctx.train.images[i]).to(ctx.device), ctx.train.labels[i]
                    .to(ctx.device)) for i in order]
        x, y = batches[0]
        flops = step_flops(make(), x, y)
        eager_rate, eager_losses = train_steps(make, "eager", batches, run.train.lr, warmup,
                                               ctx.device)
        for variant in VARIANTS:
            rate, losses = ((eager_rate, eager_losses) if variant == "eager" else
                            train_steps(make, variant, batches, run.train.lr, warmup,
                                        ctx.device))
            apart = max(abs(a - b) / max(abs(b), 1e-8)
                        for a, b in zip(losses, eager_losses, strict=True))
            rows.append({"model": run.name, "variant": variant, "batch_size": bs,
                         "train_images_per_second": rate, "speedup": rate / eager_rate,
                         "fraction_of_matmul": flops * rate / bs / reference,
                         "loss_apart": apart, "final_loss": losses[-1]})
            log.info("%s %s: %.0f img/s (%.2fx), %.0f%% of matmul, losses apart %.1e",
                     run.name, variant, rate, rate / eager_rate,
                     100 * rows[-1]["fraction_of_matmul"], apart)
    return {"matmul_flops": reference, "warmup": warmup, "steps": steps, "rows": rows}


def markdown(result: dict[str, Any]) -> list[str]:
    lines = [f"Conv families A/B ({result['warmup']} warm-up + {result['steps']} timed steps, "
             f"matmul reference {result['matmul_flops'] / 1e9:.1f} GFLOP/s in the same run; "
             "losses apart: the largest relative difference from eager's loss at any step)",
             "", "| model | variant | train img/s | × eager | % of matmul | losses apart |",
             "|---|---|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['model']} | {r['variant']} | {r['train_images_per_second']:,.0f} | "
                     f"{r['speedup']:.2f} | {100 * r['fraction_of_matmul']:.0f}% | "
                     f"{r['loss_apart']:.1e} |")
    return lines
