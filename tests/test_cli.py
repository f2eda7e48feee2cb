"""Every bad input is refused before work starts: a message naming the value and the
allowed ones, exit status 2. Damaged files give clear errors, not tracebacks."""

from __future__ import annotations

import gzip
import struct

import pytest
from PIL import Image

from genbench.cli import main


def _folder(tmp_path, case):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(20):
        size = (16, 16) if case != "sizes" or i % 2 else (20, 20)
        mode = "RGB" if case == "modes" and i % 2 else "L"
        Image.new(mode, size).save(folder / f"{i}.png")
    if case == "unreadable":
        (folder / "broken.png").write_bytes(b"\x89PNG broken")
    if case == "empty":
        for p in folder.iterdir():
            p.unlink()
    return str(folder)


def _truncated_mnist(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix in ("train", "t10k"):
        header = struct.pack(">IIII", 0x0803, 100, 28, 28)
        (raw / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + b"\0" * 99))
        (raw / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(struct.pack(">II", 0x0801, 100) + bytes(100)))
    return str(tmp_path)


def _bad_toml(tmp_path, text):
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return str(path)


CASES = {
    "unknown model": (lambda t: ["train", "--model", "vea", "--dataset", "sprites"],
                      "unknown model 'vea'; choose one of: ae, vae"),
    "unknown dataset": (lambda t: ["train", "--model", "vae", "--dataset", "mnsit"],
                        "unknown dataset 'mnsit'; choose one of"),
    "unknown suite": (lambda t: ["benchmark", "--suite", "quik"],
                      "unknown suite 'quik'; choose one of: celeba, full, nll, quick, seed, smoke"),
    "unknown benchmark model": (lambda t: ["benchmark", "--suite", "smoke", "--models", "gna"],
                                "unknown model 'gna'"),
    "malformed TOML": (lambda t: ["benchmark", "--suite", _bad_toml(t, "models = [vae")],
                       "is not valid TOML"),
    "unknown TOML key": (lambda t: ["benchmark", "--suite", _bad_toml(
        t, 'models=["vae"]\ndatasets=["sprites"]\nseeds=[0]\n[train]\nstep = 3')],
        "[train] has no setting ['step']"),
    "zero budget in TOML": (lambda t: ["benchmark", "--suite", _bad_toml(
        t, 'models=["vae"]\ndatasets=["sprites"]\nseeds=[0]\n[train]\nsteps = 0')],
        "the steps budget must be greater than 0, got 0"),
    "negative budget": (lambda t: ["train", "--model", "vae", "--dataset", "sprites",
                                   "--seconds", "-5"],
                        "the seconds budget must be greater than 0, got -5"),
    "latent size 0": (lambda t: ["train", "--model", "vae", "--dataset", "sprites", "--set",
                                 "latent_dim=0"], "latent_dim must be greater than 0, got 0"),
    "negative beta": (lambda t: ["train", "--model", "beta-vae", "--dataset", "sprites", "--set",
                                 "beta=-1"], "beta must be 0 or more, got -1"),
    "unknown model setting": (lambda t: ["train", "--model", "vae", "--dataset", "sprites",
                                         "--set", "latent=2"], "has no setting ['latent']"),
    "batch larger than data": (lambda t: ["train", "--model", "vae", "--dataset", "sprites",
                                          "--max-train", "10", "--batch-size", "64", "--out",
                                          str(t / "run"), "--quiet"],
                               "batch size 64 is larger than the 10 images"),
    "bad extractor": (lambda t: ["benchmark", "--suite", _bad_toml(
        t, 'models=["vae"]\ndatasets=["sprites"]\nseeds=[0]\n[train]\nsteps = 5\n'
           '[eval]\nextractor = "clip"')],
        "unknown feature extractor 'clip'; choose one of: classifier, inception"),
    "bad binarisation": (lambda t: ["benchmark", "--suite", _bad_toml(
        t, 'models=["vae"]\ndatasets=["sprites"]\nseeds=[0]\n[train]\nsteps = 5\n'
           '[data]\nbinarize = "yes"')],
        "binarize must be one of: none, dynamic, static; got 'yes'"),
    "empty folder": (lambda t: ["data", "prepare", "folder", "--data-root", _folder(t, "empty")],
                     "contains no images"),
    "unreadable image": (lambda t: ["data", "prepare", "folder", "--data-root",
                                    _folder(t, "unreadable")], "cannot be read"),
    "mixed sizes": (lambda t: ["data", "prepare", "folder", "--data-root", _folder(t, "sizes")],
                    "different sizes"),
    "mixed modes": (lambda t: ["data", "prepare", "folder", "--data-root", _folder(t, "modes")],
                    "mixes grey and colour"),
    "truncated dataset file": (lambda t: ["data", "prepare", "mnist", "--data-root",
                                          _truncated_mnist(t), "--no-download"],
                               "train-images-idx3-ubyte"),
    "missing dataset offline": (lambda t: ["benchmark", "--suite", "smoke", "--datasets",
                                           "mnist", "--data-root", str(t / "none"),
                                           "--no-download", "--out", str(t / "out")],
                                "sprites"),
    "benchmark batch larger than data": (lambda t: ["benchmark", "--suite", "smoke",
                                                    "--datasets", "sprites", "--batch-size",
                                                    "4096", "--out", str(t / "out")],
                                         "batch size 4096 is larger than the 2000 images"),
    "out is a file": (lambda t: ["benchmark", "--suite", "smoke", "--datasets", "sprites",
                                 "--out", _file(t)], "is a file, not a directory"),
    "train out inside the data": (lambda t: ["train", "--model", "vae", "--dataset", "folder",
                                             "--data-root", _folder(t, "ok"), "--out",
                                             str(t / "imgs" / "run")], "inside the data root"),
    "evaluate a non-run": (lambda t: ["evaluate", str(t)], "not a genbench run directory"),
    "report of nothing": (lambda t: ["report", str(t / "absent")], "does not exist"),
    "missing FID weights": (lambda t: ["benchmark", "--suite", "smoke", "--datasets", "sprites",
                                       "--extractor", "inception", "--fid-weights",
                                       str(t / "w.pth"), "--out", str(t / "out")],
                            "does not exist"),
}


def _file(tmp_path) -> str:
    (tmp_path / "results").write_text("not a directory")
    return str(tmp_path / "results")


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_with_a_clear_message(case, tmp_path, capsys):
    argv, message = CASES[case]
    assert main(argv(tmp_path)) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing was written before the refusal


def test_tiny_fid_sample_count_warns(tmp_path, capsys):
    argv = ["benchmark", "--suite", "smoke", "--datasets", "mnist", "--fid-samples", "50",
            "--data-root", str(tmp_path), "--no-download", "--out", str(tmp_path / "out")]
    main(argv)
    assert "FID on 50 samples is strongly biased" in capsys.readouterr().err


def test_truncated_checkpoint_is_a_clear_error(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "--model", "vae", "--dataset", "sprites", "--option", "size=28",
            "--max-train", "256", "--steps", "5", "--batch-size", "32", "--out", str(run),
            "--quiet"]
    assert main(argv) == 0
    assert (run / "samples.png").exists() and (run / "reconstructions.png").exists()
    (run / "checkpoint.pt").write_bytes((run / "checkpoint.pt").read_bytes()[:1000])
    assert main(["evaluate", str(run)]) == 2
    assert "cannot be read" in capsys.readouterr().err


def test_data_list_and_models(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["data", "list", "--data-root", str(tmp_path)]) == 0  # an empty data root
    out = capsys.readouterr().out
    assert "sprites" in out and "generated by genbench" in out
    start = out.index("\nceleba:\n")  # its whole section, wrapped (the next one may be
    celeba = out[start:out.index("\n\n", start + 1)]  # fashion-mnist's, where not installed)
    assert "list_eval_partition.txt" in celeba and celeba.rstrip().endswith("that has them.")
    assert all(len(line) <= 80 or " " not in line.strip().removeprefix("- ")  # a long path
               for line in celeba.splitlines())
    assert main(["models"]) == 0
    assert "diffusion" in capsys.readouterr().out
