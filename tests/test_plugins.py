"""Plug-in models and datasets: a file named by a suite, an installed entry point, and the
errors a plug-in author meets (at import and at registration, never deep in training)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import TINY_SETTINGS

from genbench import datasets, models, plugins
from genbench.benchmarks import run_suite
from genbench.benchmarks.suite import load_suite
from genbench.config import ConfigError
from genbench.datasets import base as dataset_base
from genbench.models import GenerativeModel, register_model
from genbench.models import base as model_base
from genbench.plugins import PluginError

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
    assert models.available()[-3:] == ["diffusion", "mine", "linear-ae"]

    suite.eval = {**suite.eval, "visuals": False, "curve": False}  # not what is tested here
    result = run_suite(suite, tmp_path / "out", progress=False)
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


# -- errors at import: the import error, and who named the plug-in -----------------------------
def test_a_suite_plugin_that_cannot_be_imported_names_the_suite_file(tmp_path):
    suite = write_suite(tmp_path / "s.toml", ["no_such_plugin_module"], ["vae"])
    with pytest.raises(PluginError, match=r"plug-in 'no_such_plugin_module' \(suite file "
                       r".*s\.toml\) cannot be imported: No module named 'no_such_plugin_module"
                       r"'; is it installed, or on PYTHONPATH"):
        load_suite(suite)


def test_a_missing_plugin_file_says_where_relative_paths_start(tmp_path):
    suite = write_suite(tmp_path / "s.toml", ["lib/absent.py"], ["vae"])
    with pytest.raises(PluginError, match=r"no such file .*lib/absent\.py \(relative paths "
                       f"start at {tmp_path}"):
        load_suite(suite)


def test_a_plugin_whose_code_fails_names_the_flag_and_the_line(tmp_path):
    (tmp_path / "broken.py").write_text("import torch\n\nraise RuntimeError('no GPU here')\n")
    with pytest.raises(PluginError, match=r"plug-in 'broken.py' \(--plugin\) cannot be "
                       r"imported: RuntimeError: no GPU here at .*broken\.py:3") as caught:
        plugins.load(["broken.py"], "--plugin", base=tmp_path)
    assert isinstance(caught.value.__cause__, RuntimeError)  # the author keeps the traceback
    (tmp_path / "typo.py").write_text("def f(:\n")
    with pytest.raises(PluginError, match=r"cannot be imported: .*typo\.py, line 1"):
        plugins.load(["typo.py"], "--plugin", base=tmp_path)


def test_a_broken_entry_point_names_its_distribution(tmp_path, monkeypatch):
    gone = {"mypkg-0.1.dist-info/entry_points.txt": "[genbench.models]\nmine = mypkg_gone\n"}
    install_package(tmp_path, monkeypatch, {**PACKAGE, **gone})
    with pytest.raises(PluginError, match=r"plug-in 'mypkg_gone' \(entry point 'mine' in group "
                       r"genbench.models of mypkg 0.1\) cannot be imported: No module named "
                       r"'mypkg_gone'; fix or uninstall mypkg"):
        models.available()


def test_suite_plugins_must_be_a_list_of_strings(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text('plugins = "mine.py"\nmodels = ["vae"]\ndatasets = ["sprites"]\nseeds = [0]\n')
    with pytest.raises(ConfigError, match="plugins must be a list of module names or paths"):
        load_suite(suite)


# -- errors at registration ---------------------------------------------------------------------
def test_a_plugin_taking_a_registered_name_is_refused_at_registration(tmp_path):
    (tmp_path / "clash.py").write_text(LINEAR_MODEL.replace('"linear-ae"', '"vae"'))
    with pytest.raises(PluginError, match=r"plug-in 'clash.py' \(--plugin\): model 'vae' is "
                       "already registered by genbench.models.vae; choose another name"):
        plugins.load(["clash.py"], "--plugin", base=tmp_path)
    (tmp_path / "one.py").write_text(LINEAR_MODEL)
    (tmp_path / "two.py").write_text(LINEAR_MODEL)
    plugins.load(["one.py"], "--plugin", base=tmp_path)
    with pytest.raises(PluginError, match=f"model 'linear-ae' is already registered by "
                       f"{tmp_path / 'one.py'}; choose another name"):
        plugins.load(["two.py"], "--plugin", base=tmp_path)
    with pytest.raises(PluginError, match="dataset 'mnist' is already registered by "
                       "genbench.datasets.mnist"):
        datasets.register_dataset(datasets.DatasetSpec("mnist", "mine", lambda *a: None))


@dataclass
class Config:
    width: int = 4


class Samples(GenerativeModel):
    def training_step(self, x, y):
        return {"loss": torch.zeros(())}

    def sample(self, n, labels=None):
        return torch.zeros(n, *self.image_shape)


class NoSample(GenerativeModel):
    training_step = Samples.training_step


class NoTraining(GenerativeModel):
    sample = Samples.sample


class Reconstructs(Samples):
    reconstructs = True


class Latent(Samples):
    latent = True


class Likelihood(Samples):
    likelihood = True

    def log_likelihood(self, x, k, y=None):
        return torch.zeros(len(x))


@pytest.mark.parametrize("cls, config, defaults, message", [
    (NoSample, Config, {}, r"model 'x' \(.*NoSample\) does not implement sample; every model "
                           r"needs sample\(n, labels=None\) and training_step"),
    (NoTraining, Config, {}, r"does not implement training_step; .*or optimization_step"),
    (Reconstructs, Config, {}, "declares reconstructs = True but does not implement "
                               "reconstruct; implement it or drop the capability"),
    (Latent, Config, {}, "declares latent = True but does not implement encode"),
    (Likelihood, Config, {}, "declares likelihood = True but does not implement "
                             "likelihood_kind"),
    (Samples, dict, {}, r"its config <class 'dict'> is not a dataclass; decorate it with "
                        r"@dataclasses.dataclass"),
    (Samples, Config, {"depth": 3}, r"its config Config cannot be built from the registered "
                                    r"defaults .*no setting \['depth'\]"),
    (torch.nn.Linear, Config, {}, "decorates .*Linear.*, which is not a subclass of "
                                  "genbench.models.GenerativeModel"),
])
def test_register_model_checks_the_class_and_its_config(cls, config, defaults, message):
    with pytest.raises(PluginError, match=message):
        register_model("x", config, **defaults)(cls)
    assert "x" not in models.available()


def test_a_complete_model_registers_and_builds():
    register_model("x", Config, width=8)(Samples)
    model = models.create("x", (1, 8, 8))
    assert model.config.width == 8 and model.sample(3).shape == (3, 1, 8, 8)
