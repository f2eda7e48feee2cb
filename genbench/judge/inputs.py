"""What a run is measured against: its training and held-out images, its feature spaces, the
reference images FID compares with, and the cache their features live in.

One function assembles them and one key names them, for every stage that needs them: the
runner (once per key, before jobs fan out, so that missing data fails early and workers never
race on caches), the job and its quality curve, evaluation, and the Ray executor (which ships
the splits to workers by key, so a worker without the data files measures on the driver's
tensors).

Two feature spaces: the run's own (the dataset classifier, or Inception) and a second one
learnt without labels (metrics/selfsupervised.py), in which FD and KID are reported beside
the first's. The copy test compares samples with the first `copy_train` training images
(EvalConfig).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from genbench import datasets
from genbench.datasets import ImageData
from genbench.io import cache_dir, user_cache_dir
from genbench.judge.shipped import shipped_judge
from genbench.metrics import (
    ClassifierSettings,
    FeatureSpace,
    SelfSupervisedSettings,
    inception_space,
    load_or_train,
    real_features,
    selfsupervised_space,
)
from genbench.settings import DataConfig, RunConfig

Splits = tuple[ImageData, ImageData]  # (training images, held-out images)
HELD_OUT_SEED = 0


@dataclass(frozen=True)
class RunInputs:
    key: str
    train: ImageData  # capped at data.max_train
    test: ImageData  # the whole held-out split
    held_out: ImageData  # capped at data.max_test: reconstruction, likelihood, figures
    space: FeatureSpace
    reference: torch.Tensor  # the held-out images sample quality is measured against
    reference_name: str  # their name in the feature cache
    cache: Path  # per-dataset artefacts: the classifier, the encoder, real features
    ssl_space: FeatureSpace | None = None  # the second feature space, learnt without labels
    copy_train: int = 10_000  # the training images the copy test compares samples with
    # Which judge: a shipped one's name and hashes (judge/shipped.py), or the networks'
    # fingerprints where they were trained here. In every metrics.json and caption.
    judge_name: str = ""

    def reference_features(self, batch_size: int = 500,
                           space: FeatureSpace | None = None) -> torch.Tensor:
        """The reference's features in `space` (default: the run's), cached."""
        return real_features(self.reference, space or self.space, self.reference_name,
                             self.cache, batch_size)

    @property
    def copy_candidates(self) -> torch.Tensor:
        """The training images the copy test compares samples with: the first copy_train."""
        return self.train.images[:self.copy_train]

    @property
    def train_name(self) -> str:
        """The copy candidates' name in the feature cache (their own, beside the reference's)."""
        meta = self.train.meta
        return _cache_name(meta.get("name"), meta.get("options", {}), "train",
                           len(self.copy_candidates), meta.get("num_images"))

    def train_features(self, batch_size: int = 500) -> torch.Tensor:
        """The copy candidates' features in the run's space, cached."""
        return real_features(self.copy_candidates, self.space, self.train_name, self.cache,
                             batch_size)


def inputs_key(run: RunConfig) -> str:
    """What names a run's inputs: runs with equal keys are measured against the same things."""
    d, e = run.data, run.eval
    return json.dumps([d.name, d.root, sorted(d.options.items()), d.max_train, d.max_test,
                       e.extractor, e.fid_samples, e.classifier_epochs, e.fid_weights,
                       e.copy_train, e.selfsupervised_steps],
                      default=str)


def load_splits(data: DataConfig) -> Splits:
    """(training images, held-out images), the training ones capped at max_train, the held-out
    ones in a fixed random order (held_out_order)."""
    train = datasets.load(data.name, "train", data.root, data.download, **data.options)
    test = datasets.load(data.name, "test", data.root, data.download, **data.options)
    return (train.subset(data.max_train) if data.max_train else train), held_out_order(test)


def held_out_order(test: ImageData) -> ImageData:
    """The held-out split in the one random order every judge reads it in: its first
    fid_samples images are the reference, the calibration's sets are drawn from the rest.
    MNIST's test split holds 5,000 digits of Census employees, then 5,000 of students
    (LeCun et al.): in file order the reference would be the first population alone, and
    held-out images of the second would score far above it (FWD 0.02 for test[2000:4000],
    0.22-0.38 for blocks past 5,000, 2026-12-07)."""
    return test.shuffled(HELD_OUT_SEED)


def inputs_for(run: RunConfig, splits: Splits | None = None) -> RunInputs:
    """Everything `run` is measured against; `splits` when the driver loaded them already.
    Trains and caches the dataset classifier and the self-supervised encoder on a miss."""
    train, test = splits if splits is not None else load_splits(run.data)
    cache = data_cache(run.data)
    reference = test.images[:run.eval.fid_samples]
    inception = run.eval.extractor == "inception"
    shipped = shipped_judge(run.data.name, run.data.options)
    if shipped is not None:
        space, ssl_space = shipped.spaces()
        name = shipped.name
    else:  # trained here, once, and cached (no classifier where Inception replaces it)
        space = None if inception else _classifier_space(run, train, test, cache)
        ssl_space = selfsupervised_space(cache, train, ssl_settings(run, train))
        name = f"trained here ({', '.join(s.fingerprint for s in (space, ssl_space) if s)})"
    if inception:
        space = inception_space(run.eval.fid_weights)
        name = f"Inception-v3 (torch-fidelity) and {name}"
    return RunInputs(
        key=inputs_key(run), train=train, test=test,
        held_out=test.subset(run.data.max_test) if run.data.max_test else test,
        space=space, reference=reference,
        reference_name=_cache_name(run.data.name, run.data.options, "test", len(reference),
                                   test.meta.get("num_images"), test.meta.get("shuffled")),
        cache=cache,
        ssl_space=ssl_space, copy_train=run.eval.copy_train, judge_name=name)


def ssl_settings(run: RunConfig, train: ImageData) -> SelfSupervisedSettings:
    """The encoder's budget: the classifier's epochs over `train`, at most the run's
    selfsupervised_steps."""
    settings = SelfSupervisedSettings()
    per_epoch = max(1, len(train) // settings.batch_size)
    return replace(settings, steps=max(1, min(run.eval.selfsupervised_steps,
                                              run.eval.classifier_epochs * per_epoch)))


def _cache_name(dataset: str, options: dict, split: str, count: int,
                num_images: int | None, shuffled: int | None = None) -> str:
    """A set of real images' name in the feature cache: dataset, options, split, count (and
    the order's seed, for a shuffled split)."""
    fields = [dataset, sorted(options.items()), split, count, num_images]
    name = json.dumps(fields + ([shuffled] if shuffled is not None else []), default=str)
    return f"{dataset}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"


def data_cache(data: DataConfig) -> Path:
    """Where per-dataset artefacts (classifier, encoder, real features) are cached."""
    if datasets.get_spec(data.name).root_is_data:
        return user_cache_dir()
    return cache_dir(datasets.resolve_root(data.root))


def _classifier_space(run: RunConfig, train: ImageData, test: ImageData,
                      cache: Path) -> FeatureSpace:
    settings = ClassifierSettings(epochs=run.eval.classifier_epochs)
    path, accuracy = load_or_train(cache, train, test, settings)
    return FeatureSpace("classifier", path, accuracy)
