"""The named steps of the training loop (Trainer.fit strings them together).

A TrainingRun holds what one call of `fit` trains and keeps: the model, its optimizers,
schedulers and EMA copy, the loop's state (training/state.py), the budget clock and the
loggers. Its steps: one optimisation step, the budget test, logging a window of losses, a
checkpoint, the callbacks, the end of the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
import warnings
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from genbench.datasets import Batches, ImageData
from genbench.errors import GenbenchError
from genbench.models import GenerativeModel
from genbench.training import checkpoint
from genbench.training.callbacks import Callback, Progress
from genbench.training.clock import BudgetClock
from genbench.training.config import TrainConfig, lay_out
from genbench.training.ema import warmed_up_ema
from genbench.training.flops import step_flops
from genbench.training.loggers import LOSS_CURVE, CSVLogger, LossWindow, WandbLogger


class NonFiniteLoss(GenbenchError, RuntimeError):
    """Training diverged."""


def lr_factor(config: TrainConfig, total: int | None):
    """The learning-rate multiplier at each step: linear warm-up, then constant or cosine."""
    def factor(step: int) -> float:
        if config.warmup_steps and step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        if config.schedule == "cosine" and total:
            progress = (step - config.warmup_steps) / max(1, total - config.warmup_steps)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        return 1.0
    return factor


class TrainingRun:
    """One call of Trainer.fit: everything it trains, and its state, restored on resume."""

    def __init__(self, config: TrainConfig, device: torch.device, out_dir: Path | None,
                 run_name: str, callbacks: list[Callback], model: GenerativeModel,
                 data: ImageData, resume: bool) -> None:
        c = self.config = config
        self.device, self.out_dir, self.run_name = device, out_dir, run_name
        self.callbacks = callbacks
        self.model = model.to(self.device).train()
        self.channels_last = lay_out(model, c.channels_last)  # before the EMA copies it
        self.batches = Batches(data, c.batch_size, seed=c.seed, device=self.device)
        self.sampling_batches = Batches(data, min(c.sampling_batch, len(data)), shuffle=False,
                                        drop_last=False, device=self.device)
        self.optimizers = model.optimizers(c.lr, c.weight_decay)
        self.ema = (AveragedModel(model, multi_avg_fn=warmed_up_ema(model.ema_decay),
                                  use_buffers=True) if model.ema_decay > 0 else None)
        self.path = out_dir / checkpoint.CHECKPOINT if out_dir else None
        saved = checkpoint.read(self.path) if resume else None
        self.state = checkpoint.saved_state(saved)
        if not self.state.phase_flops:  # a fresh run: its first phase's cost of a step
            self.state.phase_flops[str(model.training_phase())] = self._count_flops()
        # A FLOP budget in steps, at the first phase's cost: exact for a model of one phase;
        # for more, an estimate for the schedule and the progress bar (spent() is exact).
        self.total = c.total_steps(len(self.batches), self.state.first_step_flops)
        self.schedulers = [torch.optim.lr_scheduler.LambdaLR(o, lr_factor(c, self.total))
                           for o in self.optimizers]
        if saved:
            checkpoint.restore(saved, model, self.ema, self.optimizers, self.schedulers)
        self.last: dict[str, float] = {}  # the losses of the last step

    # -- pieces used by every step ---------------------------------------------------------
    def spent(self) -> bool:
        """The one budget test: a callback stopped the run, or its budget is used up."""
        s = self.state
        if s.stopped is not None:
            return True
        if self.config.flops is not None:
            return s.flops >= self.config.flops * (1 - 1e-12)  # n steps' FLOPs: n steps
        if self.total is not None:
            return s.step >= self.total
        return s.seconds >= self.config.seconds

    def progress(self, final: bool = False) -> Progress:
        s = self.state
        return Progress(step=s.step, epoch=s.epoch, images=s.step * self.config.batch_size,
                        seconds=s.seconds, flops=s.flops, loss=s.mean_loss, final=final)

    def sampler(self) -> GenerativeModel:
        """The weights to sample from: the EMA copy when the model keeps one."""
        return (self.ema.module if self.ema is not None else self.model).eval()

    def update(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """The hook a model's optimization_step calls for each of its losses."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip:
            params = [p for g in optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)
        optimizer.step()

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.config.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _count_flops(self) -> float:
        with torch.random.fork_rng(devices=self._cuda()):  # a batch may draw (binarisation)
            batch = next(iter(self.batches))
        return float(step_flops(self.model, self.optimizers, batch, self.update, self.autocast))

    def _cuda(self) -> list[torch.device]:
        return [self.device] if self.device.type == "cuda" else []

    # -- the named steps of the loop -------------------------------------------------------
    def start(self) -> None:
        """Before the first step: callbacks forget what lies past the checkpoint, the
        loggers open, the budget clock starts."""
        c, out = self.config, self.out_dir
        for callback in self.callbacks:
            callback.resume(self.progress())
        if c.compile:
            for target in self.model.compile_targets:
                setattr(self.model, target, torch.compile(getattr(self.model, target)))
        self.wandb = (WandbLogger(self.run_name, dataclasses.asdict(c), out)
                      if c.wandb and out else None)
        csv = CSVLogger(out / LOSS_CURVE, self.state.step) if out else None
        self.loggers = [x for x in (csv, self.wandb) if x]
        self.bar = tqdm(total=self.total, initial=self.state.step, disable=not c.show_progress,
                        desc=self.run_name, unit="step", leave=False)
        self.clock = BudgetClock(self.state.seconds)
        self.window = LossWindow(self.state.seconds)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> None:
        s = self.state
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        phase = str(self.model.training_phase())
        if phase not in s.phase_flops:  # a new phase (the VQ-VAE's prior): its own cost
            s.phase_flops[phase] = self._count_flops()
        with self.autocast():
            losses = self.model.optimization_step(x, y, self.optimizers, self.update)
        values = torch.stack([v.detach().float() for v in losses.values()]).tolist()
        self.last = dict(zip(losses, values, strict=True))
        bad = [k for k, v in self.last.items() if not math.isfinite(v)]
        if bad:
            raise NonFiniteLoss(f"loss '{bad[0]}' became {self.last[bad[0]]} at step "
                                f"{s.step + 1}; lower the learning rate or set grad_clip")
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        with warnings.catch_warnings():
            # A later phase's optimizer (the VQ-VAE's prior) has not stepped yet: its
            # schedule still follows the run's steps, which is what torch warns about.
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler")
            for scheduler in self.schedulers:
                scheduler.step()
        s.step, s.batch, s.seconds = s.step + 1, s.batch + 1, self.clock.read()
        s.phase_steps[phase] = s.phase_steps.get(phase, 0) + 1
        s.loss_sum, s.loss_steps = s.loss_sum + self.last["loss"], s.loss_steps + 1
        self.window.add(self.last)
        self.bar.update(1)

    def log_window(self) -> None:
        row = self.window.row(self.state, self.config.batch_size,
                              self.schedulers[0].get_last_lr()[0])
        self.bar.set_postfix(loss=f"{row['loss']:.4g}", img_s=f"{row['images_per_second']:.0f}")
        for logger in self.loggers:
            logger.log(row)

    def checkpoint(self) -> None:
        if self.path:
            with self.clock.paused():
                for logger in self.loggers:
                    logger.flush()
                checkpoint.save(self.path, self.model, self.ema, self.optimizers,
                                self.schedulers, self.state)

    def run_callbacks(self, final: bool = False) -> bool:
        """The due callbacks, on the sampling weights; whether any ran. At the end it always
        readies those weights (prepare_sampling), and a callback's stop reason counts only
        before it: the budget ended the run otherwise."""
        now, s = self.progress(final), self.state
        due = [cb for cb in self.callbacks if cb.due(now)]
        if not due and not final:
            return False
        # Paused clock, and a forked random stream: training goes on as if nothing ran.
        with self.clock.paused(), torch.random.fork_rng(devices=self._cuda()):
            start = time.perf_counter()
            sampler = self.sampler()
            sampler.prepare_sampling(self.sampling_batches)
            # A latent sampler's fit is the sampler's cost (it is what sampling through it
            # costs); other readying (a GAN's BatchNorm statistics) is the evaluation's.
            ready = time.perf_counter() if sampler.sampler_cost() else start
            reasons = [stop_reason(cb, cb(sampler, now)) for cb in due]
            self.model.train(not final)
            if due:
                s.sampler_seconds += ready - start
                s.eval_seconds += time.perf_counter() - ready
                s.loss_sum, s.loss_steps = 0.0, 0
        if not final:
            s.stopped = next((r for r in reasons if r is not None), None)
        return bool(due)

    def finish(self) -> None:
        """The final callback run, and the checkpoint that marks the run finished."""
        self.bar.close()
        self.run_callbacks(final=True)
        self.state.finished = True
        self.checkpoint()
        if self.wandb:
            self.wandb.finish()


def stop_reason(callback: Callback, value: object) -> str | None:
    """A callback's answer: None to go on, a non-empty reason to stop."""
    if value is None or (isinstance(value, str) and value):
        return value
    raise TypeError(f"callback {type(callback).__name__} returned {value!r}: a callback returns "
                    "None to let training go on, or a non-empty reason string to stop it")
