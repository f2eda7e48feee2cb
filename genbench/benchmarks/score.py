"""`genbench score`: samples made elsewhere, measured exactly as a benchmark run measures its own.

The samples go through the runs' own judge (judge.Judge) against the inputs a
run with the same settings has (judge.inputs_for): the same feature space, reference images,
sample count n and real-feature cache. Where the results directory holds a suite, the data and
evaluation settings of its runs on the dataset are used, so that the scored run sits beside
them in the report; elsewhere the defaults. Flags override either.

Everything is read and checked (format, size, channels, count, labels, the results directory)
before anything is written; the run directory gets config.json, samples.png, visuals.pt and,
last, metrics.json, whose `source` says the samples were supplied.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genbench import datasets
from genbench.benchmarks import store
from genbench.benchmarks.job import save_grid
from genbench.benchmarks.supplied import SamplesError, Supplied, as_images, as_labels
from genbench.benchmarks.supplied import read_labels as read_label_file
from genbench.benchmarks.supplied import read_samples as read_sample_files
from genbench.benchmarks.visuals import judge_visuals
from genbench.errors import ConfigError
from genbench.io import atomic_torch_save, read_json
from genbench.judge import Judge, Judgement, inputs_for, judge_of, load_splits
from genbench.models import GenerativeModel
from genbench.paths import check_output_dir
from genbench.settings import DataConfig, EvalConfig, build

SOURCE = "scored: samples supplied"  # metrics.json's `source`, the report's mark
FAMILY = "scored"  # metrics.json's `family`: no model family trained these samples
Samples = str | Path | torch.Tensor | np.ndarray


@dataclass
class ScoredConfig:
    """What a scored run is: supplied samples measured with a run's data and eval settings.
    Like a RunConfig it has `data`, `eval` and `run_id`, all that inputs_for reads."""

    name: str
    data: DataConfig
    eval: EvalConfig
    samples: str  # where they came from
    samples_sha256: str  # their content: other samples under the same name are another run
    labels: str | None = None

    @property
    def run_id(self) -> str:
        return f"{self.name}-{self.data.name}-scored"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "scored": {"samples": self.samples,
                                              "samples_sha256": self.samples_sha256,
                                              "labels": self.labels},
                "data": dataclasses.asdict(self.data), "eval": dataclasses.asdict(self.eval)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScoredConfig:
        return cls(name=d["name"], data=build(DataConfig, d["data"], "data"),
                   eval=build(EvalConfig, d["eval"], "eval"), **d["scored"])


def is_scored(config: dict[str, Any]) -> bool:
    """Whether a run configuration (config.json) is a scored run's."""
    return "scored" in config


def measured_with(dataset: str, out: Path | None = None,
                  changes: dict[str, dict[str, Any]] | None = None
                  ) -> tuple[DataConfig, EvalConfig]:
    """The data and evaluation settings samples on `dataset` are measured with: those of the
    first run on it of the suite in `out`, where there is one, else the defaults; `changes`
    ({"data": {...}, "eval": {...}}, the command line's flags) replace them."""
    base = _suite_settings(out, dataset) if out is not None else None
    base = base or {"data": {"name": dataset}, "eval": {}}
    changes = changes or {}
    extra = set(changes) - {"data", "eval"}
    if extra:
        raise ConfigError(f"scoring samples takes only data and eval settings, not {sorted(extra)}")
    data = {**base["data"], **changes.get("data", {}), "name": dataset}
    data["options"] = {**base["data"].get("options", {}),
                       **changes.get("data", {}).get("options", {})}
    return (build(DataConfig, data, "data"),
            build(EvalConfig, {**base["eval"], **changes.get("eval", {})}, "eval"))


def _suite_settings(out: Path, dataset: str) -> dict[str, Any] | None:
    if not (out / store.SUITE).exists():
        return None
    record = read_json(out / store.SUITE)
    configs = record.get("runs", {})
    for run_id in record.get("order", []):
        config = configs.get(run_id, {})
        if not is_scored(config) and config.get("data", {}).get("name") == dataset:
            return {"data": config["data"], "eval": config["eval"]}
    return None


def score(samples: Samples, dataset: str, out: str | Path | None = None,
          name: str | None = None, labels: Samples | None = None,
          changes: dict[str, dict[str, Any]] | None = None,
          force: bool = False) -> dict[str, Any]:
    """Every sample-quality number of `samples` (a folder, .npy/.npz/.pt, or an array) on
    `dataset`, as a benchmark run gets them; conditional accuracy where `labels` (a file or an
    array, else the samples' own `labels` array) give each sample's class. With `out`, also
    the run directory OUT/runs/NAME-DATASET-scored. Returns its metrics.json."""
    out = None if out is None else Path(out)
    supplied = _supplied(samples, labels)
    data, evaluation = measured_with(dataset, out, changes)
    config = ScoredConfig(_name(name, samples), data, evaluation, supplied.source,
                          supplied.sha256, None if labels is None else _where(labels))
    if out is not None:
        check_output_dir(out, datasets.resolve_root(data.root))
    splits = load_splits(data)
    images, classes = checked(supplied, splits[1], config)
    inputs = inputs_for(config, splits)  # type: ignore[arg-type]  (reads data and eval only)
    judge = judge_of(config, inputs)
    metrics, judgement = measure_supplied(images, classes, judge, config, len(supplied.images))
    if out is not None:
        visuals = {"samples": images[:64].clone(), "capabilities": metrics["capabilities"],
                   **judge_visuals(judgement, images, inputs.copy_candidates)}

        def write(directory: Path) -> None:
            save_grid(directory / store.SAMPLES, images[:64])
            atomic_torch_save(directory / store.VISUALS, visuals)

        store.add_run(out, config.run_id, config.to_dict(), metrics, write, force)
    return metrics


def _supplied(samples: Samples, labels: Samples | None) -> Supplied:
    if isinstance(samples, (str, Path)):
        supplied = read_sample_files(samples)
    else:
        supplied = Supplied(as_images(samples, "samples"), None, "array")
    if isinstance(labels, (str, Path)):
        supplied.labels = read_label_file(labels)
    elif labels is not None:
        supplied.labels = as_labels(labels, "labels")
    return supplied


def _where(source: Samples) -> str:
    return str(source) if isinstance(source, (str, Path)) else "array"


def _name(name: str | None, samples: Samples) -> str:
    """The run's name: `name`, else the samples' file or folder name."""
    if name is None:
        stem = Path(samples).stem if isinstance(samples, (str, Path)) else "samples"
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "samples"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ConfigError(f"run name {name!r} must be letters, digits, '.', '_' or '-' (it "
                          "names a directory)")
    return name


def describe(shape: tuple[int, ...]) -> str:
    """'28×28 grey' or '32×32 RGB' for an image shape C×H×W."""
    channels, height, width = shape
    return f"{width}×{height} {'grey' if channels == 1 else 'RGB'}"


def checked(supplied: Supplied, test: datasets.ImageData,
            config: ScoredConfig) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The first n samples (n: the runs' fid_samples) and their labels, once they fit the
    dataset: its image size and channels, at least n of them, labels one per sample and
    within its classes."""
    images, labels, dataset = supplied.images, supplied.labels, config.data.name
    want = tuple(test.image_shape)
    if (want[0] == 1 and images.shape[1] == 3 and tuple(images.shape[2:]) == want[1:]
            and bool((images == images[:, :1]).all())):
        images = images[:, :1]  # grey saved as RGB (torchvision's save_image does so)
    shape = tuple(images.shape[1:])
    if shape != want:
        raise SamplesError(f"samples are {describe(shape)}, {dataset} is {describe(want)}: "
                           "resize them or pick another dataset")
    n = config.eval.fid_samples
    if len(images) < n:
        # One message for both callers: the API's keyword and the command line's flag.
        raise SamplesError(f"{supplied.source} holds {len(images)} images; {dataset} runs are "
                           f"measured on n = {n} samples: supply at least {n}, or pass "
                           f"fid_samples={len(images)} (--fid-samples {len(images)} on the "
                           f"command line; its numbers then do not compare with runs measured "
                           f"on {n})")
    if labels is None:
        return images[:n], None
    if len(labels) != len(images):
        raise SamplesError(f"{len(labels)} labels for {len(images)} samples: give one label "
                           "per sample, in the samples' order")
    classes = test.num_classes
    if not classes:
        raise SamplesError(f"{dataset} has no classes, so labels cannot be checked; leave "
                           "them out")
    if config.eval.extractor != "classifier":
        raise ConfigError("conditional accuracy is judged by the dataset classifier; with "
                          "labels, pass extractor=\"classifier\" (--extractor classifier on "
                          "the command line)")
    if int(labels.min()) < 0 or int(labels.max()) >= classes:
        raise SamplesError(f"labels range over {int(labels.min())}..{int(labels.max())}; "
                           f"{dataset} has classes 0..{classes - 1}")
    return images[:n], labels[:n]


def measure_supplied(images: torch.Tensor, labels: torch.Tensor | None, judge: Judge,
                     config: ScoredConfig, supplied: int) -> tuple[dict[str, Any], Judgement]:
    """metrics.json of a scored run (what identifies it, its mark, and the sample-quality
    numbers of a trained run) and the judgement they come from, for the copy figures."""
    capabilities = dict.fromkeys(GenerativeModel.capabilities(), False)
    capabilities["conditional"] = labels is not None
    metrics: dict[str, Any] = {
        "run": config.run_id, "model": config.name, "family": FAMILY,
        "dataset": config.data.name, "seed": 0, "source": SOURCE, "samples": config.samples,
        "samples_sha256": config.samples_sha256, "labels": config.labels,
        "num_supplied": supplied, "capabilities": capabilities,
        "image_shape": list(images.shape[1:]),
    }
    judgement = judge.judge(judge.check(images, f"samples {config.samples}"), labels)
    metrics.update(judgement.metrics)
    return metrics, judgement
