"""The Python API as a notebook meets it: errors name keyword arguments (not only flags), the
results table has one clean row index, dataset images come through the public API."""

from __future__ import annotations

import json

import pytest
import torch

import genbench
from genbench.benchmarks import store
from genbench.benchmarks.supplied import SamplesError
from genbench.errors import ConfigError


def test_score_without_out_says_which_keyword_lowers_the_default_sample_count():
    few = torch.zeros(50, 1, 28, 28, dtype=torch.uint8)
    # Refused before any judge is trained: the default n is 10,000 samples.
    with pytest.raises(SamplesError, match=r"n = 10000 samples.*pass fid_samples=50 "
                                           r"\(--fid-samples 50 on the command line"):
        genbench.score(few, "sprites", options={"size": 28})


def test_results_has_one_row_per_run_numbered_from_zero(tmp_path):
    for run in ("a", "b", "c", "d"):
        (tmp_path / "runs" / run).mkdir(parents=True)
    for run in ("a", "c"):  # done; b failed; d unfinished
        (tmp_path / "runs" / run / store.METRICS).write_text(
            json.dumps({"run": run, "model": run, "fid": 1.0, "capabilities": {}}))
    store.record_failure(tmp_path / "runs" / "b", "b", "train", "boom")
    table = genbench.results(tmp_path)
    assert list(table.index) == [0, 1, 2, 3] and table.index.is_unique
    assert list(table["run"]) == ["a", "c", "b", "d"]
    assert list(table["status"]) == ["done", "done", "failed", "incomplete"]


def test_images_are_the_uint8_images_runs_train_on():
    images = genbench.images("sprites", "test", size=28)
    assert images.dtype == torch.uint8 and images.shape[1:] == (1, 28, 28)
    with pytest.raises(ConfigError, match="unknown split 'val'"):
        genbench.images("sprites", "val")
