"""The plug-in example (examples/my_model.py and its suite examples/my_model.toml) runs as
the README shows it, and its runs reopen with `--plugin` given after the subcommand."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from genbench import plugins
from genbench.cli import main
from genbench.models import registry as model_base

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "my_model.py"


@pytest.fixture(autouse=True)
def registries(monkeypatch):
    """The example's model leaves the registry, and its plug-in the process, afterwards."""
    saved, modules = dict(model_base._REGISTRY), set(sys.modules)
    for name, value in {"_files": {}, "_loaded": []}.items():
        monkeypatch.setattr(plugins, name, value)
    monkeypatch.setenv(plugins.ENV, "")  # recorded, so that teardown removes what main sets
    monkeypatch.delenv(plugins.ENV)
    monkeypatch.chdir(ROOT)  # the README's commands run from the checkout's root
    yield
    model_base._REGISTRY.clear()
    model_base._REGISTRY.update(saved)
    for name in set(sys.modules) - modules:
        if name.startswith("genbench_plugin_"):
            del sys.modules[name]


def forget_plugins(monkeypatch) -> None:
    """This process as a new one sees it: the built-in models only."""
    model_base._REGISTRY.pop("my-vae", None)
    monkeypatch.setattr(plugins, "_files", {})
    monkeypatch.setattr(plugins, "_loaded", [])
    monkeypatch.delenv(plugins.ENV, raising=False)


@pytest.mark.slow
def test_the_plugin_example_runs_its_suite_and_its_runs_reopen_with_the_plugin(
        tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert main(["benchmark", "--suite", "examples/my_model.toml", "--out", str(out),
                 "--quiet"]) == 0
    run = out / "runs" / "my-vae-sprites-s0"
    metrics = json.loads((run / "metrics.json").read_text())
    assert math.isfinite(metrics["fid"]) and metrics["capabilities"]["reconstructs"]
    assert metrics["model_source"] == str(PLUGIN)  # where the model came from
    builtin = json.loads((out / "runs" / "vae-sprites-s0" / "metrics.json").read_text())
    assert builtin["model_source"] == "genbench.models.vae"

    forget_plugins(monkeypatch)
    capsys.readouterr()
    for command in ("sample", "evaluate"):
        assert main([command, str(run)]) == 2
        error = capsys.readouterr().err
        assert f"model 'my-vae' of the plug-in {PLUGIN}" in error
        assert f"genbench {command} {run} --plugin {PLUGIN}" in error

    grid = tmp_path / "grid.png"
    assert main(["sample", str(run), "--plugin", "examples/my_model.py", "--n", "4",
                 "--out", str(grid)]) == 0
    assert grid.stat().st_size > 0
    forget_plugins(monkeypatch)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--plugin", str(PLUGIN)]) == 0
    assert json.loads(capsys.readouterr().out)["fid"] == pytest.approx(metrics["fid"])


def test_the_readme_shows_the_plugin_example_whole():
    """The plug-in in the README is examples/my_model.py, line for line: what the test above
    runs is what a reader copies."""
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("```python\n") + len("```python\n"):]
    assert block[:block.index("```")] == PLUGIN.read_text()
