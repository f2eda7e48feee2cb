"""Every model of the quick suite: training images/s, as a fraction of the matmul rate.

A model whose training runs near the rate of a large torch.mm has nothing left
to gain from the loop around it; one far below it is limited by something else
(small kernels, the data path, Python).
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from typing import Any

import torch

from genbench import models
from genbench.datasets import ImageData, to_float
from genbench.metrics import generate, parameter_count
from genbench.settings import load_suite
from genbench.training import TrainConfig, Trainer
from perf.common import Context, matmul_rate, step_flops

log = logging.getLogger(__name__)


def train_rate(model: models.GenerativeModel, data: ImageData, batch_size: int, lr: float,
               device: str, compile_: bool, steps: int, warmup: int = 10) -> float:
    """Images/s of genbench's Trainer (everything counted: batches, step, EMA, logging)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(steps=warmup, batch_size=batch_size, lr=lr, device=device,
                             compile=compile_, show_progress=False, log_every=10**9,
                             checkpoint_every=10**9)
        trainer = Trainer(config, tmp)
        trainer.fit(model, data)  # warm-up: allocations, compilation
        trainer.config = dataclasses.replace(config, steps=warmup + steps)
        before = trainer.fit(model, data, resume=False)  # same model, timed from a warm start
        assert before.steps == warmup + steps
        return before.steps * batch_size / before.seconds


def measure(ctx: Context) -> dict[str, Any]:
    reference = matmul_rate(ctx.device)
    log.info("matmul: %.1f GFLOP/s", reference / 1e9)
    rows = []
    for run in load_suite("quick").runs():
        torch.manual_seed(0)
        model = models.create(run.model, ctx.train.image_shape, ctx.train.num_classes,
                              **run.model_config).to(ctx.device)
        bs = run.train.batch_size
        x = to_float(ctx.train.images[:bs].to(ctx.device))
        y = ctx.train.labels[:bs].to(ctx.device)
        flops = step_flops(model, x, y)
        rate = train_rate(model, ctx.train, bs, run.train.lr, str(ctx.device), ctx.compile,
                          ctx.args.steps)
        model.eval()
        generate(model, 16, 16)  # warm-up
        _, sample_rate = generate(model, 64 if model.denoises else 256, 256)
        achieved = flops * rate / bs
        rows.append({"model": run.name, "batch_size": bs, "params": parameter_count(model),
            "flops_per_step": flops,
            "train_images_per_second": rate, "sample_images_per_second": sample_rate,
            "achieved_flops": achieved, "fraction_of_matmul": achieved / reference})
        log.info("%s: %.0f img/s, %.0f%% of matmul", run.name, rate, 100 * achieved / reference)
    return {"matmul_flops": reference, "models": rows}


def markdown(result: dict[str, Any]) -> list[str]:
    lines = [f"float32 matmul reference: **{result['matmul_flops'] / 1e9:.1f} GFLOP/s** "
             "(torch.mm 2048², same run)", "",
             "| model | batch | GFLOP/step | train img/s | sample img/s | % of matmul |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in result["models"]:
        lines.append(f"| {r['model']} | {r['batch_size']} | {r['flops_per_step'] / 1e9:.3f} | "
                     f"{r['train_images_per_second']:,.0f} | {r['sample_images_per_second']:,.0f}"
                     f" | {100 * r['fraction_of_matmul']:.0f}% |")
    return lines
