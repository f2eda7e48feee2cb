"""The one job function: train one run (resuming its checkpoint), then evaluate it.

Every executor (local processes, Ray) calls `execute(config, directory)`; a failure
is recorded in the run directory's failed.json, never raised, so a suite goes on.
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

from genbench.benchmarks import store
from genbench.benchmarks.curves import curve_points, quality_curve
from genbench.benchmarks.evaluate import build_model, evaluate_run, load_run_data, training_data
from genbench.config import RunConfig
from genbench.datasets import to_float, to_uint8
from genbench.io import CorruptFileError, atomic_write_bytes, atomic_write_json, read_json
from genbench.metrics import peak_memory
from genbench.training import CHECKPOINT, Trainer

log = logging.getLogger(__name__)


def save_grid(path: Path, images: torch.Tensor, nrow: int = 8) -> None:
    """A PNG grid of images (uint8 or float in [0, 1]), written atomically."""
    images = to_float(images) if images.dtype == torch.uint8 else images.float()
    grid = make_grid(images.cpu(), nrow=nrow, padding=2, pad_value=1.0)
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(grid).permute(1, 2, 0).squeeze(-1).numpy()).save(buffer, "PNG")
    atomic_write_bytes(path, buffer.getvalue())


def train_run(run: RunConfig, directory: Path, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) one run into `directory`; writes train.json and preview grids."""
    train_file = directory / store.TRAIN
    if train_file.exists():
        return read_json(train_file)
    train, test = load_run_data(run.data)
    model = build_model(run, train)
    callbacks = [quality_curve(run, directory, train, test)] if run.eval.curve else []
    train = training_data(run, model, train)
    trainer = Trainer(dataclasses.replace(run.train, progress=progress), directory, run.run_id,
                      callbacks)
    if trainer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(trainer.device)
    try:
        result = trainer.fit(model, train, resume=True)
    except CorruptFileError as error:  # a damaged checkpoint cannot be trusted: start over
        log.warning("%s; training %s again from the start", error, run.run_id)
        (directory / CHECKPOINT).unlink(missing_ok=True)
        model = build_model(run, train)
        result = trainer.fit(model, train, resume=False)
    sampler = trainer.sampling_model()
    with torch.no_grad():
        torch.manual_seed(run.seed)
        save_grid(directory / "samples.png", sampler.sample(64, sampler.random_labels(64)))
        if sampler.reconstructs:
            x = test.images[:32].to(trainer.device)
            y = None if test.labels is None else test.labels[:32].to(trainer.device)
            pairs = torch.stack([to_float(x), sampler.reconstruct(to_float(x), y).float()], 1)
            save_grid(directory / "reconstructions.png", pairs.flatten(0, 1), nrow=16)
    memory = peak_memory(trainer.device, lambda: build_model(run, train), train,
                         run.train.batch_size, run.train.lr, run.train.weight_decay)
    summary = {"train_steps": result.steps, "train_epochs": result.epochs,
               "train_seconds": result.seconds,
               "train_images_per_second": result.images_per_second,
               "eval_seconds": result.eval_seconds, "curve_points": curve_points(directory),
               "final_losses": result.final_losses, "device": str(trainer.device), **memory}
    atomic_write_json(train_file, summary)
    return summary


def execute(config: dict[str, Any], directory: str, progress: bool = False,
            threads: int | None = None) -> str:
    """Train and evaluate one job; a failure is recorded in failed.json, not raised."""
    if threads:
        torch.set_num_threads(threads)
    directory_ = Path(directory)
    run = RunConfig.from_dict(config)
    stage = "training"
    try:
        train_run(run, directory_, progress)
        stage = "evaluation"
        evaluate_run(directory_, device=run.train.device)
        return "done"
    except Exception as error:  # noqa: BLE001  (any failure is recorded; the suite goes on)
        log.error("%s failed during %s: %s", run.run_id, stage, error)
        atomic_write_json(directory_ / store.FAILED, {
            "run": run.run_id, "stage": stage, "error": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc()})
        return "failed"
