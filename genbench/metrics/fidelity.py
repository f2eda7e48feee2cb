"""FID, KID and precision/recall of generated images against real ones, in a feature space.

FID and KID are torch-fidelity's own functions on the features. Precision and
recall (Kynkäänniemi et al., 2019) are torch-fidelity's definition too, but
computed with `topk` where torch-fidelity calls `kthvalue`, which is 14x slower
on CPU; a test holds the two equal.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric

from genbench.errors import ConfigError
from genbench.metrics.features import FeatureSpace, extract_features, real_features

log = logging.getLogger(__name__)

MIN_MEANINGFUL_SAMPLES = 1000  # below this, FID's bias dominates differences between models
KID_SUBSETS = 100
NEIGHBOURHOOD = 3  # k of the k-NN balls of precision/recall


def kid_subset_size(n: int) -> int:
    """Subsets of at most 1000 and at most half the samples: the spread over subsets is then
    a real standard deviation, not zero (subsets equal to the whole set are all the same)."""
    return max(2, min(1000, n // 2))


def knn_radii(features: torch.Tensor, k: int, batch: int = 5000) -> torch.Tensor:
    """Distance of every point to its k-th nearest neighbour in its own set."""
    return torch.cat([torch.cdist(part, features).topk(k + 1, largest=False).values[:, -1]
                      for part in features.split(batch)])


def balls_holding(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                  batch: int = 2000) -> torch.Tensor:
    """For every point, how many of the balls B(centre_i, radius_i) hold it: int64 [len(points)].
    Balls are closed (<=), as torch-fidelity's."""
    return torch.cat([(torch.cdist(part, centres) <= radii).sum(1)
                      for part in points.split(batch)])


def _inside_any_ball(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> float:
    return float((balls_holding(points, centres, radii) > 0).float().mean())


def precision_recall(fake: torch.Tensor, real: torch.Tensor,
                     k: int = NEIGHBOURHOOD) -> dict[str, float]:
    precision = _inside_any_ball(fake, real, knn_radii(real, k))
    recall = _inside_any_ball(real, fake, knn_radii(fake, k))
    return {"precision": precision, "recall": recall,
            "f_score": 2 * precision * recall / max(1e-5, precision + recall)}


def fid_of_features(fake: torch.Tensor, real: torch.Tensor) -> float:
    """torch-fidelity's FID of two feature sets (float64 statistics)."""
    return float(fid_statistics_to_metric(fid_features_to_statistics(fake.double()),
                                          fid_features_to_statistics(real.double()),
                                          verbose=False)["frechet_inception_distance"])


def metrics_from_features(fake: torch.Tensor, real: torch.Tensor, kid_subset: int | None = None,
                          prc: bool = True) -> dict[str, float]:
    """FID, KID (mean and std over subsets) and, with `prc`, precision/recall/F."""
    n = min(len(fake), len(real))
    if n < 4:
        raise ConfigError("fidelity metrics need at least 4 generated and 4 real images")
    subset = kid_subset or kid_subset_size(n)
    kid = kid_features_to_metric(fake, real, kid_subsets=KID_SUBSETS, kid_subset_size=subset,
                                 verbose=False)
    out = {"fid": fid_of_features(fake, real),
           "kid": float(kid["kernel_inception_distance_mean"]),
           "kid_std": float(kid["kernel_inception_distance_std"]), "kid_subset": subset}
    if prc:
        out.update(precision_recall(fake, real))
    return out


def fidelity_metrics(generated: torch.Tensor, real: torch.Tensor, space: FeatureSpace,
                     real_cache_name: str | None = None, cache_root: Path | None = None,
                     batch_size: int = 500) -> dict[str, float]:
    """FID, KID (mean, std, subset size) and precision/recall/F of `generated` against `real`
    (uint8 images). With `real_cache_name`, real features are cached under `cache_root`."""
    if min(len(generated), len(real)) < 4:
        raise ConfigError("fidelity metrics need at least 4 generated and 4 real images")
    if len(generated) < MIN_MEANINGFUL_SAMPLES:
        log.info("FID on %d samples is strongly biased; use at least %d to compare models",
                 len(generated), MIN_MEANINGFUL_SAMPLES)
    reference = real_features(real, space, real_cache_name, cache_root, batch_size)
    return metrics_from_features(extract_features(generated, space, batch_size), reference)
