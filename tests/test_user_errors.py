"""Bad input that used to give a traceback or a silently wrong result: huge and 16-bit images
in a folder dataset, `genbench sample` flags, a read-only results folder for `report`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genbench import datasets
from genbench.cli import main
from genbench.datasets.folder import open_images


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    # decoded folders are cached: each test decodes its own images
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path / "cache"))


def _refused(argv: list[str], capsys) -> str:
    """The one-line error of a refused command."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("genbench: error: "), err
    assert len(err.strip().splitlines()) == 1, err
    return err


# -- huge images (PIL's decompression-bomb check) ------------------------------------------

def _folder(tmp_path, big: int = 16):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(20):
        Image.new("L", (16, 16), 10 * i).save(folder / f"{i}.png")
    Image.new("L", (big, big)).save(folder / "huge.png")
    return folder


def test_an_image_too_large_for_pil_is_named_with_its_size_and_the_fix(
        tmp_path, monkeypatch, capsys):
    folder = _folder(tmp_path, big=40)  # 1,600 pixels, over 2 x 500: PIL refuses it
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)
    err = _refused(["data", "prepare", "folder", "--data-root", str(folder)], capsys)
    assert str(folder / "huge.png") in err and "1,600 pixels" in err, err
    assert "over 1,000 pixels (2 x Image.MAX_IMAGE_PIXELS" in err and "resize" in err, err
    assert "remove them from the folder" in err, err


def test_an_image_over_the_warning_limit_is_decoded_with_a_warning_naming_it(
        tmp_path, monkeypatch):
    folder = _folder(tmp_path, big=40)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1,600: PIL only warns
    with pytest.warns(UserWarning, match=r"huge.png is 40x40 = 1,600 pixels, over "
                      r"Image.MAX_IMAGE_PIXELS = 1,000.*resize it"):
        images = open_images([folder / "huge.png"])
    assert images[0].size == (40, 40)


# -- 16-bit images ---------------------------------------------------------------------------

def _grey_pair(tmp_path) -> tuple:
    """The same random grey images saved as 8-bit and as 16-bit (x 257) PNGs."""
    rng = np.random.default_rng(0)
    eight, sixteen = tmp_path / "eight", tmp_path / "sixteen"
    eight.mkdir(), sixteen.mkdir()
    for i in range(30):
        pixels = rng.integers(0, 256, (16, 16), dtype=np.uint8)
        pixels[0, :2] = 0, 255  # the extremes too
        Image.fromarray(pixels).save(eight / f"{i}.png")
        wide = Image.fromarray(pixels.astype(np.uint16) * 257)
        assert wide.mode == "I;16"
        wide.save(sixteen / f"{i}.png")
    return eight, sixteen


@pytest.mark.parametrize("split", ["train", "test"])
def test_a_16_bit_png_reads_as_its_8_bit_original(tmp_path, split):
    eight, sixteen = _grey_pair(tmp_path)
    assert Image.open(sixteen / "0.png").mode in ("I;16", "I")
    a = datasets.load("folder", split, root=eight)
    b = datasets.load("folder", split, root=sixteen)
    assert a.images.dtype == b.images.dtype == torch.uint8
    assert torch.equal(a.images, b.images)
    assert b.meta["channels"] == 1


def test_16_bit_values_are_rounded_to_8_bit(tmp_path):
    values = np.array([[0, 128, 129, 257, 65535, 65534, 32767, 32768]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "x.png")
    (image,) = open_images([tmp_path / "x.png"])
    assert image.mode == "L"
    assert np.asarray(image).tolist() == [[0, 0, 1, 1, 255, 255, 127, 128]]


def test_32_bit_grey_values_are_refused(tmp_path):
    Image.fromarray(np.array([[0, 70000]], dtype=np.int32)).save(tmp_path / "x.tif")
    with pytest.raises(datasets.DatasetCorrupt, match=r"x.tif holds 'I' pixels outside "
                       r"0..65535.*8- or 16-bit"):
        open_images([tmp_path / "x.tif"])


# -- genbench sample ------------------------------------------------------------------------

def _train(root, model: str) -> str:
    # the data of test_cli's trained run: the classifier and encoder it caches are shared
    run = root / model
    assert main(["train", "--model", model, "--dataset", "sprites", "--option", "size=28",
                 "--max-train", "256", "--steps", "2", "--batch-size", "32", "--out", str(run),
                 "--quiet"]) == 0
    return str(run)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("runs")
    return {model: _train(root, model) for model in ("vae", "cvae")}


SAMPLE_CASES = {
    "nrow 0": (lambda r, t: [r["vae"], "--nrow", "0", "--out", str(t / "s.png")],
               "--nrow (images per row of the grid) must be at least 1, got 0"),
    "out is a directory": (lambda r, t: [r["vae"], "--out", str(t)],
                           "names a directory; give a file path ending in .png"),
    "out not a png": (lambda r, t: [r["vae"], "--out", str(t / "s.jpg")], "ending in .png"),
    "out under a file": (lambda r, t: [r["vae"], "--out", str(t / "s.png" / "x.png")],
                         "is a file, not a directory"),
    "label, unconditional": (lambda r, t: [r["vae"], "--label", "2", "--out", str(t / "s.png")],
                             "model vae is unconditional; --label is for conditional models "
                             "(cvae)"),
    "label out of range": (lambda r, t: [r["cvae"], "--label", "7", "--out", str(t / "s.png")],
                           "--label 7 is out of range: cvae was trained on 3 classes; choose "
                           "0 to 2"),
    "negative label": (lambda r, t: [r["cvae"], "--label", "-1", "--out", str(t / "s.png")],
                       "--label -1 is out of range"),
}


@pytest.mark.parametrize("case", list(SAMPLE_CASES))
def test_bad_sample_flags_are_refused(case, trained, tmp_path, capsys):
    out = tmp_path / "out"  # apart from the dataset cache in tmp_path
    out.mkdir()
    if case == "out under a file":
        (out / "s.png").write_text("a file")
    argv, message = SAMPLE_CASES[case]
    before = sorted(p.name for p in out.iterdir())
    err = _refused(["sample", *argv(trained, out)], capsys)
    assert message in err, err
    assert sorted(p.name for p in out.iterdir()) == before  # nothing written


def test_good_sample_flags_still_work(trained, tmp_path, capsys):
    assert main(["sample", trained["cvae"], "--label", "2", "--n", "4", "--nrow", "2",
                 "--out", str(tmp_path / "grid.png")]) == 0
    assert Image.open(tmp_path / "grid.png").size == (2 * 30 + 2, 2 * 30 + 2)
    assert main(["sample", trained["vae"], "--n", "3", "--nrow", "1"]) == 0
    assert Image.open(Path(trained["vae"]) / "samples-cli.png").size == (32, 3 * 30 + 2)


# -- genbench report on a read-only folder ---------------------------------------------------

@pytest.fixture
def read_only(tmp_path):
    """A results folder (of one failed run: enough for a report) that even root cannot write:
    immutable (chattr +i) as root, whom permission bits do not stop; mode 0o555 otherwise."""
    folder = tmp_path / "results"
    (folder / "runs" / "vae-sprites-s0").mkdir(parents=True)
    (folder / "runs" / "vae-sprites-s0" / "failed.json").write_text(json.dumps(
        {"run": "vae-sprites-s0", "stage": "train", "error": "RuntimeError: boom"}))
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(folder)],
                                                    capture_output=True).returncode:
        pytest.skip("no way to make a folder read-only for root here (chattr +i)")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_report_on_a_read_only_results_folder_is_refused(read_only, capsys):
    err = _refused(["report", str(read_only)], capsys)
    assert f"cannot write the report into {read_only}: it is not writable" in err, err
    assert "chmod -R u+w" in err and "cp -r" in err, err
    assert [p.name for p in read_only.iterdir()] == ["runs"]  # nothing written


def test_report_on_a_writable_copy_still_works(read_only, tmp_path, capsys):
    shutil.copytree(read_only, tmp_path / "copy")
    assert main(["report", str(tmp_path / "copy")]) == 0
    assert (tmp_path / "copy" / "report.html").exists()
