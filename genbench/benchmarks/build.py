"""A run's model and the images it trains on, built from its configuration, and a trained
run's model loaded back from its directory."""

from __future__ import annotations

from pathlib import Path

import torch

from genbench import datasets, models
from genbench.benchmarks import store
from genbench.datasets import ImageData
from genbench.errors import GenbenchError
from genbench.io import torch_load
from genbench.settings import RunConfig
from genbench.training import lay_out, load_sampling_weights, pick_device


class RunIncomplete(GenbenchError, RuntimeError):
    """The run directory has no finished training to evaluate."""


def build_model(run: RunConfig, train: ImageData) -> models.GenerativeModel:
    """The run's model, freshly initialised. Seeds the global generator with the run's seed:
    identical initial weights, and an identical training stream after them, for a seed."""
    torch.manual_seed(run.seed)
    return models.create(run.model, train.image_shape, train.num_classes, **run.model_config)


def training_data(run: RunConfig, model: models.GenerativeModel, train: ImageData) -> ImageData:
    """The images a model trains on: binarised for a likelihood of binary pixels when the run
    asks (data.binarize), as they come otherwise. The family's decoder decides, not whether
    this instance reports a likelihood (a VAE sampled through a fitted latent sampler trains
    exactly as the VAE does)."""
    if type(model).likelihood and model.likelihood_kind() == "binary":
        return datasets.binarized(train, run.data.binarize)
    return train


def load_trained(run: RunConfig, directory: Path, train: ImageData,
                 device: str = "auto") -> models.GenerativeModel:
    """The run's model with its sampling weights (EMA where kept), once training finished."""
    path = directory / store.CHECKPOINT
    if not path.exists():
        raise RunIncomplete(f"{directory} has no {store.CHECKPOINT}; train it first")
    checkpoint = torch_load(path, "checkpoint")
    if not checkpoint["state"].get("finished"):
        raise RunIncomplete(f"{directory}: training stopped at step "
                            f"{checkpoint['state']['step']} and did not finish; rerun the "
                            "benchmark (or `genbench train` with the same --out) to resume it")
    model = build_model(run, train).to(pick_device(device))
    lay_out(model, run.train.channels_last)  # as it trained and sampled: the same rounding
    load_sampling_weights(model, checkpoint)
    return model
