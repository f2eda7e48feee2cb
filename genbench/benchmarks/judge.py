"""The judge of a set of samples: every sample-quality number with its interval, density and
coverage, the copy and collapse checks, and FD/KID in the second feature space.

One function for every set of samples genbench measures (a trained run's, samples scored
from elsewhere), so that their numbers compare. Flat scalars go to metrics.json; the
per-sample evidence of the copy test (distances, nearest training images) stays in the
Judgement for the figures (visuals.pt).

Costs per run of 2,000 samples against 2,000 reference images in 128-d features (counted
operations, not timed): the bootstrap, BOOTSTRAP_ROUNDS rounds, ~25 GFLOP in float64 for the
six metrics of the run's space and ~20 GFLOP for FD/KID in the second space (each round's
covariances and kernel sums); the copy test, ~10 GFLOP (distances to 10,000 training images
of the samples and of the reference); the second space's extraction (30 GFLOP). Its KID is
the bootstrap's whole-set estimate: torch-fidelity's 100 subsets of 1,000 cost 77 GFLOP.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch

from genbench.benchmarks.inputs import RunInputs
from genbench.datasets import to_uint8
from genbench.errors import ConfigError
from genbench.metrics import (
    CopyReport,
    FeatureSpace,
    bootstrap_intervals,
    collapse_check,
    conditional_accuracy,
    copy_detection,
    extract_features,
    load_classifier,
    metrics_from_features,
)
from genbench.metrics.fidelity import MIN_MEANINGFUL_SAMPLES, precision_recall
from genbench.metrics.uncertainty import (
    BOOTSTRAP_METRICS,
    frechet_distance,
    kid_rounds,
    weighted_moments,
)

log = logging.getLogger(__name__)
BOOTSTRAP_ROUNDS = 100  # a 95% interval's ends from the 3rd and 97th of 100 resamples
MIN_SAMPLES = 6  # the bootstrap's and density's least: k = 5 neighbours need 6 points
SECOND_SPACE = "selfsupervised"  # metrics.json: fid_selfsupervised, kid_selfsupervised_lo ...
SECOND_SPACE_METRICS = ("fid", "kid")


@dataclass
class Judgement:
    metrics: dict[str, Any]  # flat scalars: metrics.json
    copies: CopyReport  # per-sample distances and nearest training images: the figures


def as_images(samples: torch.Tensor) -> torch.Tensor:
    """uint8 images on the CPU, from uint8 or from floats in [0, 1]."""
    return (samples if samples.dtype == torch.uint8 else to_uint8(samples.float())).cpu()


def judge_samples(samples: torch.Tensor, inputs: RunInputs, batch_size: int = 500,
                  labels: torch.Tensor | None = None) -> Judgement:
    """Every sample-quality number of `samples` (images in [0, 1] or uint8) against the run's
    reference: FID, KID, precision, recall, density, coverage with their bootstrap intervals,
    the copy and collapse checks, FD/KID in the second space, and conditional accuracy where
    `labels` are the classes the samples were generated for."""
    images, space = as_images(samples), inputs.space
    if min(len(images), len(inputs.reference)) < MIN_SAMPLES:
        raise ConfigError(f"sample quality needs at least {MIN_SAMPLES} samples and reference "
                          f"images, got {len(images)} and {len(inputs.reference)}: raise "
                          "fid_samples")
    if len(images) < MIN_MEANINGFUL_SAMPLES:
        log.info("FID on %d samples is strongly biased; use at least %d to compare models",
                 len(images), MIN_MEANINGFUL_SAMPLES)
    fake = extract_features(images, space, batch_size)
    real = inputs.reference_features(batch_size)
    metrics = scores_in_space(fake, real, BOOTSTRAP_METRICS)
    metrics.update(fid_extractor=space.extractor, fid_samples=len(images),
                   fid_reference=len(inputs.reference),
                   classifier_accuracy=space.classifier_accuracy)
    # The held-out control of the copy test is the reference: real images the model never
    # saw, and not those of the calibration's held-out row (drawn outside the reference).
    copies = copy_detection(fake, real, inputs.train_features(batch_size))
    metrics.update(copies.summary(), copy_candidates=len(inputs.copy_candidates))
    metrics.update(collapse_check(fake, real))
    if inputs.ssl_space is not None:
        metrics.update(second_space(images, inputs, inputs.ssl_space, batch_size))
    if labels is not None and space.extractor == "classifier":
        metrics["conditional_accuracy"] = conditional_accuracy(load_classifier(space.weights),
                                                               images, labels)
    return Judgement(metrics, copies)


def scores_in_space(fake: torch.Tensor, real: torch.Tensor, names: tuple[str, ...],
                    prc: bool = True) -> dict[str, Any]:
    """torch-fidelity's FID, KID (and, with `prc`, precision/recall/F), density/coverage
    where asked, and every asked metric's bootstrap interval (`<name>_lo`, `<name>_hi`)."""
    out: dict[str, Any] = metrics_from_features(fake, real, prc=prc)
    intervals = bootstrap_intervals(fake, real, names, rounds=BOOTSTRAP_ROUNDS)
    for name in names:  # the estimates of the k-NN metrics are the same; KID is the subsets'
        out.setdefault(name, intervals[name])
        out[f"{name}_lo"], out[f"{name}_hi"] = intervals[f"{name}_lo"], intervals[f"{name}_hi"]
    out.update(bootstrap_rounds=intervals["bootstrap_rounds"],
               bootstrap_level=intervals["bootstrap_level"])
    return out


def second_space(images: torch.Tensor, inputs: RunInputs, space: FeatureSpace,
                 batch_size: int) -> dict[str, float]:
    """FD and KID with their intervals in the second space: fid_selfsupervised, ..._lo/_hi.
    KID here is the unbiased MMD^2 on the whole sets (the bootstrap's own estimate; the same
    expectation as torch-fidelity's mean over subsets, without its 77 GFLOP of subsets)."""
    fake = extract_features(images, space, batch_size)
    scores = bootstrap_intervals(fake, inputs.reference_features(batch_size, space),
                                 SECOND_SPACE_METRICS, rounds=BOOTSTRAP_ROUNDS)
    return {f"{name}_{SECOND_SPACE}{end}": scores[f"{name}{end}"]
            for name in SECOND_SPACE_METRICS for end in ("", "_lo", "_hi")}


def whole_set_scores(fake: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    """FD and whole-set KID as second_space estimates them, with precision/recall (k = 3):
    the calibration's rows in the second space."""
    ones = [torch.ones(1, len(x), dtype=torch.float64) for x in (fake, real)]
    fd = frechet_distance(*weighted_moments(fake, ones[0]), *weighted_moments(real, ones[1]))
    return {"fid": float(fd[0]), "kid": float(kid_rounds(fake, real, *ones)[0]),
            **precision_recall(fake, real)}
