"""`genbench score`: samples made elsewhere get the numbers a run gets for the same images.

A tiny suite trains one CVAE on generated sprites; its own samples, exported as files, are then
scored from a folder of PNGs, an .npz and a .pt, and must get the numbers the run's evaluation
gave them (same reference, n and feature space). Bad input gets a message and writes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY_SETTINGS
from PIL import Image

import genbench
from genbench import datasets
from genbench.benchmarks import store
from genbench.benchmarks.score import FAMILY, SOURCE, ScoredConfig, checked, measured_with
from genbench.benchmarks.supplied import (
    SamplesError,
    Supplied,
    as_images,
    read_labels,
    read_samples,
)
from genbench.cli import main
from genbench.errors import ConfigError
from genbench.metrics import generate
from genbench.settings import DataConfig, EvalConfig

SUITE = """
name = "scoring"
models = ["cvae"]
datasets = ["sprites"]
seeds = [0]
""" + TINY_SETTINGS
SAMPLE_KEYS = ["fid", "kid", "kid_std", "kid_subset", "precision", "recall", "f_score",
               "conditional_accuracy", "fid_extractor", "fid_samples", "fid_reference",
               "classifier_accuracy"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """A results directory with one trained CVAE, and the samples its evaluation measured
    (regenerated from its sampling weights with the evaluation's seed and batch size)."""
    tmp = tmp_path_factory.mktemp("scoring")
    (tmp / "suite.toml").write_text(SUITE.format(device="cpu"))
    out = tmp / "out"
    assert main(["benchmark", "--suite", str(tmp / "suite.toml"), "--out", str(out), "--quiet",
                 "--no-report"]) == 0
    run = genbench.load_run(out / "runs" / "cvae-sprites-s0", device="cpu")
    n, batch = run.config.eval.fid_samples, run.config.eval.batch_size
    labels = torch.arange(n) % run.model.num_classes  # as evaluate.measure conditions them
    samples, _ = generate(run.model, n, batch, labels, seed=run.config.seed)
    return {"out": out, "tmp": tmp, "run": run, "samples": samples, "labels": labels}


def same_numbers(scored: dict, run: dict) -> None:
    for key in SAMPLE_KEYS:
        expected = run[key] if isinstance(run[key], str) else pytest.approx(run[key], rel=1e-9)
        assert scored[key] == expected, key


def write_pngs(folder: Path, images: torch.Tensor) -> None:
    folder.mkdir(parents=True)
    for i, image in enumerate(images):
        Image.fromarray(image.squeeze(0).numpy()).save(folder / f"{i:04d}.png")


def test_an_npz_of_a_runs_samples_scores_as_the_run_did(trained):
    out, run = trained["out"], trained["run"]
    path = trained["tmp"] / "cvae-samples.npz"  # channels last, as numpy users keep images
    np.savez(path, samples=trained["samples"].permute(0, 2, 3, 1).numpy(),
             labels=trained["labels"].numpy())
    assert main(["score", str(path), "--dataset", "sprites", "--out", str(out)]) == 0
    directory = out / "runs" / "cvae-samples-sprites-scored"
    metrics = json.loads((directory / store.METRICS).read_text())
    same_numbers(metrics, run.metrics)
    assert metrics["source"] == SOURCE and metrics["family"] == FAMILY
    assert metrics["capabilities"]["conditional"] and metrics["num_supplied"] == 200
    assert "cvae-samples-sprites-scored" in json.loads((out / store.SUITE).read_text())["order"]
    assert sorted(p.name for p in directory.iterdir()) == [
        store.CONFIG, store.METRICS, store.SAMPLES, store.VISUALS]
    # the same samples again: measured anew; other samples under that name need --force
    assert main(["score", str(path), "--dataset", "sprites", "--out", str(out)]) == 0
    np.savez(path, samples=trained["samples"].flip(0).permute(0, 2, 3, 1).numpy())
    assert main(["score", str(path), "--dataset", "sprites", "--out", str(out)]) == 2
    assert json.loads((directory / store.METRICS).read_text()) == metrics


def test_a_png_folder_with_csv_labels_scores_the_first_n_as_the_run_did(trained):
    """More images than n: the first n (in file-name order) are measured, as a run measures n."""
    tmp, run = trained["tmp"], trained["run"]
    extra = torch.randint(0, 256, (40, 1, 28, 28), dtype=torch.uint8)
    write_pngs(tmp / "pngs", torch.cat([trained["samples"], extra]))
    labels = torch.cat([trained["labels"], torch.zeros(40, dtype=torch.long)])
    pd.DataFrame({"file": range(240), "label": labels.numpy()}).to_csv(tmp / "labels.csv",
                                                                      index=False)
    assert main(["score", str(tmp / "pngs"), "--dataset", "sprites", "--out",
                 str(trained["out"]), "--name", "pngs", "--labels", str(tmp / "labels.csv")]) == 0
    metrics = json.loads((trained["out"] / "runs" / "pngs-sprites-scored" / store.METRICS)
                         .read_text())
    same_numbers(metrics, run.metrics)
    assert metrics["num_supplied"] == 240


def test_the_api_scores_a_pt_file_and_a_float_tensor_as_the_run_did(trained):
    out, run = trained["out"], trained["run"]
    floats = trained["samples"].float() / 255  # N×C×H×W in [0, 1]
    torch.save({"samples": floats, "labels": trained["labels"]}, trained["tmp"] / "f.pt")
    same_numbers(genbench.score(trained["tmp"] / "f.pt", "sprites", out), run.metrics)
    same_numbers(genbench.score(floats, "sprites", out, "floats", labels=trained["labels"]),
                 run.metrics)
    # the control: another n is another measurement (so the equalities above mean something)
    fewer = genbench.score(floats, "sprites", out, "fewer", fid_samples=150)
    assert fewer["fid_samples"] == 150 and fewer["fid"] != pytest.approx(run.metrics["fid"])
    with pytest.raises(ConfigError, match="unknown setting"):
        genbench.score(floats, "sprites", out, "x", steps=3)


def test_settings_come_from_the_suite_in_out_else_the_defaults(trained, tmp_path):
    config = trained["run"].config
    data, evaluation = measured_with("sprites", trained["out"])
    assert (data, evaluation) == (config.data, config.eval)
    data, evaluation = measured_with("sprites", trained["out"], {"eval": {"fid_samples": 150},
                                                                  "data": {"options": {}}})
    assert evaluation.fid_samples == 150 and data.options == {"size": 28}
    data, evaluation = measured_with("sprites", tmp_path)
    assert evaluation == EvalConfig() and data.max_train is None and data.options == {}


def test_scored_runs_appear_in_the_report_beside_trained_ones(trained):
    out = trained["out"]
    genbench.score(trained["samples"], "sprites", out, "outside", labels=trained["labels"])
    assert main(["report", str(out)]) == 0
    frame = pd.read_csv(out / "results.csv").set_index("run")
    assert frame.loc["outside-sprites-scored", "family"] == "scored"
    assert frame.loc["outside-sprites-scored", "source"] == SOURCE
    assert frame.loc["cvae-sprites-s0", "fid"] == pytest.approx(
        frame.loc["outside-sprites-scored", "fid"])
    assert "| outside " in (out / "report.md").read_text()
    run = genbench.load_run(out / "runs" / "outside-sprites-scored")
    assert run.model is None and run.config.data.name == "sprites"
    assert run.metrics["source"] == SOURCE


def snapshot(folder: Path) -> dict:
    if not folder.exists():
        return {}
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def make_bad_input(kind: str, tmp: Path, good: torch.Tensor) -> tuple[list[str], str]:
    """(arguments after SAMPLES, the message) of one bad input, written under `tmp`."""
    if kind == "colour-32":
        np.save(tmp / "big.npy", np.random.default_rng(0).integers(0, 256, (200, 32, 32, 3),
                                                               np.uint8))
        return [str(tmp / "big.npy")], ("samples are 32×32 RGB, sprites is 28×28 grey: resize "
                                        "them or pick another dataset")
    if kind == "too-few":
        np.save(tmp / "few.npy", good[:50].numpy())
        return [str(tmp / "few.npy")], "holds 50 images; sprites runs are measured on n = 200"
    if kind == "unreadable":
        write_pngs(tmp / "pngs", good[:5])
        (tmp / "pngs" / "0002.png").write_bytes(b"not a png")
        return [str(tmp / "pngs")], f"cannot be read:\n  {tmp / 'pngs' / '0002.png'}"
    if kind == "empty":
        (tmp / "empty").mkdir()
        (tmp / "empty" / "notes.txt").write_text("no images here")
        return [str(tmp / "empty")], "holds no PNG or JPEG images"
    if kind == "unknown-format":
        (tmp / "samples.txt").write_text("1 2 3")
        return [str(tmp / "samples.txt")], "unknown samples format '.txt'"
    if kind == "floats-out-of-range":
        np.save(tmp / "signed.npy", np.full((200, 28, 28), -0.5, np.float32))
        return [str(tmp / "signed.npy")], "float images must lie in [0, 1]"
    if kind == "mixed-sizes":
        write_pngs(tmp / "mixed", good[:3])
        Image.new("L", (32, 32)).save(tmp / "mixed" / "0003.png")
        return [str(tmp / "mixed")], "mixes images of different sizes"
    np.save(tmp / "good.npy", good.numpy())
    if kind == "labels-count":
        np.save(tmp / "labels.npy", np.zeros(150, np.int64))
        return [str(tmp / "good.npy"), "--labels", str(tmp / "labels.npy")], \
            "150 labels for 200 samples"
    assert kind == "labels-range"
    (tmp / "labels.csv").write_text("\n".join(["7"] * 200) + "\n")
    return [str(tmp / "good.npy"), "--labels", str(tmp / "labels.csv")], \
        "labels range over 7..7; sprites has classes 0..2"


@pytest.mark.parametrize("kind", ["colour-32", "too-few", "unreadable", "empty", "unknown-format",
                                  "floats-out-of-range", "mixed-sizes", "labels-count",
                                  "labels-range"])
def test_bad_input_gets_its_message_and_writes_nothing(trained, tmp_path, capsys, kind):
    args, message = make_bad_input(kind, tmp_path, trained["samples"])
    # the suite's directory (its settings), and a new one (the defaults, here flags)
    for out, flags in ((trained["out"], []),
                       (tmp_path / "fresh", ["--option", "size=28", "--fid-samples", "200"])):
        before = snapshot(out)
        assert main(["score", *args, "--dataset", "sprites", "--out", str(out), *flags]) == 2
        assert message in capsys.readouterr().err
        assert snapshot(out) == before


def test_layouts_and_label_files_are_read_as_given(tmp_path):
    grey = torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8)
    assert torch.equal(as_images(grey.numpy(), "x"), grey.unsqueeze(1))
    rgb = torch.randint(0, 256, (6, 3, 8, 10), dtype=torch.uint8)
    assert torch.equal(as_images(rgb.permute(0, 2, 3, 1).numpy(), "x"), rgb)
    assert torch.equal(as_images(rgb.float() / 255, "x"), rgb)  # floats round back exactly
    with pytest.raises(SamplesError, match="1 \\(grey\\) or 3 \\(RGB\\) channels"):
        as_images(np.zeros((6, 5, 8, 8), np.uint8), "x")
    (tmp_path / "one.csv").write_text("2\n0\n1\n")
    assert read_labels(tmp_path / "one.csv").tolist() == [2, 0, 1]
    (tmp_path / "bad.csv").write_text("label\n2\ncat\n")
    with pytest.raises(SamplesError, match="line 3: 'cat' is not a class index"):
        read_labels(tmp_path / "bad.csv")
    np.savez(tmp_path / "s.npz", images=grey.numpy(), labels=np.arange(6))
    supplied = read_samples(tmp_path / "s.npz")
    assert supplied.labels.tolist() == list(range(6)) and supplied.images.shape == (6, 1, 28, 28)


def test_grey_images_saved_as_rgb_are_read_as_grey_and_colour_ones_refused():
    test = datasets.ImageData(torch.zeros(1, 1, 28, 28, dtype=torch.uint8), None,
                              {"num_classes": 3})
    config = ScoredConfig("x", DataConfig("sprites"), EvalConfig(fid_samples=4), "x", "0")
    grey = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    images, labels = checked(Supplied(grey.expand(-1, 3, -1, -1), None, "x"), test, config)
    assert torch.equal(images, grey[:4]) and labels is None
    colour = grey.repeat(1, 3, 1, 1)
    colour[0, 2, 0, 0] += 1
    with pytest.raises(SamplesError, match="samples are 28×28 RGB, sprites is 28×28 grey"):
        checked(Supplied(colour, None, "x"), test, config)
    with pytest.raises(SamplesError, match="labels range over 0..3; sprites has classes 0..2"):
        checked(Supplied(grey, torch.arange(5) % 4, "x"), test, config)
