"""Plug-in models and datasets: a file named by a suite or --plugin, and an installed entry
point, run and are listed like the built-ins (their errors: test_plugin_errors.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from conftest import TINY_SETTINGS

from genbench import datasets, models, plugins
from genbench.benchmarks import run_benchmark
from genbench.datasets import base as dataset_base
from genbench.models import registry as model_base
from genbench.reports import write_report
from genbench.settings import load_suite

# A model written outside genbench: a linear autoencoder that samples by decoding N(0, I).
LINEAR_MODEL = '''
from dataclasses import dataclass

import torch
from torch import nn

from genbench.models import GenerativeModel, register_model


@dataclass
class LinearConfig:
    latent_dim: int = 8


@register_model("linear-ae", LinearConfig)
class LinearAE(GenerativeModel):
    reconstructs = latent = True

    def __init__(self, config, image_shape, num_classes=None):
        super().__init__(config, image_shape, num_classes)
        pixels = image_shape[0] * image_shape[1] * image_shape[2]
        self.encoder = nn.Linear(pixels, config.latent_dim)
        self.decoder = nn.Linear(config.latent_dim, pixels)

    def training_step(self, x, y):
        logits = self.decoder(self.encoder(x.flatten(1)))
        loss = nn.functional.binary_cross_entropy_with_logits(logits, x.flatten(1))
        return {"loss": loss}

    def encode(self, x, y=None):
        return self.encoder(x.flatten(1))

    def decode(self, z, y=None):
        return torch.sigmoid(self.decoder(z)).view(-1, *self.image_shape)

    def reconstruct(self, x, y=None):
        return self.decode(self.encode(x))

    def sample(self, n, labels=None):
        return self.decode(torch.randn(n, self.config.latent_dim, device=self.device))
'''

# An installed distribution: a model subclassing a built-in, and a generated dataset.
PACKAGE = {
    "mypkg/__init__.py": '''
        from genbench.models import register_model
        from genbench.models.ae import AE, AEConfig


        @register_model("mine", AEConfig, latent_dim=4, hidden=(32,))
        class Mine(AE):
            pass
        ''',
    "mypkg/data.py": '''
        import torch

        from genbench.datasets import DatasetSpec, ImageData, Source, register_dataset


        def decode():
            images = torch.randint(256, (40, 1, 8, 8), dtype=torch.uint8,
                                   generator=torch.Generator().manual_seed(0))
            return ImageData(images, None, {"channels": 1, "size": [8, 8]})


        register_dataset(DatasetSpec("mine-data", "random 8x8 grey noise",
                                     lambda root, split, download: Source("mypkg", [], decode)))
        ''',
    "mypkg-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: mypkg\nVersion: 0.1\n",
    "mypkg-0.1.dist-info/entry_points.txt": "[genbench.models]\nmine = mypkg\n\n"
                                            "[genbench.datasets]\nmine-data = mypkg.data\n",
}


@pytest.fixture(autouse=True)
def registries(monkeypatch):
    """Every test starts from the built-in registries and leaves them as it found them."""
    saved = {base: dict(base._REGISTRY) for base in (model_base, dataset_base)}
    modules = set(sys.modules)
    for name, value in {"_files": {}, "_loaded": [], "_installed": set()}.items():
        monkeypatch.setattr(plugins, name, value)
    monkeypatch.setenv(plugins.ENV, "")  # recorded, so that teardown removes what tests set
    monkeypatch.delenv(plugins.ENV)
    yield
    for base, entries in saved.items():
        base._REGISTRY.clear()
        base._REGISTRY.update(entries)
    for name in set(sys.modules) - modules:
        if name.startswith(("genbench_plugin_", "mypkg")):
            del sys.modules[name]


def install_package(root: Path, monkeypatch, files: dict[str, str] = PACKAGE) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(root))


def write_suite(path: Path, plugins_: list[str], models_: list[str]) -> Path:
    path.write_text(f"name = \"plug\"\nplugins = {json.dumps(plugins_)}\n"
                    f"models = {json.dumps(models_)}\ndatasets = [\"sprites\"]\nseeds = [0]\n"
                    + TINY_SETTINGS.format(device="cpu") + "\n[model.mine]\nconfig = {}\n")
    return path


def test_plugin_models_run_in_a_suite_beside_a_built_in_and_appear_in_the_report(
        tmp_path, monkeypatch):
    install_package(tmp_path / "site", monkeypatch)
    (tmp_path / "suite" / "models").mkdir(parents=True)
    (tmp_path / "suite" / "models" / "linear_model.py").write_text(LINEAR_MODEL)
    suite = load_suite(write_suite(tmp_path / "suite" / "plug.toml", ["models/linear_model.py"],
                                   ["vae", "linear-ae", "mine"]))
    assert suite.plugins == [str(tmp_path / "suite" / "models" / "linear_model.py")]
    # Plug-ins after the built-ins, installed ones first: listings, legends, rows.
    assert models.available()[-3:] == ["flow", "mine", "linear-ae"]

    suite.eval = {**suite.eval, "visuals": False, "curve": False}  # not what is tested here
    result = run_benchmark(suite, tmp_path / "out", progress=False)
    write_report(tmp_path / "out")
    assert sorted(result.done) == ["linear-ae-sprites-s0", "mine-sprites-s0", "vae-sprites-s0"]
    frame = pd.read_csv(tmp_path / "out" / "results.csv").set_index("run")
    assert (frame["status"] == "done").all()
    assert frame.loc["linear-ae-sprites-s0", "can_reconstructs"]
    assert pd.notna(frame.loc["linear-ae-sprites-s0", ["fid", "kid", "mse", "ssim"]]).all()
    report = (tmp_path / "out" / "report.md").read_text()
    assert "linear-ae" in report and "mine" in report


def test_installed_entry_points_load_lazily_when_the_registry_is_first_asked(
        tmp_path, monkeypatch):
    from importlib.metadata import entry_points

    install_package(tmp_path, monkeypatch)
    assert [p.value for p in entry_points(group="genbench.models")] == ["mypkg"]
    assert "mypkg" not in sys.modules  # nothing imported before a registry is asked
    assert models.available()[-1] == "mine"
    assert models.make_config("mine").latent_dim == 4
    assert "mine-data" in datasets.available()
    data = datasets.load("mine-data", "train")
    assert data.images.shape == (40, 1, 8, 8) and data.meta["source"] == "mypkg"


def test_the_command_line_lists_installed_plugins_and_refuses_broken_ones(
        tmp_path, monkeypatch, capsys):
    from genbench.cli import main

    install_package(tmp_path, monkeypatch)
    assert main(["models"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[-2].startswith("mine") and "reconstructs" in listing[-2]
    assert "latent_dim=4" in listing[-1]
    suite = write_suite(tmp_path / "s.toml", ["gone.py"], ["mine"])
    assert main(["benchmark", "--suite", str(suite), "--out", str(tmp_path / "out")]) == 2
    assert f"plug-in 'gone.py' (suite file {suite}): no such file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_spawned_processes_inherit_the_plugins_loaded(tmp_path):
    (tmp_path / "linear_model.py").write_text(LINEAR_MODEL)
    assert plugins.load(["linear_model.py"], "--plugin", base=tmp_path) == [
        str(tmp_path / "linear_model.py")]
    assert plugins.load([str(tmp_path / "linear_model.py")], "--plugin")  # once, not twice
    assert models.available().count("linear-ae") == 1
    child = subprocess.run(
        [sys.executable, "-c", "from genbench import models; print(models.available()[-1])"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    assert child.stdout.strip() == "linear-ae"
