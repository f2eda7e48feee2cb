"""FID, KID and precision/recall through torch-fidelity, with genbench's two feature spaces.

`inception`: torch-fidelity's own Inception-v3 (the standard FID network),
weights downloaded or read from a local file. `classifier`: the dataset's own
CNN (see classifier.py), registered as a torch-fidelity feature extractor so
that the very same FID/KID/PR code runs on its penultimate features.
Figures from different feature spaces are never comparable, so every result
carries the name of its space and its sample count.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import torch
import torch_fidelity
from torch.utils.data import Dataset
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from genbench.io import torch_load
from genbench.metrics.classifier import load_classifier

log = logging.getLogger(__name__)

CLASSIFIER_EXTRACTOR = "genbench-classifier"
INCEPTION_EXTRACTOR = "inception-v3-compat"
EXTRACTORS = ("classifier", "inception")
MIN_MEANINGFUL_SAMPLES = 1000  # below this, FID's bias dominates differences between models


class FidelityError(RuntimeError):
    """A feature extractor cannot be built (weights missing, damaged or not downloadable)."""


class ClassifierFeatures(FeatureExtractorBase):
    """torch-fidelity view of a genbench dataset classifier (weights path required)."""

    _loaded: dict[str, torch.nn.Module] = {}

    def __init__(self, name: str, features_list: list[str],
                 feature_extractor_weights_path: str | None = None, **kwargs) -> None:
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise FidelityError("the classifier feature extractor needs its weights file")
        path = str(feature_extractor_weights_path)
        if path not in self._loaded:
            self._loaded[path] = load_classifier(path)
        # A copy per extractor: torch-fidelity moves its extractor to the GPU in place, and
        # a shared module would follow it there, under the next CPU extraction's feet.
        self.net = copy.deepcopy(self._loaded[path])
        self.requires_grad_(False)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return ("features", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return "features"

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return None

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
    def fingerprint(self) -> str:
        """Identity of the weights, so that cached real statistics follow them."""
        if self.weights is None:
            return self.extractor
        stat = Path(self.weights).stat()
        key = f"{Path(self.weights).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
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


def fidelity_metrics(generated: torch.Tensor, real: torch.Tensor, space: FeatureSpace,
                     real_cache_name: str | None = None, cache_root: Path | None = None,
                     batch_size: int = 500) -> dict[str, float]:
    """FID, KID (mean, std) and precision/recall/F of `generated` against `real` (uint8).

    With `real_cache_name`, the real features are cached under `cache_root`, so
    they are extracted once per dataset, split and feature space.
    """
    n = min(len(generated), len(real))
    if n < 2:
        raise ValueError("fidelity metrics need at least 2 generated and 2 real images")
    if len(generated) < MIN_MEANINGFUL_SAMPLES:
        log.info("FID on %d samples is strongly biased; use at least %d to compare models",
                    len(generated), MIN_MEANINGFUL_SAMPLES)
    rgb = space.extractor == "inception"
    cache_name = f"genbench-{real_cache_name}-{space.fingerprint}" if real_cache_name else None
    kwargs = dict(
        input1=_Images(generated, rgb), input2=_Images(real, rgb),
        fid=True, kid=True, prc=True, kid_subset_size=min(1000, n),
        feature_extractor=space.torch_fidelity_name,
        feature_extractor_weights_path=str(space.weights) if space.weights else None,
        cuda=torch.cuda.is_available(), batch_size=batch_size, save_cpu_ram=True,
        verbose=False, cache=cache_name is not None, input2_cache_name=cache_name,
        cache_root=str(cache_root) if cache_root else None,
    )
    try:
        result = _calculate(kwargs)
    except (EOFError, RuntimeError, OSError) as error:
        if cache_name is None or not _drop_cache(cache_root, cache_name):
            raise
        log.warning("cached real features for %s were damaged (%s); recomputed", cache_name,
                    error)
        result = _calculate(kwargs)
    return {
        "fid": float(result["frechet_inception_distance"]),
        "kid": float(result["kernel_inception_distance_mean"]),
        "kid_std": float(result["kernel_inception_distance_std"]),
        "precision": float(result["precision"]),
        "recall": float(result["recall"]),
        "f_score": float(result["f_score"]),
    }


def _calculate(kwargs: dict) -> dict:
    try:
        return torch_fidelity.calculate_metrics(**kwargs)
    except (urllib.error.URLError, ConnectionError) as error:
        raise FidelityError(
            f"the Inception-v3 FID weights could not be downloaded ({error}). Offline, pass a "
            "local copy with --fid-weights FILE (or $GENBENCH_FID_WEIGHTS), or use "
            "--extractor classifier") from error


def _drop_cache(cache_root: Path | None, cache_name: str) -> bool:
    if cache_root is None:
        return False
    stale = list(Path(cache_root).glob(f"{cache_name}-*"))
    for path in stale:
        path.unlink(missing_ok=True)
    return bool(stale)


def extract_features(images: torch.Tensor, space: FeatureSpace,
                     batch_size: int = 500) -> torch.Tensor:
    """The feature vectors the metrics above use (for independent checks and plots)."""
    from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

    layer = "features" if space.extractor == "classifier" else "2048"
    extractor = create_feature_extractor(
        space.torch_fidelity_name, [layer], cuda=False,
        feature_extractor_weights_path=str(space.weights) if space.weights else None,
        verbose=False)
    out = get_featuresdict_from_dataset(_Images(images, space.extractor == "inception"),
                                        extractor, batch_size, cuda=False, save_cpu_ram=True,
                                        verbose=False)
    return out[layer]
