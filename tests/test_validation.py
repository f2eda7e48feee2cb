"""Every setting is checked against the type of the field it fills, wherever it comes from
(`--set`, `--option`, suite tables, config.json), and output directories before any work:
a one-line message naming the setting and what it must be, exit status 2, nothing written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import pytest

from genbench.cli import main
from genbench.errors import ConfigError
from genbench.paths import check_output_dir
from genbench.settings import DataConfig, RunConfig
from genbench.validation import admits, check_value, describe

SPRITES = ["train", "--model", "vae", "--dataset", "sprites", "--steps", "2", "--quiet"]
SUITE = 'models = ["vae"]\ndatasets = ["sprites"]\nseeds = {seeds}\n[train]\nsteps = 2\n'

COMMAND_LINE = {
    "--set text for an integer": (["--set", "latent_dim=abc"],
                                  "vae: latent_dim must be an integer, got 'abc'"),
    "--set a fraction for an integer": (["--set", "latent_dim=2.5"],
                                        "latent_dim must be an integer, got 2.5"),
    "--set a bad list element": (["--set", 'hidden=[512, "wide"]'],
                                 "hidden must be a list of integers, got [512, 'wide']"),
    "--set a number for a list": (["--set", "hidden=5"], "hidden must be a list of integers"),
    "--set true for a number": (["--set", "sigma=true"], "sigma must be a number, got True"),
    "--set a number for a string": (["--set", "likelihood=3"],
                                    "likelihood must be a string, got 3"),
    "--option text for an integer": (["--option", "size=big"],
                                     "dataset 'sprites': option size must be an integer, got "
                                     "'big'"),
    "--option unknown": (["--option", "colour=1"],
                         "dataset 'sprites' has no option ['colour']; options: size"),
}


@pytest.mark.parametrize("case", list(COMMAND_LINE))
def test_command_line_settings_are_type_checked(case, tmp_path, capsys):
    extra, message = COMMAND_LINE[case]
    out = tmp_path / "out"
    assert main([*SPRITES, "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


SUITE_TABLES = {
    "[train] text for a number": ("lr = 'fast'",  # goes on in the suite's [train] table
                                  "[train] lr must be a number, got 'fast'"),
    "[eval] a fraction for a count": ("[eval]\nfid_samples = 1.5",
                                      "[eval] fid_samples must be an integer, got 1.5"),
    "[data] text for a count": ("[data]\nmax_train = '10'",
                                "[data] max_train must be an integer or None, got '10'"),
    "[data] text for a switch": ("[data]\ndownload = 'yes'",
                                 "[data] download must be true or false, got 'yes'"),
    "[dataset.X] option type": ("[dataset.sprites]\nsize = 'big'",
                                "dataset 'sprites': option size must be an integer"),
    "[model.X] config type": ("[model.vae]\nconfig = { latent_dim = 'x' }",
                              "vae: latent_dim must be an integer, got 'x'"),
    "[model.X] train type": ("[model.vae]\ntrain = { batch_size = 'many' }",
                             "[model.vae.train] batch_size must be an integer, got 'many'"),
    "[model.X] config not a table": ("[model.vae]\nconfig = 5",
                                     "[model.vae.config] must be a table of settings"),
    "[model] entry not a table": ("[model]\nvae = 5", "[model.vae] must be a table"),
    "[dataset] entry not a table": ("[dataset]\nsprites = 'big'",
                                    "[dataset.sprites] must be a table"),
    "[data] options not a table": ("[data]\noptions = 5", "[data.options] must be a table"),
    "resources type": ("resources = { num_cpus = '2' }",
                       "[resources] num_cpus must be an integer or None, got '2'"),
}


def _suite(tmp_path: Path, text: str, seeds: str = "[0]") -> str:
    # top-level keys (resources = ...) must come before the first table
    head, tables = (text, "") if text.startswith("resources") else ("", text)
    path = tmp_path / "suite.toml"
    path.write_text(head + "\n" + SUITE.format(seeds=seeds) + tables + "\n")
    return str(path)


@pytest.mark.parametrize("case", list(SUITE_TABLES))
def test_suite_settings_are_type_checked(case, tmp_path, capsys):
    text, message = SUITE_TABLES[case]
    out = tmp_path / "out"
    assert main(["benchmark", "--suite", _suite(tmp_path, text), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err
    assert not out.exists()


def test_suite_seeds_are_type_checked(tmp_path, capsys):
    suite = _suite(tmp_path, "", seeds='["first"]')
    assert main(["benchmark", "--suite", suite, "--out", str(tmp_path / "out")]) == 2
    assert "seed must be an integer, got 'first'" in capsys.readouterr().err


def test_a_hand_edited_config_json_is_checked():
    good = RunConfig(name="vae", model="vae", data=DataConfig("sprites")).to_dict()
    RunConfig.from_dict(good)
    for section, key, value, message in [
            ("eval", "curve_samples", "1000", "[eval] curve_samples must be an integer"),
            ("data", "options", {"size": 2.0}, "option size must be an integer, got 2.0"),
            ("model_config", "latent_dim", [2], "vae: latent_dim must be an integer")]:
        bad = {**good, section: {**good[section], key: value}}
        with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
            RunConfig.from_dict(bad)


def test_the_checker_reads_annotations_as_python_does():
    assert admits(float, 3) and not admits(int, 3.0) and not admits(int, True)
    assert admits(int | None, None) and not admits(int | None, "1")
    assert admits(tuple[int, ...], [1, 2]) and admits(tuple[int, str], (1, "a"))
    assert not admits(tuple[int, str], (1, 2)) and not admits(tuple[int, str], (1,))
    assert admits(dict[str, int], {"a": 1}) and not admits(dict[str, int], {"a": "b"})
    assert admits(Literal["a", "b"], "a") and not admits(Literal["a", "b"], "c")
    assert describe(tuple[int, ...] | None) == "a list of integers or None"
    with pytest.raises(ConfigError, match="mode must be one of 'a', 'b', got 'c'"):
        check_value("mode", "c", Literal["a", "b"])


# -- output directories ------------------------------------------------------------------

def test_an_output_that_is_a_file_is_refused(tmp_path):
    file = tmp_path / "report.txt"
    file.write_text("mine")
    with pytest.raises(ConfigError, match="--out .*report.txt is a file, not a directory"):
        check_output_dir(file)
    with pytest.raises(ConfigError, match="cannot be created: .*report.txt is a file"):
        check_output_dir(file / "runs", flag="--out")
    assert file.read_text() == "mine"


def test_an_unwritable_output_is_refused(tmp_path):
    if os.geteuid() == 0:  # root writes through permission bits; /proc refuses even root
        locked = Path("/proc")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
    with pytest.raises(ConfigError, match="cannot be written .*is not writable"):
        check_output_dir(locked / "out")
    assert not (locked / "out").exists()


def test_an_output_inside_the_data_root_is_refused(tmp_path):
    root = tmp_path / "data"
    (root / "MNIST").mkdir(parents=True)
    for inside in (root, root / "MNIST" / "out", root / "new" / "deeper"):
        with pytest.raises(ConfigError, match="is inside the data root"):
            check_output_dir(inside, root)
    with pytest.raises(ConfigError, match="is inside the data root"):  # however it is spelled
        check_output_dir(root / ".." / "data" / "x", tmp_path / "." / "data")


def test_a_good_output_passes_and_nothing_is_created(tmp_path, monkeypatch):
    root = tmp_path / "data"
    root.mkdir()
    check_output_dir(tmp_path / "reports" / "quick", root)  # missing: created later
    check_output_dir(tmp_path, root)  # an existing directory
    monkeypatch.chdir(tmp_path)
    check_output_dir(Path("runs/x"), Path("data"))  # relative paths
    check_output_dir(Path("datasets-out"), Path("data"))  # a prefix is not a parent
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
