"""The judge: one object that measures every set of images genbench scores, so that their
numbers compare. A trained run's final samples, its quality-curve points, samples made
elsewhere (`genbench score`), and the real images that calibrate the judge (held-out,
blurred, noised, half the classes, training copies) all go through the same methods, in the
same feature spaces, against the same reference.

    judge.draw(model, n, seed)   a model's samples, checked as they come (finite, in [0, 1],
                                 the dataset's shape), as uint8, and the sampling rate
    judge.check(samples, who)    the same check for samples made elsewhere
    judge.curve_point(images)    FID with its interval and KID: a quality-curve point
    judge.judge(images, labels)  every sample-quality number: FID, KID, precision, recall,
                                 density, coverage with bootstrap intervals, the copy and
                                 collapse checks, the second space, FWD (the third, wavelet
                                 packets: no network), conditional accuracy, and the
                                 classifier's label statistics (confident share, classes
                                 covered, label KL: metrics/labels.py)
    judge.real_rows(images)      a calibration row per feature space (what judge() gives)

Costs per run of 2,000 samples against 2,000 reference images in 128-d features (counted
operations, not timed): the bootstrap, `bootstrap_rounds` rounds, ~25 GFLOP in float64 for
the six metrics of the run's space and ~20 GFLOP for FD/KID in the second space; the copy
test, ~10 GFLOP (distances to 10,000 training images of the samples and of the reference);
the second space's extraction (30 GFLOP). The second space's KID is the bootstrap's whole-set
estimate: torch-fidelity's 100 subsets of 1,000 cost 77 GFLOP. FWD (timed): ~0.05 s on one
thread (MNIST: 16 Haar packets of 49 coefficients), the reference's statistics once per judge.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch

from genbench.datasets import to_uint8
from genbench.errors import GenbenchError
from genbench.judge.inputs import RunInputs
from genbench.metrics import (
    CopyReport,
    FeatureSpace,
    PacketStats,
    bootstrap_intervals,
    collapse_check,
    copy_detection,
    density_coverage,
    extract_features,
    fwd,
    label_statistics,
    load_classifier,
    metrics_from_features,
    packet_statistics,
)
from genbench.metrics.fidelity import MIN_MEANINGFUL_SAMPLES, fid_of_features, precision_recall
from genbench.metrics.timing import generate
from genbench.metrics.uncertainty import BOOTSTRAP_METRICS, Reference, reference_side
from genbench.models import GenerativeModel

log = logging.getLogger(__name__)
MIN_SAMPLES = 6  # the bootstrap's and density's least: k = 5 neighbours need 6 points
SECOND_SPACE = "selfsupervised"  # metrics.json: fid_selfsupervised, kid_selfsupervised_lo ...
SECOND_SPACE_METRICS = ("fid", "kid")
CURVE_METRICS = ("kid", "kid_lo", "kid_hi", "fid", "fid_lo", "fid_hi")
WAVELET_SPACE = "wavelet"  # the third space: metrics.json's fwd; its calibration rows' fid


class SamplesRejected(GenbenchError, ValueError):
    """Samples the judge cannot measure: not finite, outside [0, 1], or the wrong shape. A
    model that makes them fails its run; the message names it and what was expected."""


@dataclass
class Judgement:
    metrics: dict[str, Any]  # flat scalars: metrics.json
    copies: CopyReport  # per-sample distances and nearest training images: the figures


@dataclass
class Judge:
    """Measures images against `inputs` (the reference, the feature spaces, the training
    images of the copy test), batching feature extraction by `batch_size`."""

    inputs: RunInputs
    batch_size: int = 500
    bootstrap_rounds: int = 100  # a 95% interval's ends from the 3rd and 97th of 100 resamples
    # the reference's wavelet-packet statistics, computed on first use (~0.05 s on MNIST: not
    # worth a file in the cache, unlike the network features that real_features caches)
    _wavelet_reference: PacketStats | None = field(default=None, init=False, repr=False,
                                                   compare=False)
    # per feature space, the reference's half of the bootstrap (its resampled moments and
    # KID terms): the same for every set of samples, so computed once per judge
    _references: dict[str, Reference] = field(default_factory=dict, init=False, repr=False,
                                              compare=False)

    @property
    def space(self) -> FeatureSpace:
        return self.inputs.space

    # -- what enters the judge -------------------------------------------------------------
    def check(self, samples: torch.Tensor, who: str) -> torch.Tensor:
        """`samples` as uint8 on the CPU, once they are what a dataset image is: the dataset's
        C×H×W, uint8 or floats that are finite and in [0, 1]."""
        want = tuple(self.inputs.train.image_shape)
        if samples.dim() != 4 or tuple(samples.shape[1:]) != want:
            raise SamplesRejected(f"{who} gave samples of shape {tuple(samples.shape)}; "
                                  f"expected N×{'×'.join(map(str, want))} (N×C×H×W, the "
                                  "dataset's images)")
        if samples.dtype == torch.uint8:
            return samples.cpu()
        if not samples.is_floating_point():
            raise SamplesRejected(f"{who} gave {samples.dtype} samples; expected floats in "
                                  "[0, 1] or uint8")
        finite = torch.isfinite(samples)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            raise SamplesRejected(f"{who} gave samples with {bad} NaN or infinite values; "
                                  "expected finite values in [0, 1]")
        low, high = float(samples.min()), float(samples.max())
        if low < 0 or high > 1:
            raise SamplesRejected(f"{who} gave samples ranging over [{low:.3g}, {high:.3g}]; "
                                  "expected [0, 1] (map [-1, 1] with (x + 1) / 2)")
        return to_uint8(samples.float()).cpu()

    def draw(self, model: GenerativeModel, n: int, seed: int = 0, who: str = "the model",
             labels: torch.Tensor | None = None) -> tuple[torch.Tensor, float]:
        """n checked samples of `model` as uint8 on the CPU, and its sampling rate in images
        per second (metrics.generate, each batch through check())."""
        return generate(model, n, self.batch_size, labels, seed,
                        check=lambda batch: self.check(batch, who))

    # -- the measurements ------------------------------------------------------------------
    def curve_point(self, images: torch.Tensor, cuda: bool = False) -> dict[str, Any]:
        """FID (torch-fidelity's) and KID with their bootstrap intervals: a quality-curve
        point, whose interval lets the rankings at a budget tie models within each other's
        noise. KID is the bootstrap's whole-set unbiased estimate (the expectation of
        torch-fidelity's mean over 100 subsets, which cost more than the rest of the point)."""
        fake = extract_features(images, self.space, self.batch_size, cuda=cuda)
        real = self.inputs.reference_features(self.batch_size)
        scores = bootstrap_intervals(fake, self.reference(), ("fid", "kid"),
                                     rounds=self.bootstrap_rounds)
        scores["fid"] = fid_of_features(fake, real)
        return {k: scores[k] for k in CURVE_METRICS}

    def reference(self, space: FeatureSpace | None = None) -> Reference:
        """The reference's half of the bootstrap in `space` (default: the run's), once."""
        space = space or self.space
        if space.extractor not in self._references:
            real = self.inputs.reference_features(self.batch_size, space)
            self._references[space.extractor] = reference_side(real, self.bootstrap_rounds)
        return self._references[space.extractor]

    def judge(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> Judgement:
        """Every sample-quality number of uint8 `images` against the run's reference,
        conditional accuracy where `labels` are the classes the samples were made for, and
        in the classifier's space, where the data has labels, its label statistics."""
        inputs = self.inputs
        if min(len(images), len(inputs.reference)) < MIN_SAMPLES:
            raise SamplesRejected(f"sample quality needs at least {MIN_SAMPLES} samples and "
                                  f"reference images, got {len(images)} and "
                                  f"{len(inputs.reference)}: raise fid_samples")
        if len(images) < MIN_MEANINGFUL_SAMPLES:
            log.info("FID on %d samples is strongly biased; use at least %d to compare models",
                     len(images), MIN_MEANINGFUL_SAMPLES)
        fake = extract_features(images, self.space, self.batch_size)
        real = inputs.reference_features(self.batch_size)
        metrics = self._scores(fake, BOOTSTRAP_METRICS, prc=True)
        metrics.update(fid_extractor=self.space.extractor, fid_samples=len(images),
                       fid_reference=len(inputs.reference),
                       classifier_accuracy=self.space.classifier_accuracy,
                       judge=inputs.judge_name)
        # The held-out control of the copy test is the reference: real images the model
        # never saw, and not those of the calibration's held-out row (drawn outside it).
        copies = copy_detection(fake, real, inputs.train_features(self.batch_size))
        metrics.update(copies.summary(), copy_candidates=len(inputs.copy_candidates))
        metrics.update(collapse_check(fake, real))
        if inputs.ssl_space is not None:
            metrics.update(self.second_space(images))
        metrics.update(self.wavelet_space(images))
        if self.space.extractor == "classifier":
            metrics.update(self.classifier_verdict(fake, labels))
        return Judgement(metrics, copies)

    def classifier_verdict(self, features: torch.Tensor,
                           labels: torch.Tensor | None = None) -> dict[str, Any]:
        """What the dataset classifier says the images are, from their features in its space
        (its head on them: no second pass of the network): conditional accuracy where
        `labels` are the classes asked for, and where the data has labels, confident_share,
        classes_covered (of num_classes) and label_kl against the training split's label
        histogram (metrics/labels.py)."""
        data_labels = self.inputs.train.labels
        if labels is None and data_labels is None:
            return {}
        head = load_classifier(self.space.weights).head.eval()
        with torch.no_grad():
            logits = head(features.to(next(head.parameters()).dtype).cpu())
        out: dict[str, Any] = {}
        if labels is not None:  # conditional_accuracy's definition, on the same logits
            out["conditional_accuracy"] = float((logits.argmax(1) == labels.cpu()).float().mean())
        if data_labels is not None:
            out.update(label_statistics(logits.softmax(1), data_labels))
        return out

    def second_space(self, images: torch.Tensor) -> dict[str, float]:
        """FD and KID with their intervals, precision, recall, density and coverage in the
        label-free space: fid_selfsupervised, ..._lo/_hi. KID here is the unbiased MMD^2 on
        the whole sets (the bootstrap's estimate; the expectation of torch-fidelity's mean
        over subsets, without its 77 GFLOP of subsets)."""
        space = self.inputs.ssl_space
        fake = extract_features(images, space, self.batch_size)
        real = self.inputs.reference_features(self.batch_size, space)
        scores = bootstrap_intervals(fake, self.reference(space), SECOND_SPACE_METRICS,
                                     rounds=self.bootstrap_rounds)
        out = {f"{name}_{SECOND_SPACE}{end}": scores[f"{name}{end}"]
               for name in SECOND_SPACE_METRICS for end in ("", "_lo", "_hi")}
        extra = {**precision_recall(fake, real), **density_coverage(fake, real)}
        out.update({f"{name}_{SECOND_SPACE}": value for name, value in extra.items()})
        return out

    def wavelet_space(self, images: torch.Tensor) -> dict[str, Any]:
        """FWD, the Fréchet Wavelet Distance to the reference (metrics/wavelet.py), with the
        wavelet and level it used: the space no trained network shapes."""
        if self._wavelet_reference is None:
            self._wavelet_reference = packet_statistics(self.inputs.reference)
        real = self._wavelet_reference
        fake = packet_statistics(images, real.level, real.wavelet)
        return {"fwd": fwd(fake, real), "fwd_wavelet": real.wavelet, "fwd_level": real.level}

    def real_rows(self, images: torch.Tensor) -> dict[str, dict[str, Any]]:
        """{feature space: row}: what judge() says of a set of real images, in each space (the
        second space's numbers under their plain names, FWD as the wavelet space's "fid"), for
        the calibration tables."""
        metrics = self.judge(images).metrics
        suffix = f"_{SECOND_SPACE}"
        rows = {self.space.extractor: {k: v for k, v in metrics.items()
                                       if suffix not in k and not k.startswith("fwd")}}
        if self.inputs.ssl_space is not None:
            rows[self.inputs.ssl_space.extractor] = {
                k.replace(suffix, ""): v for k, v in metrics.items() if suffix in k}
        rows[WAVELET_SPACE] = {"fid": metrics["fwd"], "wavelet": metrics["fwd_wavelet"],
                               "level": metrics["fwd_level"]}
        return rows

    def _scores(self, fake: torch.Tensor, names: tuple[str, ...], prc: bool) -> dict[str, Any]:
        """torch-fidelity's FID, KID (and, with `prc`, precision/recall/F) in the run's space,
        and every asked metric's bootstrap interval (`<name>_lo`, `<name>_hi`)."""
        real = self.inputs.reference_features(self.batch_size)
        out: dict[str, Any] = metrics_from_features(fake, real, prc=prc)
        intervals = bootstrap_intervals(fake, self.reference(), names,
                                        rounds=self.bootstrap_rounds)
        for name in names:  # the k-NN metrics' estimates are the same; KID is the subsets'
            out.setdefault(name, intervals[name])
            out[f"{name}_lo"], out[f"{name}_hi"] = intervals[f"{name}_lo"], intervals[f"{name}_hi"]
        out.update(bootstrap_rounds=intervals["bootstrap_rounds"],
                   bootstrap_level=intervals["bootstrap_level"])
        return out
