"""What a run is measured against: its training and held-out images, its feature space, the
reference images FID compares with, and the cache their features live in.

One function assembles them and one key names them, for every stage that needs them: the
runner (once per key, before jobs fan out, so that missing data fails early and workers never
race on caches), the job and its quality curve, evaluation, and the Ray executor (which ships
the splits to workers by key, so a worker without the data files measures on the driver's
tensors).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from genbench import datasets
from genbench.config import DataConfig, RunConfig
from genbench.datasets import ImageData
from genbench.io import cache_dir, user_cache_dir
from genbench.metrics import (
    ClassifierSettings,
    FeatureSpace,
    inception_space,
    load_or_train,
    real_features,
)

Splits = tuple[ImageData, ImageData]  # (training images, held-out images)


@dataclass(frozen=True)
class RunInputs:
    key: str
    train: ImageData  # capped at data.max_train
    test: ImageData  # the whole held-out split
    held_out: ImageData  # capped at data.max_test: reconstruction, likelihood, figures
    space: FeatureSpace
    reference: torch.Tensor  # the held-out images sample quality is measured against
    reference_name: str  # their name in the feature cache
    cache: Path  # per-dataset artefacts: the classifier, real features

    def reference_features(self, batch_size: int = 500) -> torch.Tensor:
        """The reference's features in the run's space, cached."""
        return real_features(self.reference, self.space, self.reference_name, self.cache,
                             batch_size)


def inputs_key(run: RunConfig) -> str:
    """What names a run's inputs: runs with equal keys are measured against the same things."""
    d, e = run.data, run.eval
    return json.dumps([d.name, d.root, sorted(d.options.items()), d.max_train, d.max_test,
                       e.extractor, e.fid_samples, e.classifier_epochs, e.fid_weights],
                      default=str)


def load_splits(data: DataConfig) -> Splits:
    """(training images, held-out images), the training ones capped at max_train."""
    train = datasets.load(data.name, "train", data.root, data.download, **data.options)
    test = datasets.load(data.name, "test", data.root, data.download, **data.options)
    return (train.subset(data.max_train) if data.max_train else train), test


def inputs_for(run: RunConfig, splits: Splits | None = None) -> RunInputs:
    """Everything `run` is measured against; `splits` when the driver loaded them already.
    Trains and caches the dataset classifier on a cache miss."""
    train, test = splits if splits is not None else load_splits(run.data)
    cache = data_cache(run.data)
    reference = test.images[:run.eval.fid_samples]
    name = json.dumps([run.data.name, sorted(run.data.options.items()), "test", len(reference),
                       test.meta.get("num_images")], default=str)
    return RunInputs(
        key=inputs_key(run), train=train, test=test,
        held_out=test.subset(run.data.max_test) if run.data.max_test else test,
        space=_feature_space(run, train, test, cache), reference=reference,
        reference_name=f"{run.data.name}-{hashlib.sha256(name.encode()).hexdigest()[:12]}",
        cache=cache)


def data_cache(data: DataConfig) -> Path:
    """Where per-dataset artefacts (classifier, real features) are cached."""
    if datasets.get_spec(data.name).root_is_data:
        return user_cache_dir()
    return cache_dir(datasets.resolve_root(data.root))


def _feature_space(run: RunConfig, train: ImageData, test: ImageData,
                   cache: Path) -> FeatureSpace:
    if run.eval.extractor == "inception":
        return inception_space(run.eval.fid_weights)
    settings = ClassifierSettings(epochs=run.eval.classifier_epochs)
    path, accuracy = load_or_train(cache, train, test, settings)
    return FeatureSpace("classifier", path, accuracy)
