"""The one training loop for every model family.

Budgets are counted in epochs, steps, seconds or training FLOPs so that families can be
compared at equal compute. The seconds are those of training alone: the clock stops while
checkpoints are written and while callbacks (curve evaluations) run. The FLOPs are those
of one training step, counted once per run (training/flops.py), times the steps: a FLOP
budget is a step count, the same on every machine. A callback may end a run early (a stop
rule). Checkpoints (training/checkpoint.py) carry everything the loop depends on, its
state included (training/state.py), so a resumed run continues exactly where an
uninterrupted one would be.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from genbench.datasets import ImageData
from genbench.models import GenerativeModel
from genbench.training.callbacks import Callback
from genbench.training.config import TrainConfig, pick_device
from genbench.training.loop import NonFiniteLoss, TrainingRun

__all__ = ["NonFiniteLoss", "TrainResult", "Trainer"]


@dataclass
class TrainResult:
    model: GenerativeModel  # the trained weights, in eval mode
    sampler: GenerativeModel  # the weights to sample from: the EMA copy where kept; eval mode
    steps: int
    epochs: float
    images: int  # images seen
    seconds: float  # training only
    eval_seconds: float  # spent in callbacks, outside the budget
    sampler_seconds: float  # fitting a latent sampler for them (prepare_sampling)
    images_per_second: float
    flops_per_step: float  # counted FLOPs per training step (training/flops.py), mean of phases
    flops: float  # training FLOPs: each phase's counted step x its steps
    final_losses: dict[str, float]
    stopped: str | None = None  # why a callback ended the run early; None: its budget did


class Trainer:
    def __init__(self, config: TrainConfig, out_dir: str | Path | None = None,
                 run_name: str = "run", callbacks: list[Callback] | None = None) -> None:
        self.config = config
        self.out_dir = Path(out_dir) if out_dir else None
        self.run_name = run_name
        self.callbacks = list(callbacks or [])
        self.device = pick_device(config.device)

    def fit(self, model: GenerativeModel, data: ImageData, resume: bool = True) -> TrainResult:
        """Train `model` on `data` until its budget is spent or a callback stops it, going on
        from the checkpoint in `out_dir` when `resume` and there is one."""
        c = self.config
        run = TrainingRun(c, self.device, self.out_dir, self.run_name, self.callbacks, model,
                          data, resume)
        state = run.state
        if state.finished and run.spent():
            return self._result(run)
        state.finished = False  # a larger budget than last time: training goes on
        run.start()
        while not run.spent():
            for x, y in run.batches.epoch(state.epoch, start=state.batch):
                run.train_step(x, y)
                evaluated = not run.spent() and run.run_callbacks()  # a callback may stop it
                if state.step % c.log_every == 0 or run.spent():
                    run.log_window()
                if run.spent():
                    break
                if evaluated or state.step % c.checkpoint_every == 0:
                    run.checkpoint()  # what the callbacks recorded is never redone on resume
            else:
                state.epoch, state.batch = state.epoch + 1, 0
        run.finish()
        return self._result(run)

    def _result(self, run: TrainingRun) -> TrainResult:
        s = run.state
        return TrainResult(
            model=run.model.eval(), sampler=run.sampler(), steps=s.step,
            epochs=s.step / len(run.batches), images=s.step * self.config.batch_size,
            seconds=s.seconds, eval_seconds=s.eval_seconds, sampler_seconds=s.sampler_seconds,
            images_per_second=s.step * self.config.batch_size / max(s.seconds, 1e-9),
            flops_per_step=s.flops / s.step if s.step else s.first_step_flops, flops=s.flops,
            final_losses=dict(run.last),
            stopped=s.stopped)
