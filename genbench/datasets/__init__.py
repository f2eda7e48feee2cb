"""One dataset layer for every model: `load(name, split, root) -> ImageData`."""

from genbench.datasets import celeba, folder, mnist, sprites  # noqa: F401  (registration)
from genbench.datasets.base import (
    DatasetCorrupt,
    DatasetSpec,
    DatasetUnavailable,
    ImageData,
    Source,
    available,
    get_spec,
    load,
    locate,
    register_dataset,
    resolve_root,
)
from genbench.datasets.batching import Batches, check_batch_size, to_float, to_uint8
from genbench.datasets.binarize import BINARIZE, binarize, binarized

__all__ = ["BINARIZE", "Batches", "DatasetCorrupt", "DatasetSpec", "DatasetUnavailable",
           "ImageData", "Source", "available", "binarize", "binarized", "check_batch_size",
           "get_spec", "load", "locate", "register_dataset", "resolve_root", "to_float", "to_uint8"]
