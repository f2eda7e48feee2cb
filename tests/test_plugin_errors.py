"""The errors a plug-in author meets, each with its message: at import (the import error,
and the suite file, flag or entry point that named the plug-in) and at registration (never
deep in training)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from test_plugins import (  # noqa: F401  (registries: the fixture that restores the registries)
    LINEAR_MODEL,
    PACKAGE,
    install_package,
    registries,
    write_suite,
)

from genbench import datasets, models, plugins
from genbench.errors import ConfigError
from genbench.models import GenerativeModel, register_model
from genbench.plugins import PluginError
from genbench.settings import load_suite


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
