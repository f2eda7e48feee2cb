"""Shared fixtures: small real or generated data, CPU only, no network."""

from __future__ import annotations

import os
import warnings

import pytest
import torch

from genbench import datasets

torch.set_num_threads(min(2, os.cpu_count() or 1))


def pytest_configure(config):
    # Decoded tensors and trained classifiers go to a per-session cache unless CI chose one.
    if not os.environ.get("GENBENCH_CACHE"):
        import tempfile

        os.environ["GENBENCH_CACHE"] = tempfile.mkdtemp(prefix="genbench-test-cache-")


def load_or_skip(name: str, split: str = "train", **options) -> datasets.ImageData:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return datasets.load(name, split, download=False, **options)
    except datasets.DatasetUnavailable as error:
        pytest.skip(f"{name} is not available here: {str(error).splitlines()[0]}")


@pytest.fixture(scope="session")
def sprites() -> tuple[datasets.ImageData, datasets.ImageData]:
    """dSprites-style shapes at 28 px: generated, always available, labelled by shape."""
    return (datasets.load("sprites", "train", size=28).subset(2048),
            datasets.load("sprites", "test", size=28))


@pytest.fixture(scope="session")
def mnist() -> tuple[datasets.ImageData, datasets.ImageData]:
    return load_or_skip("mnist"), load_or_skip("mnist", "test")
