"""The diffusion peer: denoising-diffusion-pytorch beside genbench's diffusion model, trained
for the same CPU seconds on the same images, judged by the same features on the same images.

genbench: the quick suite's `diffusion` entry (its model config and every training setting
but the budget), trained by genbench's Trainer. Peer: see denoising_diffusion.py. Both train
while their budget clock reads less than a budget, are judged with the clock stopped, and go
on to the next budget: n samples from the EMA weights, their FID and KID against the first n
held-out images in the dataset classifier's features, and the seconds their sampling took.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict
from typing import Any

import torch

from genbench.benchmarks.build import build_model
from genbench.metrics import (
    ClassifierSettings,
    FeatureSpace,
    extract_features,
    generate,
    load_or_train,
    metrics_from_features,
    real_features,
)
from genbench.settings import RunConfig, load_suite
from genbench.training import Progress, Trainer
from perf import denoising_diffusion as peer
from perf.common import Context

REQUIRES = peer.REQUIRES
SAMPLE_BATCH = 500  # both models sample in batches of this size


class Judge:
    """FID, KID and sampling seconds of n samples, against the first n held-out images;
    a model judged again at the same step (two budgets passed in one step) is not resampled."""

    def __init__(self, space: FeatureSpace, test_images: torch.Tensor, n: int) -> None:
        self.space, self.n = space, n
        self.real = real_features(test_images[:n], space, batch_size=SAMPLE_BATCH)
        self._last: tuple[Any, int, dict[str, float]] | None = None

    def __call__(self, sampler: Any, progress: Progress) -> dict[str, float]:
        if self._last is None or self._last[:2] != (sampler, progress.step):
            images, rate = generate(sampler, self.n, SAMPLE_BATCH)
            fake = extract_features(images, self.space, SAMPLE_BATCH,
                                    cuda=sampler.device.type == "cuda")
            s = metrics_from_features(fake, self.real, prc=False)
            self._last = sampler, progress.step, {"fid": s["fid"], "kid": s["kid"],
                                                  "kid_std": s["kid_std"],
                                                  "sample_seconds": self.n / rate}
        return self._last[2]


def point(budget: float, progress: Progress, scores: dict[str, float]) -> dict[str, Any]:
    return {"budget": budget, "seconds": progress.seconds, "steps": progress.step,
            "images": progress.images,
            "train_images_per_second": progress.images / progress.seconds, **scores}


class AtBudgets:
    """genbench's side: a Trainer callback judging the sampling weights at the first step
    at or past each budget, the rule by which the Trainer itself ends a seconds budget."""

    def __init__(self, budgets: list[float], judge: Judge) -> None:
        self.pending, self.judge, self.points = list(budgets), judge, []

    def resume(self, progress: Progress) -> None:
        pass

    def due(self, progress: Progress) -> bool:
        return bool(self.pending) and progress.seconds >= self.pending[0]

    def __call__(self, model, progress: Progress) -> None:
        while self.due(progress):
            self.points.append(point(self.pending.pop(0), progress, self.judge(model, progress)))


def quick_diffusion() -> RunConfig:
    return next(run for run in load_suite("quick").runs() if run.name == "diffusion")


def train_genbench(ctx: Context, run: RunConfig, budgets: list[float], judge: Judge) -> list:
    config = dataclasses.replace(run.train, seconds=budgets[-1], steps=None, epochs=None,
                                 flops=None, device=str(ctx.device), compile=ctx.compile,
                                 show_progress=False)
    at = AtBudgets(budgets, judge)
    Trainer(config, callbacks=[at]).fit(build_model(run, ctx.train), ctx.train)
    return at.points


def compare(ctx: Context, run: RunConfig, settings: peer.PeerSettings,
            classifier: ClassifierSettings | None = None) -> dict[str, Any]:
    """genbench's `run` against the peer with `settings`, at ctx.args.peer_budgets."""
    budgets, n = sorted(ctx.args.peer_budgets), ctx.args.peer_samples
    path, accuracy = load_or_train(ctx.cache, ctx.train, ctx.test, classifier)
    judge = Judge(FeatureSpace("classifier", path, accuracy), ctx.test.images, n)
    ours = train_genbench(ctx, run, budgets, judge)
    theirs = [point(budget, progress, judge(sampler, progress)) for budget, (progress, sampler)
              in zip(budgets, peer.train(ctx.train, ctx.device, budgets, settings), strict=True)]
    return {"samples": n, "reference_images": len(judge.real), "classifier_accuracy": accuracy,
            "genbench": {"settings": {"batch_size": run.train.batch_size, "lr": run.train.lr,
                                      "model_config": run.model_config}, "points": ours},
            "peer": {"settings": asdict(settings), "points": theirs}}


def measure(ctx: Context) -> dict[str, Any]:
    """The quick suite's diffusion model against the peer at its own settings."""
    return compare(ctx, quick_diffusion(), peer.PeerSettings())


def row(budget: str, who: str, p: dict, n: int) -> str:
    return (f"| {budget} | {who} | {p['steps']:,} | {p['images']:,} | "
            f"{p['train_images_per_second']:,.0f} | {p['fid']:.1f} | {p['kid']:.4f} ± "
            f"{p['kid_std']:.4f} | {p['sample_seconds']:.1f} ({1000 * p['sample_seconds'] / n:.0f})"
            " |")


def ratio_row(a: dict, b: dict) -> str:
    def r(key: str) -> str:
        return f"{a[key] / b[key]:.2f}×" if b[key] > 0 else "–"
    return (f"| | genbench / peer | {r('steps')} | {r('images')} | "
            f"{r('train_images_per_second')} | **{r('fid')}** | {r('kid')} | "
            f"{r('sample_seconds')} |")


def verdict(ours: list[dict], theirs: list[dict]) -> str:
    pairs = list(zip(ours, theirs, strict=True))
    ratios = "; ".join(f"{a['fid'] / b['fid']:.2f}× the peer's at {a['budget']:g} s"
                       for a, b in pairs)
    ahead = [f"{a['budget']:g} s" for a, b in pairs if a["fid"] < b["fid"]]
    outcome = ("genbench is ahead at every budget" if len(ahead) == len(pairs)
               else "the peer is ahead at every budget" if not ahead
               else f"genbench is ahead at {', '.join(ahead)} only")
    return f"genbench's FID is {ratios}: {outcome}."


def markdown(result: dict[str, Any]) -> list[str]:
    g, p, n = result["genbench"], result["peer"], result["samples"]
    gs, ps = g["settings"], p["settings"]
    lines = ["## Diffusion peer: denoising-diffusion-pytorch, same images, same CPU seconds", "",
             f"genbench: the quick suite's `diffusion` (batch {gs['batch_size']}, lr {gs['lr']:g},"
             f" {gs['model_config']}). Peer: Unet(dim {ps['dim']}, mults "
             f"{tuple(ps['dim_mults'])}), {ps['timesteps']} steps, {ps['sampling_timesteps']} "
             f"DDIM steps, batch {ps['batch_size']}, lr {ps['lr']:g}, its Trainer's Adam, "
             f"clipping and EMA. FID/KID: {n:,} samples from the EMA weights against the first "
             f"{result['reference_images']:,} held-out images, in the dataset classifier's "
             f"features (test accuracy {100 * result['classifier_accuracy']:.1f}%).", "",
             f"| budget | | steps | images seen | train img/s | FID | KID ± std | sampling s for "
             f"{n:,} (ms/img) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for a, b in zip(g["points"], p["points"], strict=True):
        lines += [row(f"{a['budget']:g} s", "genbench", a, n), row("", "peer", b, n),
                  ratio_row(a, b)]
    return lines + ["", verdict(g["points"], p["points"])]
