"""The one training loop for every model family.

Budgets are counted in epochs, steps or seconds so that families can be compared
at equal compute. Checkpoints carry everything the loop depends on (weights,
EMA, optimizer and scheduler state, RNG state, position in the data), so a
resumed run continues exactly where an uninterrupted one would be.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from genbench.datasets import Batches, ImageData
from genbench.io import atomic_torch_save, torch_load
from genbench.models import GenerativeModel
from genbench.training.loggers import CSVLogger, WandbLogger

CHECKPOINT = "checkpoint.pt"


class NonFiniteLoss(RuntimeError):
    """Training diverged."""


@dataclass
class TrainConfig:
    epochs: float | None = None
    steps: int | None = None
    seconds: float | None = None
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float | None = None
    schedule: str = "constant"  # or "cosine" (needs an epochs or steps budget)
    warmup_steps: int = 0
    device: str = "auto"  # auto: cuda, then mps, then cpu
    amp: bool = True  # bf16 autocast, on CUDA only
    compile: bool = False
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 1000
    wandb: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        budgets = {k: v for k, v in (("epochs", self.epochs), ("steps", self.steps),
                                     ("seconds", self.seconds)) if v is not None}
        if len(budgets) != 1:
            raise ValueError("give exactly one training budget: epochs, steps or seconds "
                             f"(got {budgets or 'none'})")
        for k, v in budgets.items():
            if not v > 0:
                raise ValueError(f"the {k} budget must be greater than 0, got {v}")
        for k in ("batch_size", "log_every", "checkpoint_every"):
            if getattr(self, k) < 1:
                raise ValueError(f"{k} must be at least 1, got {getattr(self, k)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be greater than 0, got {self.lr}")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}")
        if self.schedule == "cosine" and self.seconds is not None:
            raise ValueError("a cosine schedule needs a steps or epochs budget, not seconds")


def warmed_up_ema(decay: float):
    """EMA whose decay grows as min(decay, (1 + n) / (10 + n)) with the updates n so far:
    a short run samples from trained weights, not from an average dominated by the init."""
    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n) -> None:
        n = int(n)
        weight = 1 - min(decay, (1 + n) / (10 + n))
        floats = [(a, c) for a, c in zip(averaged, current, strict=True)
                  if a.is_floating_point()]
        if floats:
            torch._foreach_lerp_([a for a, _ in floats], [c for _, c in floats], weight)
    return update


def pick_device(name: str = "auto") -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@dataclass
class TrainResult:
    steps: int
    epochs: float
    seconds: float
    images_per_second: float
    final_losses: dict[str, float]


class Trainer:
    def __init__(self, config: TrainConfig, out_dir: str | Path | None = None,
                 run_name: str = "run") -> None:
        self.config = config
        self.out_dir = Path(out_dir) if out_dir else None
        self.run_name = run_name
        self.device = pick_device(config.device)

    # -- pieces of the loop ----------------------------------------------------------------
    def total_steps(self, batches_per_epoch: int) -> int | None:
        c = self.config
        if c.steps is not None:
            return c.steps
        if c.epochs is not None:
            return max(1, math.ceil(c.epochs * batches_per_epoch))
        return None

    def _lr_lambda(self, total: int | None):
        c = self.config

        def factor(step: int) -> float:
            if c.warmup_steps and step < c.warmup_steps:
                return (step + 1) / c.warmup_steps
            if c.schedule == "cosine" and total:
                progress = (step - c.warmup_steps) / max(1, total - c.warmup_steps)
                return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
            return 1.0
        return factor

    def _update(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip:
            params = [p for g in optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)
        optimizer.step()

    def _autocast(self):
        if self.config.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # -- the loop --------------------------------------------------------------------------
    def fit(self, model: GenerativeModel, data: ImageData, resume: bool = True) -> TrainResult:
        c = self.config
        model.to(self.device).train()
        batches = Batches(data, c.batch_size, seed=c.seed, device=self.device)
        total = self.total_steps(len(batches))
        optimizers = model.optimizers(c.lr, c.weight_decay)
        schedulers = [torch.optim.lr_scheduler.LambdaLR(o, self._lr_lambda(total))
                      for o in optimizers]
        ema = (AveragedModel(model, multi_avg_fn=warmed_up_ema(model.ema_decay),
                             use_buffers=True) if model.ema_decay > 0 else None)
        state = {"step": 0, "epoch": 0, "batch": 0, "seconds": 0.0, "finished": False}
        ckpt_path = self.out_dir / CHECKPOINT if self.out_dir else None
        if resume and ckpt_path and ckpt_path.exists():
            state = self._restore(torch_load(ckpt_path, "checkpoint"), model, ema, optimizers,
                                  schedulers)
        spent = (state["step"] >= total if total is not None
                 else state["seconds"] >= c.seconds)
        if state["finished"] and spent:
            self.model, self.ema = model, ema
            return self._result(state, len(batches), {})
        state["finished"] = False  # a larger budget than last time: training goes on
        if c.compile:
            for target in model.compile_targets:
                setattr(model, target, torch.compile(getattr(model, target)))

        curves = CSVLogger(self.out_dir / "curves.csv", state["step"]) if self.out_dir else None
        wandb = (WandbLogger(self.run_name, dataclasses.asdict(c), self.out_dir)
                 if c.wandb and self.out_dir else None)
        loggers = [x for x in (curves, wandb) if x]
        progress = tqdm(total=total, initial=state["step"], disable=not c.progress,
                        desc=self.run_name, unit="step", leave=False)
        window: dict[str, float] = {}
        window_steps, window_start = 0, time.perf_counter()
        last: dict[str, float] = {}

        def out_of_budget() -> bool:
            if total is not None:
                return state["step"] >= total
            return state["seconds"] >= c.seconds

        tick = time.perf_counter()  # budget time counts everything: batches, steps, logging
        while not out_of_budget():
            for x, y in batches.epoch(state["epoch"], start=state["batch"]):
                with self._autocast():
                    losses = model.optimization_step(x, y, optimizers, self._update)
                values = torch.stack([v.detach().float() for v in losses.values()]).tolist()
                last = dict(zip(losses, values, strict=True))
                bad = [k for k, v in last.items() if not math.isfinite(v)]
                if bad:
                    raise NonFiniteLoss(f"loss '{bad[0]}' became {last[bad[0]]} at step "
                                        f"{state['step'] + 1}; lower the learning rate or set "
                                        "grad_clip")
                if ema is not None:
                    ema.update_parameters(model)
                for s in schedulers:
                    s.step()
                state["step"] += 1
                state["batch"] += 1
                now = time.perf_counter()
                state["seconds"] += now - tick
                tick = now
                for k, v in last.items():
                    window[k] = window.get(k, 0.0) + v
                window_steps += 1
                progress.update(1)
                if state["step"] % c.log_every == 0:
                    elapsed = time.perf_counter() - window_start
                    row = {"step": state["step"], "epoch": state["epoch"],
                           "seconds": round(state["seconds"], 3),
                           "images_per_second": window_steps * c.batch_size / elapsed,
                           "lr": schedulers[0].get_last_lr()[0],
                           **{k: v / window_steps for k, v in window.items()}}
                    progress.set_postfix(loss=f"{row['loss']:.4g}",
                                         img_s=f"{row['images_per_second']:.0f}")
                    for logger in loggers:
                        logger.log(row)
                    window, window_steps, window_start = {}, 0, time.perf_counter()
                if ckpt_path and state["step"] % c.checkpoint_every == 0:
                    self._save(ckpt_path, model, ema, optimizers, schedulers, state, loggers)
                if out_of_budget():
                    break
            else:
                state["epoch"] += 1
                state["batch"] = 0
        progress.close()
        model.eval()
        sampler = ema.module if ema is not None else model
        sampler.eval().on_train_end(Batches(data, min(512, len(data)), shuffle=False,
                                            drop_last=False, device=self.device))
        state["finished"] = True
        if ckpt_path:
            self._save(ckpt_path, model, ema, optimizers, schedulers, state, loggers)
        if wandb:
            wandb.finish()
        self.model, self.ema = model, ema
        return self._result(state, len(batches), last)

    def _result(self, state: dict, batches_per_epoch: int, last: dict) -> TrainResult:
        steps = state["step"]
        return TrainResult(steps=steps, epochs=steps / batches_per_epoch,
                           seconds=state["seconds"],
                           images_per_second=steps * self.config.batch_size
                           / max(state["seconds"], 1e-9),
                           final_losses=last)

    def sampling_model(self) -> GenerativeModel:
        """The weights to sample from: the EMA copy when the model keeps one."""
        return (self.ema.module if self.ema is not None else self.model).eval()

    # -- checkpoints -----------------------------------------------------------------------
    def _save(self, path, model, ema, optimizers, schedulers, state, loggers) -> None:
        for logger in loggers:
            logger.flush()
        atomic_torch_save(path, {
            "model": model.state_dict(),
            "ema": ema.state_dict() if ema is not None else None,
            "optimizers": [o.state_dict() for o in optimizers],
            "schedulers": [s.state_dict() for s in schedulers],
            "state": dict(state),
            "rng": {"torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
        })

    def _restore(self, ckpt, model, ema, optimizers, schedulers) -> dict:
        model.load_state_dict(ckpt["model"])
        if ema is not None and ckpt.get("ema") is not None:
            ema.load_state_dict(ckpt["ema"])
        for o, s in zip(optimizers, ckpt["optimizers"], strict=True):
            o.load_state_dict(s)
        for sch, s in zip(schedulers, ckpt["schedulers"], strict=True):
            sch.load_state_dict(s)
        torch.set_rng_state(ckpt["rng"]["torch"])
        if ckpt["rng"].get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
        return dict(ckpt["state"])


def load_sampling_weights(model: GenerativeModel, checkpoint: dict[str, Any]) -> GenerativeModel:
    """Load a finished checkpoint's weights for evaluation: EMA ones where kept."""
    if checkpoint.get("ema") is not None:
        ema = {k.removeprefix("module."): v for k, v in checkpoint["ema"].items()
               if k.startswith("module.")}
        model.load_state_dict(ema)
    else:
        model.load_state_dict(checkpoint["model"])
    return model.eval()
