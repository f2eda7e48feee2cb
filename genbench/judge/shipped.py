"""The judges genbench ships, frozen: for MNIST and Fashion-MNIST, the dataset classifier and
the label-free encoder, trained once with `genbench judge train DATASET` and stored in the
package beside a manifest (version, sha256, recipe, test accuracy, calibration figures).

A frozen judge is what makes two users' numbers comparable, as Inception-FID is for natural
images: the same weights, byte for byte (sha256), whoever runs the benchmark and wherever.
It also spares every new user the minutes of training a judge. A dataset without a shipped
judge (or with options, which change its images) trains its own, cached (judge/inputs.py).

The manifest is JSON and the weights load with weights_only=True: nothing shipped runs code.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genbench.datasets import ImageData
from genbench.errors import GenbenchError
from genbench.io import atomic_write_text, save_checksummed, sha256_bytes
from genbench.metrics import (
    ClassifierSettings,
    FeatureSpace,
    SelfSupervisedSettings,
    extract_features,
    metrics_from_features,
)
from genbench.metrics import calibration as sets
from genbench.metrics.classifier import ARCHITECTURE as CLASSIFIER_ARCHITECTURE
from genbench.metrics.classifier import train_classifier
from genbench.metrics.selfsupervised import ARCHITECTURE as ENCODER_ARCHITECTURE
from genbench.metrics.selfsupervised import SelfSupervisedSpace, train_encoder

WEIGHTS = Path(__file__).parent / "weights"
MANIFEST = "manifest.json"
VERSION = 1  # of the shipped judges: a new training recipe is a new version
CALIBRATION_SAMPLES = 2000  # the quick suite's n: the manifest's figures are the report's


class JudgeMismatch(GenbenchError, RuntimeError):
    """A shipped judge's file differs from its manifest (a damaged install)."""


@dataclass(frozen=True)
class ShippedJudge:
    """One dataset's shipped judge: its two networks and what the manifest says of them."""

    dataset: str
    version: int
    classifier: Path
    classifier_sha256: str
    test_accuracy: float
    encoder: Path
    encoder_sha256: str

    @property
    def name(self) -> str:
        """'genbench-mnist-v1 (classifier 1a2b3c4d, encoder 5e6f7a8b)': in every metrics.json
        and caption, so that a figure says which judge gave it."""
        return (f"genbench-{self.dataset}-v{self.version} (classifier "
                f"{self.classifier_sha256[:8]}, encoder {self.encoder_sha256[:8]})")

    def spaces(self) -> tuple[FeatureSpace, SelfSupervisedSpace]:
        self.verify()
        return (FeatureSpace("classifier", self.classifier, self.test_accuracy),
                SelfSupervisedSpace(weights=self.encoder))

    def verify(self) -> None:
        """Each file's sha256 against the manifest's (3.6 MB: milliseconds)."""
        for path, want in ((self.classifier, self.classifier_sha256),
                           (self.encoder, self.encoder_sha256)):
            got = sha256_bytes(path.read_bytes()) if path.is_file() else "missing"
            if got != want:
                raise JudgeMismatch(f"the shipped judge file {path} does not match its manifest "
                                    f"(sha256 {got[:12]}, expected {want[:12]}); reinstall "
                                    "genbench (pip install -e .) or run `genbench judge train "
                                    f"{self.dataset}`")


def manifest(folder: Path = WEIGHTS) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {"judges": {}}


def shipped_judge(dataset: str, options: dict | None = None,
                  folder: Path = WEIGHTS) -> ShippedJudge | None:
    """The shipped judge of `dataset` in its standard form (no options), else None."""
    entry = manifest(folder)["judges"].get(dataset)
    return None if entry is None or options else shipped_entry_judge(entry, Path(folder))


# -- training (`genbench judge train`) ----------------------------------------------------
def train_judge(train: ImageData, test: ImageData, folder: Path = WEIGHTS, log=print,
                classifier_settings: ClassifierSettings | None = None,
                encoder_settings: SelfSupervisedSettings | None = None,
                calibration_samples: int = CALIBRATION_SAMPLES) -> dict[str, Any]:
    """Train both networks of `train`'s dataset with today's recipes (or the settings given:
    tests), write them to `folder` with their manifest entry (which replaces the dataset's),
    and return the entry."""
    dataset = train.meta["name"]
    folder = Path(folder)
    classifier_settings = classifier_settings or ClassifierSettings()
    encoder_settings = encoder_settings or SelfSupervisedSettings()
    start = time.perf_counter()
    classifier, accuracy = train_classifier(train, test, classifier_settings)
    classifier_seconds = time.perf_counter() - start
    log(f"{dataset}: classifier {accuracy:.2%} on the test split ({classifier_seconds:.0f} s)")
    classifier_file = _save(folder / f"{dataset}-classifier.pt", {
        "state_dict": classifier.state_dict(), "channels": train.image_shape[0],
        "outputs": classifier.head[-1].out_features, "accuracy": accuracy})
    start = time.perf_counter()
    encoder = train_encoder(train, encoder_settings)
    encoder_seconds = time.perf_counter() - start
    log(f"{dataset}: encoder ({encoder_seconds:.0f} s)")
    encoder_file = _save(folder / f"{dataset}-encoder.pt", {
        "state_dict": encoder.state_dict(), "channels": train.image_shape[0],
        "settings": dataclasses.asdict(encoder_settings)})
    entry = {
        "version": VERSION, "dataset": dataset, "trained": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "classifier": {"file": classifier_file.name, "sha256": _sha(classifier_file),
                       "architecture": CLASSIFIER_ARCHITECTURE, "test_accuracy": accuracy,
                       "recipe": dataclasses.asdict(classifier_settings),
                       "train_seconds": round(classifier_seconds, 1)},
        "encoder": {"file": encoder_file.name, "sha256": _sha(encoder_file),
                    "architecture": ENCODER_ARCHITECTURE,
                    "recipe": dataclasses.asdict(encoder_settings),
                    "train_seconds": round(encoder_seconds, 1)}}
    judge = shipped_entry_judge(entry, folder)
    entry["calibration"] = calibration_figures(judge, train, test, calibration_samples)
    write_entry(entry, folder)
    return entry


def shipped_entry_judge(entry: dict[str, Any], folder: Path) -> ShippedJudge:
    """The judge a manifest entry describes, its files in `folder`."""
    c, e = entry["classifier"], entry["encoder"]
    return ShippedJudge(entry["dataset"], entry["version"], folder / c["file"], c["sha256"],
                        c["test_accuracy"], folder / e["file"], e["sha256"])


def write_entry(entry: dict[str, Any], folder: Path) -> None:
    """The dataset's entry in `folder`'s manifest, the other datasets' kept."""
    current = manifest(folder)
    current["judges"][entry["dataset"]] = entry
    current["judges"] = dict(sorted(current["judges"].items()))
    atomic_write_text(folder / MANIFEST, json.dumps(current, indent=1) + "\n")


def calibration_figures(judge: ShippedJudge, train: ImageData, test: ImageData,
                        n: int = CALIBRATION_SAMPLES) -> dict[str, dict[str, float]]:
    """FD of the calibration's real image sets against the reference (the first n held-out
    images, as the benchmark's), in both spaces: {space: {set: FD}}."""
    reference = test.images[:n]
    disturbed = sets.calibration_sets(test.images, train.images, n, test.labels,
                                      reference_size=n)
    out = {}
    for space in judge.spaces():
        real = extract_features(reference, space)
        out[space.extractor] = {
            name: round(metrics_from_features(extract_features(images, space), real,
                                              prc=False)["fid"], 4)
            for name, images in disturbed.items()}
    return out


def _save(path: Path, blob: dict[str, Any]) -> Path:
    save_checksummed(path, blob)
    return path


def _sha(path: Path) -> str:
    return sha256_bytes(path.read_bytes())
