"""The one job function: train one run (resuming its checkpoint), then evaluate it.

Every executor (local processes, Ray) calls `execute(run, directory)`; a failure
is recorded in the run directory's failed.json, never raised, so a suite goes on. A fault
of the machine (disk full, read-only, permissions) is no result of the model: it is raised
as faults.MachineFault, records nothing, and stops the suite.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import traceback
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torchvision.utils import make_grid

from genbench.benchmarks import faults, store
from genbench.benchmarks.build import build_model, training_data
from genbench.benchmarks.curves import curve_points, quality_curve
from genbench.benchmarks.evaluate import evaluate
from genbench.datasets import to_float, to_uint8
from genbench.io import CorruptFileError, atomic_write_bytes, atomic_write_json, read_json
from genbench.judge import Judge, RunInputs, inputs_for, judge_of
from genbench.judge.inputs import Splits
from genbench.metrics import machine
from genbench.metrics.timing import cuda_peak, step_memory
from genbench.models import GenerativeModel
from genbench.settings import RunConfig
from genbench.training import Trainer
from genbench.training.stopping import CAP

log = logging.getLogger(__name__)


def save_grid(path: Path, images: torch.Tensor, nrow: int = 8) -> None:
    """A PNG grid of images (uint8 or float in [0, 1]), written atomically."""
    images = to_float(images) if images.dtype == torch.uint8 else images.float()
    grid = make_grid(images.cpu(), nrow=nrow, padding=2, pad_value=1.0)
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(grid).permute(1, 2, 0).squeeze(-1).numpy()).save(buffer, "PNG")
    atomic_write_bytes(path, buffer.getvalue())


def train_run(run: RunConfig, directory: Path, judge: Judge,
              progress: bool = True) -> tuple[dict[str, Any], GenerativeModel | None]:
    """Train (or resume) one run into `directory`; writes train.json and preview grids.
    Returns the training summary and the trained model with its sampling weights (None when
    an earlier process trained it: evaluation loads it)."""
    train_file = directory / store.TRAIN
    if train_file.exists():
        return read_json(train_file), None
    # The curve's real features come first: a cold cache trains the classifier, and the
    # run's own random stream starts after that, at build_model.
    callbacks = [quality_curve(run, directory, judge)] if run.eval.curve else []
    inputs = judge.inputs
    model = build_model(run, inputs.train)
    train = training_data(run, model, inputs.train)
    trainer = Trainer(dataclasses.replace(run.train, show_progress=progress), directory, run.run_id,
                      callbacks)
    # The step's memory, on the model just built (nothing of it changes): no extra copy.
    memory = step_memory(trainer.device, model, train, run.train.batch_size,
                         run.train.weight_decay)
    if trainer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(trainer.device)
    try:
        result = trainer.fit(model, train, resume=True)
    except CorruptFileError as error:  # a damaged checkpoint cannot be trusted: start over
        log.warning("%s; training %s again from the start", error, run.run_id)
        (directory / store.CHECKPOINT).unlink(missing_ok=True)
        result = trainer.fit(build_model(run, inputs.train), train, resume=False)
    save_previews(directory, result.sampler, inputs, run.seed)
    summary = {"train_steps": result.steps, "train_epochs": result.epochs,
               "train_images": result.images, "train_seconds": result.seconds,
               "train_images_per_second": result.images_per_second,
               "train_flops": result.flops, "flops_per_step": result.flops_per_step,
               "stopped": result.stopped or _budget_end(run, callbacks),
               "stop_rule": run.stop.describe() if run.stop else None,
               "eval_seconds": result.eval_seconds,
               "sampler_prepare_seconds": result.sampler_seconds,
               "curve_points": curve_points(directory), "final_losses": result.final_losses,
               "device": str(trainer.device), "threads": torch.get_num_threads(),
               "machine": machine(trainer.device), **(memory or cuda_peak(trainer.device))}
    atomic_write_json(train_file, summary)
    return summary, result.sampler


def _budget_end(run: RunConfig, callbacks: list) -> str:
    """Why a run that no callback stopped ended: its budget, or its stop rule's cap (saying
    so where the curve was still improving faster than the rule asks)."""
    if run.stop is None:
        return "budget"
    return run.stop.at_cap(callbacks[0].points(run.stop)) if callbacks else CAP


def save_previews(directory: Path, sampler: GenerativeModel, inputs: RunInputs,
                  seed: int) -> None:
    """samples.png, and reconstructions.png for models that reconstruct."""
    with torch.no_grad():
        torch.manual_seed(seed)
        save_grid(directory / store.SAMPLES, sampler.sample(64, sampler.random_labels(64)))
        if sampler.reconstructs:
            test = inputs.test
            x = to_float(test.images[:32].to(sampler.device))
            y = None if test.labels is None else test.labels[:32].to(sampler.device)
            pairs = torch.stack([x, sampler.reconstruct(x, y).float()], 1)
            save_grid(directory / store.RECONSTRUCTIONS, pairs.flatten(0, 1), nrow=16)


def execute(run: RunConfig, directory: Path, splits: Splits | None = None,
            progress: bool = False, threads: int | None = None,
            inputs: RunInputs | None = None) -> str:
    """Train and evaluate one job; a failure is recorded in failed.json, not raised, but a
    fault of the machine raises faults.MachineFault and leaves the run unfinished.
    `splits`: the run's data when the driver hands it over (a worker without the files);
    `inputs`: all it is measured against, when the driver runs it in its own process."""
    if threads:
        torch.set_num_threads(threads)
    stage = "training"
    try:
        judge = judge_of(run, inputs or inputs_for(run, splits))
        training, model = train_run(run, directory, judge, progress)
        stage = "evaluation"
        evaluate(run, directory, judge, model, training)
        return "done"
    except Exception as error:  # noqa: BLE001  (any failure is recorded; the suite goes on)
        return _failed(run, directory, stage, error)


def _failed(run: RunConfig, directory: Path, stage: str, error: Exception) -> str:
    """Record the model's failure in failed.json. A machine fault raises instead: a failed.json
    would make a rerun skip a run that the model never failed."""
    faults.raise_machine_fault(run.run_id, directory, error)
    log.error("%s failed during %s: %s", run.run_id, stage, error)
    try:
        store.record_failure(directory, run.run_id, stage, error, traceback.format_exc())
    except OSError as fault:  # the disk filled up since: no record, but one line, not a bug
        faults.raise_machine_fault(run.run_id, directory, fault)
        raise
    return "failed"
