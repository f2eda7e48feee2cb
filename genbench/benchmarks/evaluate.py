"""Measure one trained run: every metric its model's capabilities allow.

Reads the run directory (config.json, checkpoint.pt, train.json) and writes
metrics.json (last, atomically: it marks the run complete) and visuals.pt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from genbench import datasets, models
from genbench.benchmarks import store
from genbench.benchmarks.visuals import run_visuals
from genbench.config import DataConfig, RunConfig
from genbench.datasets import ImageData
from genbench.io import (
    atomic_torch_save,
    atomic_write_json,
    cache_dir,
    read_json,
    torch_load,
    user_cache_dir,
)
from genbench.metrics import (
    ClassifierSettings,
    FeatureSpace,
    conditional_accuracy,
    fidelity_metrics,
    generate,
    inception_space,
    likelihood_metrics,
    likelihood_notes,
    load_classifier,
    load_or_train,
    parameter_count,
    reconstruction_metrics,
)
from genbench.training import load_sampling_weights, pick_device

log = logging.getLogger(__name__)


class RunIncomplete(RuntimeError):
    """The run directory has no finished training to evaluate."""


# Splits handed to this process instead of read from the data root (see provided_data).
_PROVIDED: dict[str, tuple[ImageData, ImageData]] = {}


def data_key(data: DataConfig) -> str:
    """What names a run's data: runs with equal keys train and measure on the same tensors."""
    return json.dumps([data.name, data.root, sorted(data.options.items()), data.max_train],
                      default=str)


@contextmanager
def provided_data(splits: dict[str, tuple[ImageData, ImageData]]) -> Iterator[None]:
    """Within the block, load_run_data returns these (train, test) splits, by data_key: a
    worker without the data files measures on the tensors its driver loaded."""
    _PROVIDED.update(splits)
    try:
        yield
    finally:
        for key in splits:
            _PROVIDED.pop(key, None)


def load_run_data(data: DataConfig) -> tuple[ImageData, ImageData]:
    """(training images, held-out images) of a run, the training ones capped at max_train."""
    if data_key(data) in _PROVIDED:
        return _PROVIDED[data_key(data)]
    train = datasets.load(data.name, "train", data.root, data.download, **data.options)
    test = datasets.load(data.name, "test", data.root, data.download, **data.options)
    if data.max_train:
        train = train.subset(data.max_train)
    return train, test


def data_cache(data: DataConfig) -> Path:
    """Where per-dataset artefacts (classifier, real features) are cached."""
    if datasets.get_spec(data.name).root_is_data:
        return user_cache_dir()
    return cache_dir(datasets.resolve_root(data.root))


def build_model(run: RunConfig, train: ImageData) -> models.GenerativeModel:
    torch.manual_seed(run.seed)  # identical initial weights for an identical seed
    return models.create(run.model, train.image_shape, train.num_classes, **run.model_config)


def training_data(run: RunConfig, model: models.GenerativeModel, train: ImageData) -> ImageData:
    """The images a model trains on: binarised for a likelihood of binary pixels when the run
    asks (data.binarize), as they come otherwise."""
    if model.likelihood and model.likelihood_kind() == "binary":
        return datasets.binarized(train, run.data.binarize)
    return train


def feature_space(run: RunConfig, train: ImageData, test: ImageData) -> FeatureSpace:
    """The run's FID feature space; trains and caches the dataset classifier on a miss."""
    if run.eval.extractor == "inception":
        return inception_space(run.eval.fid_weights)
    settings = ClassifierSettings(epochs=run.eval.classifier_epochs)
    path, accuracy = load_or_train(data_cache(run.data), train, test, settings)
    return FeatureSpace("classifier", path, accuracy)


def reference_images(run: RunConfig, test: ImageData) -> tuple[torch.Tensor, str]:
    """Real images FID compares against (held-out split), and their cache name."""
    reference = test.images[:run.eval.fid_samples]
    key = json.dumps([run.data.name, sorted(run.data.options.items()), "test", len(reference),
                      test.meta.get("num_images")], default=str)
    return reference, f"{run.data.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def evaluate_run(directory: str | Path, fid_weights: str | None = None,
                 device: str = "auto", data_root: str | None = None) -> dict[str, Any]:
    directory = Path(directory)
    try:
        config = read_json(directory / store.CONFIG)
    except FileNotFoundError:
        raise RunIncomplete(f"{directory} is not a genbench run directory (no "
                            f"{store.CONFIG})") from None
    run = RunConfig.from_dict(config)
    if fid_weights:
        run.eval.fid_weights = fid_weights
    if data_root:
        run.data.root = data_root
    checkpoint_path = directory / "checkpoint.pt"
    if not checkpoint_path.exists():
        raise RunIncomplete(f"{directory} has no checkpoint; train it first")
    checkpoint = torch_load(checkpoint_path, "checkpoint")
    if not checkpoint["state"].get("finished"):
        raise RunIncomplete(f"{directory}: training stopped at step "
                            f"{checkpoint['state']['step']} and did not finish; rerun the "
                            "benchmark (or `genbench train` with the same --out) to resume it")
    training = read_json(directory / store.TRAIN) if (directory / store.TRAIN).exists() else {}

    train, test = load_run_data(run.data)
    model = build_model(run, train).to(pick_device(device))
    load_sampling_weights(model, checkpoint)
    metrics, visuals = measure(model, run, train, test)
    metrics.update({k: training.get(k) for k in ("train_seconds", "train_steps", "train_epochs",
                                                 "train_images_per_second", "eval_seconds",
                                                 "curve_points", "peak_memory_mb",
                                                 "peak_memory_measure", "device")})
    atomic_torch_save(directory / store.VISUALS, visuals)
    atomic_write_json(directory / store.METRICS, metrics)
    return metrics


def measure(model: models.GenerativeModel, run: RunConfig, train: ImageData,
            test: ImageData) -> tuple[dict[str, Any], dict[str, Any]]:
    """All metrics of a trained model, and the tensors of its figures."""
    e = run.eval
    held_out = test.subset(run.data.max_test) if run.data.max_test else test
    metrics: dict[str, Any] = {
        "run": run.run_id, "model": run.name, "family": run.model, "dataset": run.data.name,
        "seed": run.seed, "capabilities": model.capabilities(),
        "num_train": len(train), "num_test": len(held_out),
        "image_shape": list(train.image_shape), "params": parameter_count(model),
    }
    samples, metrics["sample_images_per_second"] = generate(model, e.fid_samples, e.batch_size,
                                                            seed=run.seed)
    space = feature_space(run, train, test)
    reference, cache_name = reference_images(run, test)
    metrics.update(fidelity_metrics(samples, reference, space, cache_name, data_cache(run.data),
                                    e.batch_size))
    metrics.update(fid_extractor=space.extractor, fid_samples=len(samples),
                   fid_reference=len(reference), classifier_accuracy=space.classifier_accuracy)
    if model.conditional and space.extractor == "classifier":
        labels = torch.arange(len(samples)) % model.num_classes
        metrics["conditional_accuracy"] = conditional_accuracy(load_classifier(space.weights),
                                                               samples, labels)
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
    visuals = run_visuals(model, held_out, samples, run.seed) if e.visuals else {}
    return metrics, visuals
