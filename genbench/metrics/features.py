"""Feature spaces for FID/KID/PR: torch-fidelity extractors, and a cache of real features.

`inception`: torch-fidelity's own Inception-v3 (the standard FID network),
weights downloaded or read from a local file. `classifier`: the dataset's own
CNN (see classifier.py), registered as a torch-fidelity feature extractor so
that the very same extraction and metric code runs on its penultimate features.
Figures from different feature spaces are never comparable, so every result
carries the name of its space and its sample count.
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor
from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

from genbench.errors import GenbenchError
from genbench.io import load_checksummed, save_checksummed, torch_load
from genbench.metrics.classifier import load_classifier

log = logging.getLogger(__name__)

CLASSIFIER_EXTRACTOR = "genbench-classifier"
INCEPTION_EXTRACTOR = "inception-v3-compat"
EXTRACTORS = ("classifier", "inception")


class FidelityError(GenbenchError, RuntimeError):
    """A feature extractor cannot be built (weights missing, damaged or not downloadable)."""


class NetFeatures(FeatureExtractorBase):
    """torch-fidelity's view of a network genbench trains (the dataset classifier, the
    self-supervised encoder): one weights file, features from the layer named "features",
    never compiled."""

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return "features"

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return None


class ClassifierFeatures(NetFeatures):
    """torch-fidelity view of a genbench dataset classifier (weights path required)."""

    def __init__(self, name: str, features_list: list[str],
                 feature_extractor_weights_path: str | None = None, **kwargs) -> None:
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise FidelityError("the classifier feature extractor needs its weights file")
        self.net = load_classifier(feature_extractor_weights_path).for_inference()

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return ("features", "logits")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features, logits = self.net(x)
        out = {"features": features, "logits": logits}
        return tuple(out[name] for name in self.features_list)


if CLASSIFIER_EXTRACTOR not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor(CLASSIFIER_EXTRACTOR, ClassifierFeatures)


@dataclass(frozen=True)
class FeatureSpace:
    """Which network turns images into features, and the weights it uses."""

    extractor: str  # "classifier" or "inception"
    weights: Path | None = None  # classifier file; Inception file (None: download)
    classifier_accuracy: float | None = None

    @property
    def torch_fidelity_name(self) -> str:
        return CLASSIFIER_EXTRACTOR if self.extractor == "classifier" else INCEPTION_EXTRACTOR

    @property
    def layer(self) -> str:
        return "features" if self.extractor == "classifier" else "2048"

    @property
    def fingerprint(self) -> str:
        """Identity of the weights, so that cached real features follow them: their checksum
        where genbench keeps one (the same wherever the file is copied), else path, size, time."""
        if self.weights is None:
            return self.extractor
        path = Path(self.weights)
        checksum = Path(f"{path}.sha256")
        if checksum.exists():
            key = checksum.read_text().strip()
        else:
            stat = path.stat()
            key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        return f"{self.extractor}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def inception_space(weights: str | Path | None = None) -> FeatureSpace:
    """The standard FID network; `weights` (or $GENBENCH_FID_WEIGHTS) is a local file."""
    weights = weights or os.environ.get("GENBENCH_FID_WEIGHTS") or None
    if weights is not None:
        weights = Path(weights).expanduser()
        if not weights.is_file():
            raise FidelityError(f"Inception weights file {weights} does not exist; pass the "
                                "path of torch-fidelity's weights-inception-2015-12-05 .pth file "
                                "to --fid-weights, or use --extractor classifier")
        torch_load(weights, "Inception weights")  # a clear error now, not deep in torch-fidelity
    return FeatureSpace("inception", weights)


class _Images(Dataset):
    """uint8 images as torch-fidelity expects them (3 channels for Inception)."""

    def __init__(self, images: torch.Tensor, rgb: bool) -> None:
        if images.dtype != torch.uint8:
            raise TypeError(f"fidelity metrics take uint8 images, got {images.dtype}")
        self.images = images.cpu()
        self.rgb = rgb and images.shape[1] == 1

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        x = self.images[i]
        return x.expand(3, -1, -1) if self.rgb else x


# One extractor per (space, device), built once per process: building Inception or
# loading a classifier costs more than extracting a curve point's features.
_EXTRACTORS: dict[tuple[FeatureSpace, bool], FeatureExtractorBase] = {}


def _extractor(space: FeatureSpace, cuda: bool) -> FeatureExtractorBase:
    key = (space, cuda)
    if key not in _EXTRACTORS:
        try:
            _EXTRACTORS[key] = create_feature_extractor(
                space.torch_fidelity_name, [space.layer], cuda=cuda, verbose=False,
                feature_extractor_weights_path=str(space.weights) if space.weights else None)
        except (urllib.error.URLError, ConnectionError) as error:
            raise FidelityError(
                f"the Inception-v3 FID weights could not be downloaded ({error}). Offline, pass "
                "a local copy with --fid-weights FILE (or $GENBENCH_FID_WEIGHTS), or use "
                "--extractor classifier") from error
    return _EXTRACTORS[key]


def extract_features(images: torch.Tensor, space: FeatureSpace, batch_size: int = 500,
                     cuda: bool | None = None) -> torch.Tensor:
    """Feature vectors [N, D] (float32, CPU) of uint8 images in the space, by torch-fidelity."""
    cuda = torch.cuda.is_available() if cuda is None else cuda
    dataset = _Images(images, rgb=space.extractor == "inception")
    # Building the extractor initialises a network and torch-fidelity's DataLoader draws its
    # base seed: from a forked stream, so that whether the real features were cached (or the
    # extractor already built) never shifts the random numbers of the run that asked.
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if cuda else []):
        out = get_featuresdict_from_dataset(dataset, _extractor(space, cuda), batch_size, cuda,
                                            save_cpu_ram=True, verbose=False)
    return out[space.layer].float()


def _features_file(space: FeatureSpace, cache_name: str, cache_root: Path) -> Path:
    return Path(cache_root) / f"genbench-{cache_name}-{space.fingerprint}.pt"


def real_features(images: torch.Tensor, space: FeatureSpace, cache_name: str | None = None,
                  cache_root: Path | None = None, batch_size: int = 500) -> torch.Tensor:
    """Features of real images, cached (checksummed) per dataset, split and feature space:
    every evaluation of every run compares against the same ones, extracted once."""
    if cache_name is None or cache_root is None:
        return extract_features(images, space, batch_size)
    path = _features_file(space, cache_name, cache_root)
    cached = load_checksummed(path)
    if cached is not None and len(cached) == len(images):
        return cached
    if path.exists():
        log.warning("cached real features %s were damaged; recomputing them", path)
    features = extract_features(images, space, batch_size)
    save_checksummed(path, features)
    return features


def cached_files(space: FeatureSpace, cache_name: str, cache_root: Path) -> list[Path]:
    """The files under `cache_root` that a job measuring against this reference reads: the
    cached real features, and the classifier's weights, each with its checksum."""
    features = _features_file(space, cache_name, cache_root)
    files = [features, Path(f"{features}.sha256")]
    if space.weights is not None and Path(cache_root) in Path(space.weights).parents:
        files += [Path(space.weights), Path(f"{space.weights}.sha256")]
    return [p for p in files if p.exists()]
