"""`genbench compare A B`: two image sets (or a set and a dataset) through the one judge.

Small real data (generated sprites) and the tiny suites' cheap classifier (conftest's
TINY_SETTINGS: one epoch on 512 images, n = 200), so that the spaces train once per session.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

import genbench
from genbench import datasets
from genbench.benchmarks.compare import RUN_KEYS, compare, judge_against
from genbench.benchmarks.score import measured_with, score
from genbench.cli import build_parser, main
from genbench.cli import compare as compare_cli
from genbench.judge.inputs import held_out_order
from genbench.metrics import extract_features

N = 200
TINY = {"data": {"options": {"size": 28}, "max_train": 512},
        "eval": {"fid_samples": N, "classifier_epochs": 1, "batch_size": 100}}


def write_pngs(folder: Path, images: torch.Tensor) -> Path:
    folder.mkdir(parents=True)
    for i, image in enumerate(images):
        Image.fromarray(image.squeeze(0).numpy()).save(folder / f"{i:04d}.png")
    return folder


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict:
    """A: one sprite shape only (far from the held-out mix), as PNGs; B: held-out sprites,
    as an .npy; the reference a run on sprites measures against."""
    tmp = tmp_path_factory.mktemp("compare")
    train = datasets.load("sprites", "train", size=28)
    # beyond the first 512: no image of A is one the copy test compares with
    one_shape = train.images[600:][train.labels[600:] == 0][:N]
    # the held-out images a run on sprites is judged against: the split in the judges' order
    reference = held_out_order(datasets.load("sprites", "test", size=28)).images[:N]
    np.save(tmp / "b.npy", reference.numpy())
    return {"a": write_pngs(tmp / "a", one_shape), "b": tmp / "b.npy", "tmp": tmp,
            "a_images": one_shape, "reference": reference}


@pytest.fixture(scope="module")
def measured(sets) -> dict:
    """A against B, between two image sets in the sprites classifier's space."""
    return compare(sets["a"], sets["b"], "sprites", TINY)


def frechet(x: np.ndarray, y: np.ndarray) -> float:
    """The Fréchet distance of two feature sets' Gaussians, the textbook way (sqrtm)."""
    mu_x, mu_y = x.mean(0), y.mean(0)
    s_x, s_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    with warnings.catch_warnings():  # the tiny classifier's dead ReLUs: singular covariances
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(s_x @ s_y).real
    return float(((mu_x - mu_y) ** 2).sum() + np.trace(s_x + s_y - 2 * root))


def test_fid_of_two_sets_is_the_frechet_distance_of_their_features(sets, measured):
    result = measured
    data, evaluation = measured_with("sprites", None, TINY)
    space = judge_against(sets["reference"], data, evaluation).space
    x, y = (extract_features(images, space, 100).double().numpy()
            for images in (sets["a_images"], sets["reference"]))
    assert result["fid"] == pytest.approx(frechet(x, y), rel=1e-6)
    assert result["fid"] > 1e-3  # a distance, not rounding noise (the tiny space is small)
    assert (result["n_a"], result["n_b"], result["feature_space"]) == (N, N, "classifier")
    assert result["a"] == str(sets["a"]) and result["b"] == str(sets["b"])
    assert result["fid_lo"] <= result["fid"] <= result["fid_hi"]
    assert result["fid_selfsupervised"] > 0 and "kid_selfsupervised_hi" in result


def test_a_folder_against_a_dataset_is_score_and_is_the_dataset_as_images(sets, measured):
    against_name = compare(sets["a"], "sprites", changes=TINY)
    scored = score(sets["a"], "sprites", changes=TINY)
    assert against_name == {"a": str(sets["a"]), "b": "sprites (held-out)",
                            "dataset": "sprites", "feature_space": "classifier", "n_a": N,
                            "n_b": N, **{k: v for k, v in scored.items() if k not in RUN_KEYS}}
    # B given as the held-out images themselves: the same numbers by the other path
    assert {**measured, "b": "sprites (held-out)"} == against_name


def test_a_set_against_itself_is_at_distance_zero(sets):
    result = compare(sets["reference"], sets["reference"].clone(), "sprites", TINY)
    assert result["fid"] == pytest.approx(0, abs=1e-6)
    assert result["precision"] == result["recall"] == result["coverage"] == 1
    assert result["fid_selfsupervised"] == pytest.approx(0, abs=1e-6)
    assert result["b"] == "array"


def test_n_takes_the_first_n_of_each_set(sets):
    result = compare(sets["a"], sets["b"], "sprites",
                     {**TINY, "eval": {**TINY["eval"], "fid_samples": 150}})
    assert (result["n_a"], result["n_b"]) == (150, 150)


def bad_input(kind: str, tmp: Path, good: Path) -> tuple[list[str], str]:
    """(the command's arguments, its message) of one bad input, written under `tmp`."""
    if kind == "missing-folder":
        return [str(tmp / "nowhere"), str(good), "--dataset", "sprites"], "does not exist"
    if kind == "mistyped-dataset":
        return [str(good), "sprits"], "sprits does not exist, and is no dataset (celeba"
    if kind == "dataset-first":
        return ["sprites", str(good)], "put the dataset second"
    if kind == "no-dataset":
        return [str(good), str(good)], "pass --dataset NAME"
    if kind == "sizes-differ":
        np.save(tmp / "big.npy", np.zeros((N, 32, 32), np.uint8))
        return [str(good), str(tmp / "big.npy"), "--dataset", "sprites"], \
            "A is 28×28 grey, B is 32×32 grey: compare images of one size"
    assert kind == "too-few"
    return [str(good), str(good), "--dataset", "sprites", "--fid-samples", "500",
            "--option", "size=28"], f"holds {N} images, fewer than --fid-samples 500"


@pytest.mark.parametrize("kind", ["missing-folder", "mistyped-dataset", "dataset-first",
                                  "no-dataset", "sizes-differ", "too-few"])
def test_bad_input_is_one_line_and_exit_2(sets, tmp_path, capsys, kind):
    args, message = bad_input(kind, tmp_path, sets["a"])
    assert main(["compare", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_the_command_prints_a_table_or_json(sets, measured, monkeypatch, capsys):
    result, asked = measured, {}

    def fake(a, b, dataset, **kwargs):  # the API's numbers are the tests above
        asked.update(a=a, b=b, dataset=dataset, **kwargs)
        return {**result, "kid_lo": float("nan")}

    monkeypatch.setattr(genbench.api, "compare", fake)
    args = [str(sets["a"]), str(sets["b"]), "--dataset", "sprites", "--fid-samples", "200",
            "--option", "size=28"]
    assert main(["compare", *args]) == 0
    table = capsys.readouterr().out
    assert asked == {"a": str(sets["a"]), "b": str(sets["b"]), "dataset": "sprites",
                     "options": {"size": 28}, "fid_samples": 200}
    assert f"A  {sets['a']}  (n={N})" in table and "features: classifier" in table
    lines = {line.split()[0] + " " + line.split()[1]: line for line in table.splitlines()[4:]}
    assert set(lines) == {"metric space", "FID classifier", "KID classifier",
                          "precision classifier", "recall classifier", "density classifier",
                          "coverage classifier", "FD selfsupervised", "KID selfsupervised"}
    assert f"{result['fid']:.4g} " in lines["FID classifier"]
    assert f"[{result['fid_lo']:.4g}, {result['fid_hi']:.4g}]" in lines["FID classifier"]
    assert main(["compare", *args, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)  # strict JSON: NaN is null
    assert printed["fid"] == result["fid"] and printed["kid_lo"] is None


def test_help_lists_every_command(capsys):
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert {"score", "compare", "benchmark", "report"} <= set(commands)
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    described = " ".join(text.split("positional arguments")[0].split())  # unwrapped
    for command in commands:
        assert f" {command}," in described or f" {command}." in described, command
        assert f"\n    {command} " in text, command
    assert compare_cli.ROWS  # the command's module is the one registered
