"""The one training loop for every model family.

Budgets are counted in epochs, steps or seconds so that families can be compared
at equal compute. The seconds are those of training alone: the clock stops while
checkpoints are written and while callbacks (curve evaluations) run. Checkpoints
(training/checkpoint.py) carry everything the loop depends on, so a resumed run
continues exactly where an uninterrupted one would be.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from genbench.datasets import Batches, ImageData
from genbench.errors import GenbenchError
from genbench.io import torch_load
from genbench.models import GenerativeModel
from genbench.training.callbacks import Callback, Progress
from genbench.training.checkpoint import CHECKPOINT, restore_checkpoint, save_checkpoint
from genbench.training.clock import BudgetClock
from genbench.training.config import TrainConfig, pick_device
from genbench.training.ema import warmed_up_ema
from genbench.training.loggers import LOSS_CURVE, CSVLogger, WandbLogger


class NonFiniteLoss(GenbenchError, RuntimeError):
    """Training diverged."""


@dataclass
class TrainResult:
    steps: int
    epochs: float
    seconds: float  # training only
    eval_seconds: float  # spent in callbacks, outside the budget
    images_per_second: float
    final_losses: dict[str, float]


class Trainer:
    def __init__(self, config: TrainConfig, out_dir: str | Path | None = None,
                 run_name: str = "run", callbacks: list[Callback] | None = None) -> None:
        self.config = config
        self.out_dir = Path(out_dir) if out_dir else None
        self.run_name = run_name
        self.callbacks = list(callbacks or [])
        self.device = pick_device(config.device)

    # -- pieces of the loop ----------------------------------------------------------------
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

    def _progress(self, state: dict, final: bool = False) -> Progress:
        return Progress(step=state["step"], epoch=state["epoch"],
                        images=state["step"] * self.config.batch_size, seconds=state["seconds"],
                        loss=state["loss_sum"] / state["loss_steps"] if state["loss_steps"]
                        else None, final=final)

    # -- the loop --------------------------------------------------------------------------
    def fit(self, model: GenerativeModel, data: ImageData, resume: bool = True) -> TrainResult:
        c = self.config
        model.to(self.device).train()
        batches = Batches(data, c.batch_size, seed=c.seed, device=self.device)
        total = c.total_steps(len(batches))
        optimizers = model.optimizers(c.lr, c.weight_decay)
        schedulers = [torch.optim.lr_scheduler.LambdaLR(o, self._lr_lambda(total))
                      for o in optimizers]
        ema = (AveragedModel(model, multi_avg_fn=warmed_up_ema(model.ema_decay),
                             use_buffers=True) if model.ema_decay > 0 else None)
        self.model, self.ema = model, ema
        self._sampling_batches = Batches(data, min(512, len(data)), shuffle=False,
                                         drop_last=False, device=self.device)
        state = {"step": 0, "epoch": 0, "batch": 0, "seconds": 0.0, "eval_seconds": 0.0,
                 "loss_sum": 0.0, "loss_steps": 0, "finished": False}
        ckpt_path = self.out_dir / CHECKPOINT if self.out_dir else None
        if resume and ckpt_path and ckpt_path.exists():
            state = {**state, **restore_checkpoint(torch_load(ckpt_path, "checkpoint"), model,
                                                   ema, optimizers, schedulers)}
        spent = (state["step"] >= total if total is not None
                 else state["seconds"] >= c.seconds)
        if state["finished"] and spent:
            return self._result(state, len(batches), {})
        state["finished"] = False  # a larger budget than last time: training goes on
        for callback in self.callbacks:
            callback.resume(self._progress(state))
        if c.compile:
            for target in model.compile_targets:
                setattr(model, target, torch.compile(getattr(model, target)))

        curves = CSVLogger(self.out_dir / LOSS_CURVE, state["step"]) if self.out_dir else None
        wandb = (WandbLogger(self.run_name, dataclasses.asdict(c), self.out_dir)
                 if c.wandb and self.out_dir else None)
        loggers = [x for x in (curves, wandb) if x]
        progress = tqdm(total=total, initial=state["step"], disable=not c.progress,
                        desc=self.run_name, unit="step", leave=False)
        clock = BudgetClock(state["seconds"])
        window: dict[str, float] = {}
        window_steps, window_start = 0, clock.read()
        last: dict[str, float] = {}

        def out_of_budget() -> bool:
            if total is not None:
                return state["step"] >= total
            return state["seconds"] >= c.seconds

        def log_window() -> None:
            nonlocal window, window_steps, window_start
            row = {"step": state["step"], "epoch": state["epoch"],
                   "seconds": round(state["seconds"], 3),
                   "images_per_second": window_steps * c.batch_size
                   / max(state["seconds"] - window_start, 1e-9),
                   "lr": schedulers[0].get_last_lr()[0],
                   **{k: v / window_steps for k, v in window.items()}}
            progress.set_postfix(loss=f"{row['loss']:.4g}",
                                 img_s=f"{row['images_per_second']:.0f}")
            for logger in loggers:
                logger.log(row)
            window, window_steps, window_start = {}, 0, state["seconds"]

        def checkpoint() -> None:
            if ckpt_path:
                with clock.paused():
                    for logger in loggers:
                        logger.flush()
                    save_checkpoint(ckpt_path, model, ema, optimizers, schedulers, state)

        def run_callbacks(final: bool = False) -> None:
            """Due callbacks on the sampling weights; at the end, always readies those weights."""
            now = self._progress(state, final)
            due = [cb for cb in self.callbacks if cb.due(now)]
            if not due and not final:
                return
            devices = [self.device] if self.device.type == "cuda" else []
            # Paused clock, and a forked random stream: training goes on as if nothing ran.
            with clock.paused(), torch.random.fork_rng(devices=devices):
                start = time.perf_counter()
                sampler = self.sampling_model()
                sampler.prepare_sampling(self._sampling_batches)
                for callback in due:
                    callback(sampler, now)
                model.train(not final)
                if due:
                    state["eval_seconds"] += time.perf_counter() - start
                    state["loss_sum"], state["loss_steps"] = 0.0, 0
            if due and not final:
                checkpoint()  # what the callbacks recorded is never redone after a resume

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
                state["seconds"] = clock.read()
                state["loss_sum"] += last["loss"]
                state["loss_steps"] += 1
                for k, v in last.items():
                    window[k] = window.get(k, 0.0) + v
                window_steps += 1
                progress.update(1)
                if state["step"] % c.log_every == 0 or out_of_budget():
                    log_window()
                if state["step"] % c.checkpoint_every == 0:
                    checkpoint()
                if not out_of_budget():
                    run_callbacks()
                else:
                    break
            else:
                state["epoch"] += 1
                state["batch"] = 0
        progress.close()
        run_callbacks(final=True)
        state["finished"] = True
        checkpoint()
        if wandb:
            wandb.finish()
        return self._result(state, len(batches), last)

    def _result(self, state: dict, batches_per_epoch: int, last: dict) -> TrainResult:
        steps = state["step"]
        return TrainResult(steps=steps, epochs=steps / batches_per_epoch,
                           seconds=state["seconds"], eval_seconds=state.get("eval_seconds", 0.0),
                           images_per_second=steps * self.config.batch_size
                           / max(state["seconds"], 1e-9),
                           final_losses=last)

    def sampling_model(self) -> GenerativeModel:
        """The weights to sample from: the EMA copy when the model keeps one."""
        return (self.ema.module if self.ema is not None else self.model).eval()
