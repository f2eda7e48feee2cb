"""A model whose samples are not images is never ranked: samples are checked where they enter
the judge (finite, in [0, 1] or uint8, the dataset's shape), and a model that breaks this
fails its run with a message naming it, what was wrong and what was expected, while the suite
goes on and the report lists the failure."""

from __future__ import annotations

import json
import re

import pytest
import torch
from test_plugins import registries, write_suite  # noqa: F401  (restores the registries)

from genbench.benchmarks import store
from genbench.cli import main
from genbench.datasets import ImageData
from genbench.judge import Judge, RunInputs, SamplesRejected

BROKEN = '''
from dataclasses import dataclass

import torch
from torch import nn

from genbench.models import GenerativeModel, register_model


@dataclass
class BrokenConfig:
    fault: str = "nan"


@register_model("broken", BrokenConfig)
class Broken(GenerativeModel):
    def __init__(self, config, image_shape, num_classes=None):
        super().__init__(config, image_shape, num_classes)
        self.scale = nn.Parameter(torch.ones(()))

    def training_step(self, x, y):
        return {"loss": (self.scale - 1) ** 2}

    def sample(self, n, labels=None):
        x = torch.rand(n, *self.image_shape, device=self.device) * self.scale
        if self.config.fault == "nan":
            return x * float("nan")
        if self.config.fault == "range":
            return x * 2 - 1  # [-1, 1], as a tanh generator gives it
        return x[:, :, :-1]  # a row short
'''
SUITE_TAIL = """
[model.nan]
model = "broken"
config = {{ fault = "nan" }}

[model.range]
model = "broken"
config = {{ fault = "range" }}

[model.shape]
model = "broken"
config = {{ fault = "shape" }}
"""


def test_a_model_with_broken_samples_fails_its_run_and_is_never_ranked(tmp_path):
    (tmp_path / "broken.py").write_text(BROKEN)
    suite = write_suite(tmp_path / "s.toml", ["broken.py"], ["ae", "nan", "range", "shape"])
    suite.write_text(suite.read_text().replace("\n[model.mine]\nconfig = {}\n", "")
                     + SUITE_TAIL.format())
    out = tmp_path / "out"
    assert main(["benchmark", "--suite", str(suite), "--out", str(out), "--quiet"]) == 0
    expected = {"nan": "NaN or infinite", "range": r"ranging over \[-1",
                "shape": r"shape \(\d+, 1, 27, 28\); expected N×1×28×28"}
    for name, message in expected.items():
        directory = store.run_dir(out, f"{name}-sprites-s0")
        assert not (directory / store.METRICS).exists(), name
        failure = json.loads((directory / store.FAILED).read_text())
        assert failure["stage"] in ("training", "evaluation")  # a curve point, or the end
        assert f"model '{name}' gave samples" in failure["error"], failure["error"]
        assert failure["error"].startswith("SamplesRejected")
        assert re.search(message, failure["error"]), failure["error"]
    results = (out / "results.csv").read_text()
    assert "ae" in results and "nan-sprites-s0" in (out / "report.md").read_text()
    ranked = [line for line in (out / "report.md").read_text().splitlines()
              if line.startswith("| nan ") or line.startswith("| range ")]
    assert not any("FID" in line or "[" in line for line in ranked)


def test_the_judge_refuses_samples_that_are_not_images(tmp_path):
    images = torch.zeros(8, 1, 4, 4, dtype=torch.uint8)
    data = ImageData(images, None, {"name": "x"})
    judge = Judge(RunInputs("k", data, data, data, None, images, None, tmp_path))
    ok = torch.full((8, 1, 4, 4), 0.5)
    assert judge.check(ok, "m").dtype == torch.uint8
    assert torch.equal(judge.check(images, "m"), images)
    for bad, words in ((ok * float("inf"), "infinite"), (ok + 0.6, "ranging over"),
                       (ok[:, :, :2], "expected N×1×4×4"), (ok.long(), "torch.int64")):
        with pytest.raises(SamplesRejected, match=words):
            judge.check(bad, "model 'm'")
