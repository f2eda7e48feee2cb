"""The benchmark runner end to end: reports, resume after kills, locks, failures,
determinism. Everything runs on generated sprites with tiny budgets."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import TINY_SETTINGS, run_table

from genbench import models
from genbench.benchmarks import store
from genbench.benchmarks.runner import planned_runs
from genbench.cli import main
from genbench.settings import available_suites, load_suite

TINY = """
name = "{name}"
models = {models}
datasets = ["sprites"]
seeds = [0]
""" + TINY_SETTINGS + """
[model.gan]
config = {{ width = 8 }}

[model.diverges]
model = "vae"
train = {{ lr = 1e30 }}
"""
QUALITY = ["fid", "kid", "precision", "recall", "mse", "psnr", "ssim", "nll_k1", "nll_k5",
           "conditional_accuracy", "params", "train_steps"]


def tiny_suite(tmp_path: Path, models=("vae", "cvae", "gan"), name="tiny") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(TINY.format(name=name, models=json.dumps(list(models)), device="cpu"))
    return path


def benchmark(suite: Path, out: Path, *extra: str) -> int:
    return main(["benchmark", "--suite", str(suite), "--out", str(out), "--quiet", *extra])


def quality(out: Path) -> pd.DataFrame:
    return run_table(out, QUALITY)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
    """An uninterrupted run of the tiny suite, the baseline of every comparison."""
    tmp = tmp_path_factory.mktemp("reference")
    suite = tiny_suite(tmp)
    assert benchmark(suite, tmp / "out") == 0
    return suite, tmp / "out"


def test_report_has_one_row_per_run_and_every_capability_measured(reference):
    _, out = reference
    for name in ("results.csv", "results.json", "report.md", "report.html", "summary.csv"):
        assert (out / name).stat().st_size > 0, name
    frame = pd.read_csv(out / "results.csv")
    assert sorted(frame["run"]) == ["cvae-sprites-s0", "gan-sprites-s0", "vae-sprites-s0"]
    assert (frame["status"] == "done").all()
    needs = {"can_reconstructs": ["mse", "bce", "psnr", "ssim"],
             "can_likelihood": ["nll_k1", "nll_k5", "bpd_k1", "bpd_k5"],
             "can_conditional": ["conditional_accuracy"]}
    for _, row in frame.iterrows():
        assert pd.notna(row[["fid", "kid", "precision", "recall", "params",
                             "train_seconds", "sample_images_per_second"]]).all()
        for capability, columns in needs.items():
            assert pd.notna(row[columns]).all() == bool(row[capability]), (row["run"], columns)
    assert row["fid_extractor"] == "classifier" and row["fid_samples"] == 200
    conventions = frame.set_index("model")["likelihood_convention"]
    assert conventions["vae"] == conventions["cvae"] == (
        "binarized pixels (dynamic, seed 0; trained on grey levels)")
    assert pd.isna(conventions["gan"])
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "FID [classifier, n=200]" in html
    assert "src='figures" not in html  # self-contained
    figures = {p.name for p in (out / "figures").iterdir()}
    for name in ("headline", "samples", "progress", "reconstructions", "curves", "sample-quality",
                 "latent-map", "interpolations", "traversals", "label-grid"):
        assert f"sprites-{name}.png" in figures and f"sprites-{name}.pdf" in figures
    assert (out / "slides.pdf").read_bytes().startswith(b"%PDF")
    # memory that differs between models and says what it measures
    assert frame["peak_memory_mb"].nunique() == len(frame)
    assert "peak MB (CPU, live tensors in a training step)" in html
    visuals = torch.load(out / "runs/vae-sprites-s0/visuals.pt", weights_only=False)
    assert visuals["latent_label_names"] == ["square", "ellipse", "heart"]  # the legend's
    umask = os.umask(0o022)
    os.umask(umask)
    modes = {stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_file()}
    assert modes == {0o666 & ~umask}  # readable by others under the usual umask 022


def test_rerun_skips_finished_runs(reference, capsys):
    suite, out = reference
    before = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/metrics.json")}
    assert benchmark(suite, out, "--no-report") == 0
    assert "0 run(s) done, 3 already complete" in capsys.readouterr().out
    assert before == {p: p.stat().st_mtime_ns for p in out.glob("runs/*/metrics.json")}


def test_a_judge_and_its_floor_are_kept_per_setting_of_a_dataset(reference):
    from genbench.benchmarks.runner import prepare_shared
    from genbench.judge.calibration import floor
    from genbench.settings import RunConfig

    suite, out = reference
    judges = json.loads((out / store.CALIBRATION).read_text())["judges"]
    assert [(j["dataset"], j["fid_samples"]) for j in judges] == [("sprites", 200)]
    assert "Real held-out images outside the reference score FID" in \
        (out / "report.md").read_text()
    # Two settings of one dataset (here two sample counts) keep a judge and a floor each.
    run = load_suite(suite).runs()[0]
    other = RunConfig.from_dict(run.to_dict())
    other.eval.fid_samples = 100
    shared = prepare_shared([run, other])
    assert [(j["dataset"], j["fid_samples"]) for j in shared.judges] == [("sprites", 200),
                                                                         ("sprites", 100)]
    floors = [floor(e) for e in shared.calibration if e["fid_extractor"] == "classifier"]
    assert floors[0]["fid"] != floors[1]["fid"]
    assert [f["fid_samples"] for f in floors] == [200, 100]


def _spawn(suite: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "genbench.cli", "benchmark", "--suite", str(suite), "--out",
           str(out), "--quiet", "--no-report"]
    # A background job (`make test &`, nohup) inherits SIGINT as ignored, and so would
    # genbench: the child gets the default disposition, as from a terminal, however pytest
    # was started (Python then turns SIGINT into KeyboardInterrupt).
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=_default_sigint)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(out: Path, pattern: str, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while not list(out.glob(pattern)):
        if process.poll() is not None:
            raise AssertionError(f"finished before {pattern}: {process.stderr.read()}")
        if time.time() > deadline:
            raise AssertionError(f"{pattern} never appeared")
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.parametrize("moment, sig", [
    ("runs/vae-sprites-s0/checkpoint.pt", signal.SIGKILL),      # mid-training
    ("runs/vae-sprites-s0/train.json", signal.SIGTERM),         # between training and metrics
    ("runs/cvae-sprites-s0/checkpoint.pt", signal.SIGINT),      # second run, one complete
    ("runs/gan-sprites-s0/config.json", signal.SIGKILL),        # third run starting
])
def test_killed_then_rerun_equals_uninterrupted(reference, tmp_path, moment, sig):
    suite, expected = reference
    out = tmp_path / "out"
    process = _spawn(suite, out)
    _wait_for(out, moment, process)
    process.send_signal(sig)
    process.wait(timeout=60)
    assert process.returncode != 0
    assert benchmark(suite, out, "--no-report") == 0
    pd.testing.assert_frame_equal(quality(out), quality(expected))
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(
        p.name for p in (expected / "runs").iterdir())
    assert not list(out.glob("runs/*/.*.tmp"))  # no half-written file left behind as a result


def test_second_suite_on_the_same_directory_is_refused(reference, tmp_path, capsys):
    suite, _ = reference
    out = tmp_path / "out"
    with store.locked(out):
        assert benchmark(suite, out) == 2
    assert "in use by another genbench benchmark" in capsys.readouterr().err


def test_other_suite_results_need_force(reference, tmp_path, capsys):
    suite, out = reference
    other = tiny_suite(tmp_path, models=("vae",), name="other")
    target = tmp_path / "copy"
    import shutil

    shutil.copytree(out, target)
    assert benchmark(other, target) == 2
    assert "holds results of suite 'tiny'" in capsys.readouterr().err
    assert len(list((target / "runs").iterdir())) == 3  # nothing touched
    assert benchmark(other, target, "--force", "--no-report") == 0
    assert [p.name for p in (target / "runs").iterdir()] == ["vae-sprites-s0"]


def test_same_run_with_different_settings_needs_force(reference, tmp_path, capsys):
    suite, out = reference
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(out, target)
    assert benchmark(suite, target, "--models", "vae", "--fid-samples", "100") == 2
    assert "different configuration" in capsys.readouterr().err


def test_diverging_run_is_recorded_and_the_suite_goes_on(tmp_path, capsys):
    suite = tiny_suite(tmp_path, models=("diverges", "vae"))
    out = tmp_path / "out"
    assert benchmark(suite, out) == 0
    failure = json.loads((out / "runs/diverges-sprites-s0/failed.json").read_text())
    assert "became nan" in failure["error"] or "became inf" in failure["error"]
    assert (out / "runs/vae-sprites-s0/metrics.json").exists()
    frame = pd.read_csv(out / "results.csv").set_index("run")
    assert frame.loc["diverges-sprites-s0", "status"] == "failed"
    assert "Runs without results" in (out / "report.md").read_text()
    capsys.readouterr()
    assert benchmark(suite, out, "--no-report") == 0  # recorded failures are not retried
    assert ("0 run(s) done, 1 already complete, 0 failed, 1 failed earlier (rerun with "
            "--retry-failed)") in capsys.readouterr().out


def test_damaged_results_are_measured_again(reference, tmp_path):
    suite, out = reference
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(out, target)
    (target / "runs/vae-sprites-s0/metrics.json").write_text('{"run": "vae-spr')  # hand-edited
    (target / "runs/gan-sprites-s0/checkpoint.pt").write_bytes(b"truncated")
    (target / "runs/gan-sprites-s0/metrics.json").unlink()
    (target / "runs/gan-sprites-s0/train.json").unlink()
    assert benchmark(suite, target, "--no-report") == 0
    pd.testing.assert_frame_equal(quality(target), quality(out))


SHAPES = {"celeba": (3, 64, 64), "folder": (3, 32, 32)}  # the rest: 28x28 grey


@pytest.mark.parametrize("name", available_suites())
def test_every_shipped_suite_builds_every_model_it_plans(name):
    runs = planned_runs(load_suite(name))
    assert runs
    for run in runs:  # settings a model refuses fail here, not minutes into `make benchmark`
        model = models.create(run.model, SHAPES.get(run.data.name, (1, 28, 28)), 10,
                              **run.model_config)
        assert sum(p.numel() for p in model.parameters()) > 0
        assert run.train.steps or run.train.seconds or run.train.epochs or run.train.flops
