"""The dataset contract: every dataset resolves to an in-memory uint8 tensor.

A dataset module registers a `locate` function that finds its files (or
raises `DatasetUnavailable` naming them) and returns a `Source` that knows how
to decode them. `load` decodes once and caches the tensors, keyed by the
source files' sizes and modification times so that new files invalidate it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genbench import plugins
from genbench.errors import ConfigError, GenbenchError, UnknownName
from genbench.io import cache_dir, load_checksummed, save_checksummed, user_cache_dir
from genbench.plugins import PluginError

log = logging.getLogger(__name__)

SPLITS = ("train", "test")


class DatasetUnavailable(GenbenchError, RuntimeError):
    """No source holds the dataset; the message names the files and where to put them."""


class DatasetCorrupt(GenbenchError, RuntimeError):
    """A dataset file exists but cannot be decoded."""


@dataclass
class ImageData:
    images: torch.Tensor  # uint8 [N, C, H, W]
    labels: torch.Tensor | None  # int64 [N]
    meta: dict[str, Any]
    attributes: torch.Tensor | None = None  # int64 [N, A]: CelebA attributes, sprite factors

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 [N,C,H,W], got {self.images.dtype} "
                             f"{tuple(self.images.shape)}")
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError("labels and images differ in length")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int | None:
        return self.meta.get("num_classes")

    def shuffled(self, seed: int = 0) -> ImageData:
        """Every item in a random order fixed by `seed` (a split stored in a meaningful order,
        e.g. MNIST's test split, first 5,000 digits of one writer population, then 5,000 of
        another, mixed so that its first n are a fair sample of it)."""
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        return ImageData(
            self.images[order],
            None if self.labels is None else self.labels[order],
            {**self.meta, "shuffled": seed},
            None if self.attributes is None else self.attributes[order],
        )

    def subset(self, n: int) -> ImageData:
        """The first n items (datasets are stored shuffled or in a fixed order)."""
        return ImageData(
            self.images[:n],
            None if self.labels is None else self.labels[:n],
            {**self.meta, "num_images": min(n, len(self))},
            None if self.attributes is None else self.attributes[:n],
        )


@dataclass
class Source:
    origin: str  # e.g. "data root /x/MNIST/raw" or "generated"
    files: list[Path]
    decode: Callable[[], ImageData]


@dataclass
class DatasetSpec:
    name: str
    description: str
    locate: Callable[..., Source]  # (root, split, download, **options) -> Source
    options: dict[str, Any] = field(default_factory=dict)  # option name -> default
    root_is_data: bool = False  # `folder`: the data root is the image directory itself


_REGISTRY: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Register a dataset; a name already taken by another module is refused (PluginError)."""
    if not isinstance(spec, DatasetSpec) or not callable(spec.locate):
        raise PluginError(f"register_dataset takes a DatasetSpec with a callable locate, got "
                          f"{spec!r}")
    taken = _REGISTRY.get(spec.name)
    # The same module registering again (reloaded, e.g. in a notebook) replaces its dataset.
    if taken is not None and taken.locate.__module__ != spec.locate.__module__:
        raise PluginError(f"dataset {spec.name!r} is already registered by "
                          f"{plugins.origin(taken.locate.__module__)}; choose another name")
    _REGISTRY[spec.name] = spec
    return spec


def _registry() -> dict[str, DatasetSpec]:
    """The registry, with the installed plug-ins loaded (once, on first use)."""
    plugins.load_installed("genbench.datasets")
    return _REGISTRY


def available() -> list[str]:
    """Names of the registered datasets."""
    return sorted(_registry())


def get_spec(name: str) -> DatasetSpec:
    if name not in _registry():
        raise UnknownName(f"unknown dataset {name!r}; choose one of: {', '.join(available())}")
    return _REGISTRY[name]


def resolve_root(root: str | Path | None) -> Path:
    """The data root: the argument, else $GENBENCH_DATA, else ./data."""
    return Path(root or os.environ.get("GENBENCH_DATA") or "data").expanduser()


def _cache_key(name: str, split: str, options: dict, source: Source) -> str:
    stats = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in source.files]
    blob = json.dumps([name, split, sorted(options.items()), source.origin, stats], default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def locate(name: str, split: str = "train", root: str | Path | None = None,
           download: bool = True, **options: Any) -> tuple[DatasetSpec, Source, dict]:
    spec = get_spec(name)
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    unknown = set(options) - set(spec.options)
    if unknown:
        allowed = ", ".join(spec.options) or "none"
        raise ConfigError(f"dataset {name!r} has no option {sorted(unknown)}; "
                          f"options: {allowed}")
    resolved = {**spec.options, **options}
    return spec, spec.locate(resolve_root(root), split, download, **resolved), resolved


def load(name: str, split: str = "train", root: str | Path | None = None,
         download: bool = True, **options: Any) -> ImageData:
    """Load a dataset split as uint8 tensors, decoding once and caching the result."""
    spec, source, resolved = locate(name, split, root, download, **options)
    root_path = resolve_root(root)
    cache_root = user_cache_dir() if spec.root_is_data else cache_dir(root_path)
    cache_file = cache_root / f"{name}-{split}-{_cache_key(name, split, resolved, source)}.pt"
    if cache_file.exists():
        cached = load_checksummed(cache_file)
        if cached is not None:
            return ImageData(**cached)
        log.warning("dataset cache %s failed its checksum; rebuilding it", cache_file)
    data = source.decode()
    data.meta.update(name=name, split=split, source=source.origin, num_images=len(data),
                     options=resolved)
    save_checksummed(cache_file, {"images": data.images, "labels": data.labels,
                                  "meta": data.meta, "attributes": data.attributes})
    return data
