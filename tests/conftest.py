"""Shared fixtures: small real or generated data, CPU only, no network."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch

from genbench import datasets

torch.set_num_threads(min(2, os.cpu_count() or 1))


# The data, training and evaluation settings of the tiny suites the runner and Ray tests
# run: a str.format template (doubled braces in TOML), filled with the device.
TINY_SETTINGS = """
[dataset.sprites]
size = 28

[data]
max_train = 512
max_test = 200

[train]
steps = 30
batch_size = 32
log_every = 5
checkpoint_every = 10
device = "{device}"

[eval]
fid_samples = 200
nll_k = 5
nll_images = 50
classifier_epochs = 1
batch_size = 100
"""

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


def run_table(out: Path, columns: list[str]) -> pd.DataFrame:
    """Every complete run's metrics.json under `out`, one row per run: what a suite produced,
    read without writing its report."""
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("runs/*/metrics.json"))]
    frame = pd.DataFrame(rows).set_index("run").sort_index()
    return frame[[c for c in columns if c in frame.columns]]
