"""`genbench compare A B`: every sample-quality number of one image set against another, the
habit of torch-fidelity's `fidelity --input1 A --input2 B` and clean-fid's `compute_fid(A, B)`.

A is a folder of images or an array file (.npy/.npz/.pt), or an array; B is one too, or a
dataset's name. Against a dataset, A is measured exactly as `genbench score` measures it
(score.score, without writing a run): the dataset's classifier space, its held-out reference,
n = fid_samples. Between two image sets, a feature space must be named: genbench's spaces are
a dataset's classifier and its label-free encoder (Inception only from local weights), so
`dataset` says which dataset the images resemble, and B takes the held-out reference's place
in that dataset's judge. All of A and all of B are measured, unless fid_samples says n: then
the first n of each.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from genbench import datasets
from genbench.benchmarks.score import Samples, ScoredConfig, describe, measured_with, score
from genbench.benchmarks.supplied import SamplesError, Supplied, as_images, read_samples
from genbench.errors import ConfigError
from genbench.judge import Judge, inputs_for, judge_of, load_splits
from genbench.settings import DataConfig, EvalConfig

Changes = dict[str, dict[str, Any]]
# What names a scored run: meaningless for a comparison, which writes no run.
RUN_KEYS = ("run", "model", "family", "seed", "source", "samples", "samples_sha256", "labels",
            "num_supplied", "capabilities", "image_shape")
NEEDS_DATASET = ("comparing two image sets needs a feature space: pass --dataset NAME, the "
                 "dataset the images resemble (its classifier's features and its label-free "
                 "encoder's); for Inception features add --extractor inception --fid-weights "
                 "FILE (local Inception-v3 weights)")


def compare(a: Samples, b: Samples, dataset: str | None = None,
            changes: Changes | None = None) -> dict[str, Any]:
    """Every sample-quality number of `a` against `b` (FID, KID, precision, recall, density,
    coverage with bootstrap intervals, the copy and collapse checks, FD/KID in the second
    space), and what they were measured with: `a`, `b`, `dataset`, `feature_space`, `n_a`,
    `n_b`. `b` may be a dataset's name; else `dataset` names the feature space. `changes`:
    {"data": {...}, "eval": {...}} settings, as score() takes them."""
    if is_dataset_name(b):
        if dataset is not None and dataset != b:
            raise ConfigError(f"B is the dataset {b}, and --dataset names {dataset}: leave "
                              "--dataset out, or give B as images")
        metrics = score(a, str(b), changes=changes)
        return _result(_where(a), f"{b} (held-out)", str(b), metrics)
    if is_dataset_name(a):
        raise ConfigError(f"A is the dataset {a}: put the dataset second, `genbench compare "
                          f"SAMPLES {a}` (precision and recall are not symmetric)")
    for x, who in ((a, "A"), (b, "B")):
        _exists(x, who)
    if dataset is None:
        raise ConfigError(NEEDS_DATASET)
    first, second = _read(a, "A"), _read(b, "B")
    _same_size(first, second)
    data, evaluation = measured_with(dataset, None, changes)
    n = (changes or {}).get("eval", {}).get("fid_samples")
    splits = load_splits(data)
    want = tuple(splits[1].image_shape)
    x, y = (_fitted(s, want, dataset, n) for s in (first, second))
    judge = judge_against(y, data, evaluation, splits)
    metrics = judge.judge(judge.check(x, f"A ({first.source})")).metrics
    return _result(first.source, second.source, dataset, metrics)


def is_dataset_name(x: Samples) -> bool:
    """Whether `x` names a dataset: a registered name that is not an existing path (a folder
    called `mnist` is images)."""
    return isinstance(x, str) and not Path(x).exists() and x in datasets.available()


def judge_against(reference: torch.Tensor, data: DataConfig, evaluation: EvalConfig,
                  splits: tuple[datasets.ImageData, datasets.ImageData] | None = None) -> Judge:
    """The judge of `data`'s runs (its feature spaces, its copy test's training images) with
    `reference` (uint8 N×C×H×W) in the held-out reference's place."""
    config = ScoredConfig("compare", data, evaluation, "compare", "")
    inputs = inputs_for(config, splits)  # type: ignore[arg-type]  (reads data and eval only)
    # No cache name: the cache holds real images' features by their name, and these images
    # are anyone's (reference_name None: extracted each time).
    inputs = replace(inputs, reference=reference, reference_name=None)  # type: ignore[arg-type]
    return judge_of(config, inputs)


def _exists(x: Samples, who: str) -> None:
    """A missing path, said before anything is read (a mistyped dataset name is one too)."""
    if isinstance(x, (str, Path)) and not Path(x).exists():
        known = ", ".join(datasets.available())
        hint = f", and is no dataset ({known})" if who == "B" else ""
        raise SamplesError(f"{who}: {x} does not exist{hint}")


def _read(x: Samples, who: str) -> Supplied:
    if isinstance(x, (str, Path)):
        return read_samples(x)
    return Supplied(as_images(x, who), None, "array")


def _same_size(first: Supplied, second: Supplied) -> None:
    """Images of one size (colour is left to the dataset's check: grey saved as RGB is grey)."""
    if first.images.shape[2:] != second.images.shape[2:]:
        raise SamplesError(f"A is {describe(tuple(first.images.shape[1:]))}, B is "
                           f"{describe(tuple(second.images.shape[1:]))}: compare images of one "
                           "size")


def _fitted(supplied: Supplied, want: tuple[int, ...], dataset: str,
            n: int | None) -> torch.Tensor:
    """The images as the dataset's (grey saved as RGB read as grey), the first n where n is
    given."""
    images = supplied.images
    if want[0] == 1 and images.shape[1] == 3 and bool((images == images[:, :1]).all()):
        images = images[:, :1]
    shape = tuple(images.shape[1:])
    if shape != want:
        raise SamplesError(f"{supplied.source} holds {describe(shape)} images, {dataset} is "
                           f"{describe(want)}: its feature spaces take {dataset}'s images")
    if n is not None and len(images) < n:
        raise SamplesError(f"{supplied.source} holds {len(images)} images, fewer than "
                           f"--fid-samples {n}")
    return images[:n]


def _where(x: Samples) -> str:
    return str(x) if isinstance(x, (str, Path)) else "array"


def _result(a: str, b: str, dataset: str, metrics: dict[str, Any]) -> dict[str, Any]:
    head = {"a": a, "b": b, "dataset": dataset, "feature_space": metrics["fid_extractor"],
            "n_a": metrics["fid_samples"], "n_b": metrics["fid_reference"]}
    return {**head, **{k: v for k, v in metrics.items() if k not in RUN_KEYS}}
