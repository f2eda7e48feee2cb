"""Measure one trained run: every metric its model's capabilities allow.

Reads the run directory (config.json, checkpoint.pt, train.json) and writes
metrics.json (last, atomically: it marks the run complete) and visuals.pt.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import torch

from genbench import models, plugins
from genbench.benchmarks import store
from genbench.benchmarks.build import load_trained
from genbench.benchmarks.nfe import write_sweep
from genbench.benchmarks.visuals import judge_visuals, run_visuals
from genbench.io import atomic_torch_save, atomic_write_json, read_json
from genbench.judge import Judge, inputs_for, judge_of
from genbench.metrics import (
    likelihood_metrics,
    likelihood_notes,
    parameter_count,
    reconstruction_metrics,
)
from genbench.metrics.timing import sampling_flops
from genbench.settings import RunConfig

log = logging.getLogger(__name__)
# What training measured, carried into metrics.json beside what evaluation measures.
FROM_TRAINING = ("train_seconds", "train_steps", "train_epochs", "train_images",
                 "train_images_per_second", "train_flops", "flops_per_step", "stopped", "stop_rule",
                 "eval_seconds", "sampler_prepare_seconds", "curve_points", "peak_memory_mb",
                 "peak_memory_measure", "device", "threads", "machine")


def evaluate_run(directory: str | Path, changes: dict[str, dict[str, Any]] | None = None
                 ) -> dict[str, Any]:
    """Measure the trained run in `directory` (`genbench evaluate`); `changes` to its
    configuration that do not alter its results (a moved data root, local FID weights)."""
    directory = Path(directory)
    run = RunConfig.from_dict(store.read_config(directory)).changed(changes or {})
    return evaluate(run, directory, judge_of(run, inputs_for(run)))


def evaluate(run: RunConfig, directory: Path, judge: Judge,
             model: models.GenerativeModel | None = None,
             training: dict[str, Any] | None = None) -> dict[str, Any]:
    """metrics.json and visuals.pt of a trained run: its `model` with its sampling weights
    and `training` summary where the job has them, else read from the run directory."""
    if model is None:
        model = load_trained(run, directory, judge.inputs.train, run.train.device)
    if training is None:
        path = directory / store.TRAIN
        training = read_json(path) if path.exists() else {}
    start = time.perf_counter()
    metrics, visuals = measure(model, run, judge)
    metrics["final_eval_seconds"] = time.perf_counter() - start
    if run.eval.nfe:  # its own time: a study of sampling cost, not the run's evaluation
        metrics.update(write_sweep(directory, model, judge, run.eval.nfe, run.eval.nfe_samples,
                                   run.seed, who=f"model {run.name!r}"))
    metrics.update({k: training.get(k) for k in FROM_TRAINING})
    atomic_torch_save(directory / store.VISUALS, visuals)
    atomic_write_json(directory / store.METRICS, metrics)
    return metrics


def measure(model: models.GenerativeModel, run: RunConfig,
            judge: Judge) -> tuple[dict[str, Any], dict[str, Any]]:
    """All metrics of a trained model, and the tensors of its figures."""
    e, inputs = run.eval, judge.inputs
    held_out = inputs.held_out
    metrics: dict[str, Any] = {
        "run": run.run_id, "model": run.name, "family": run.model, "dataset": run.data.name,
        "seed": run.seed, "capabilities": model.capabilities(),
        # where the model's class came from: a plug-in's .py path or module (which `--plugin`
        # reopens the run with), else genbench's own module
        "model_source": plugins.origin(type(model).__module__),
        "num_train": len(inputs.train), "num_test": len(held_out),
        "image_shape": list(inputs.train.image_shape), "params": parameter_count(model),
    }
    samples, metrics["sample_images_per_second"] = judge.draw(model, e.fid_samples, run.seed,
                                                              who=f"model {run.name!r}")
    metrics["sample_flops"] = sampling_flops(model)
    metrics.update(model.sampler_cost())  # a latent sampler's fitting, where the model has one
    labels = (torch.arange(len(samples)) % model.num_classes) if model.conditional else None
    judgement = judge.judge(samples, labels)
    metrics.update(judgement.metrics)
    if model.reconstructs:
        torch.manual_seed(run.seed)
        metrics.update(reconstruction_metrics(model, held_out.images, held_out.labels,
                                              e.batch_size))
    if model.likelihood:
        torch.manual_seed(run.seed)
        images = held_out.subset(e.nll_images)
        ks = (1, e.nll_k) if e.nll_k > 1 else (1,)
        metrics.update(likelihood_metrics(model, images.images, ks, max(1, e.batch_size // 4)))
        metrics.update(likelihood_notes(model, run.data.name, run.data.binarize))
    bad = [k for k, v in metrics.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        log.warning("%s: non-finite metrics %s", run.run_id, bad)
    visuals = {}
    if e.visuals:
        visuals = run_visuals(model, held_out, samples, run.seed)
        visuals.update(judge_visuals(judgement, samples, inputs.copy_candidates))
    return metrics, visuals
