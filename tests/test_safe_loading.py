"""Every file genbench reads back from a run, a results folder or a cache is loaded without
running anything: results folders are shared, so a crafted pickle must be refused with a
one-line error naming the file, and every file genbench writes must still load."""

from __future__ import annotations

import json
import os
import pathlib
from pathlib import Path

import pytest
import torch

from genbench import models
from genbench.benchmarks.visuals import run_visuals
from genbench.cli import main
from genbench.errors import ConfigError
from genbench.io import (
    UnsafeFileError,
    atomic_torch_save,
    load_checksummed,
    save_checksummed,
    torch_load,
    user_cache_dir,
)
from genbench.training import TrainConfig, Trainer, checkpoint


class Touch:
    """Unpickling it creates `marker`: proof that loading ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


class Shell(Touch):
    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def craft(path: Path, payload: type[Touch], marker: Path) -> None:
    """A file shaped like the genuine one, with the payload inside."""
    torch.save({"samples": torch.zeros(2, 1, 4, 4, dtype=torch.uint8),
                "state": {"step": 1, "evil": payload(marker)}}, path)


PAYLOADS = [Touch, Shell]


def test_the_payload_would_run_if_loaded_unsafely(tmp_path):
    """The control: without weights_only the crafted file does create the marker."""
    marker = tmp_path / "ran"
    craft(tmp_path / "x.pt", Touch, marker)
    torch.load(tmp_path / "x.pt", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_crafted_checkpoint_is_refused(tmp_path, payload):
    marker, path = tmp_path / "ran", tmp_path / checkpoint.CHECKPOINT
    craft(path, payload, marker)
    with pytest.raises(UnsafeFileError, match=f"checkpoint {path} holds objects") as error:
        checkpoint.read(path)
    assert "\n" not in str(error.value)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["visuals.pt", "progress.pt", "curve-samples.pt", "checkpoint.pt"])
@pytest.mark.parametrize("payload", PAYLOADS)
def test_crafted_run_files_are_refused(tmp_path, name, payload):
    marker, path = tmp_path / "ran", tmp_path / "runs" / "vae-sprites-s0" / name
    path.parent.mkdir(parents=True)
    craft(path, payload, marker)
    with pytest.raises(UnsafeFileError, match=f"figure data {path} .*possibly code"):
        torch_load(path, "figure data")
    assert not marker.exists()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_crafted_cache_with_a_matching_checksum_is_refused(tmp_path, payload):
    marker, path = tmp_path / "ran", tmp_path / "classifiers" / "sprites-0123.pt"
    save_checksummed(path, {"state_dict": {}, "evil": payload(marker)})  # writes the sidecar
    assert Path(f"{path}.sha256").exists()
    with pytest.raises(UnsafeFileError, match=f"cache {path} holds objects"):
        load_checksummed(path)
    assert not marker.exists()


def test_report_on_a_folder_with_a_crafted_visuals_file_runs_nothing(tmp_path, capsys):
    out, marker = tmp_path / "results", tmp_path / "ran"
    run = out / "runs" / "vae-sprites-s0"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({
        "run": run.name, "model": "vae", "family": "vae", "dataset": "sprites", "seed": 0,
        "fid": 9.0, "kid": 0.009, "kid_std": 1e-4, "kid_subset": 100, "precision": 0.6,
        "recall": 0.5, "fid_extractor": "classifier", "fid_samples": 200,
        "fid_reference": 200, "params": 1000, "train_seconds": 10.0,
        "sample_images_per_second": 100.0, "device": "cpu",
        "capabilities": {"reconstructs": False}}))
    craft(run / "visuals.pt", Touch, marker)
    assert main(["report", str(out)]) != 0
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and str(run / "visuals.pt") in error[0], error
    assert "possibly code" in error[0]
    assert not marker.exists()


@pytest.mark.parametrize("name", ["vae", "gan", "diffusion", "vqvae"])  # 1, 2 optimizers; EMA
def test_a_real_checkpoint_loads_with_weights_only(sprites, tmp_path, name):
    train, _ = sprites
    data = train.subset(64)
    torch.manual_seed(0)
    model = models.create(name, data.image_shape, data.num_classes)
    config = TrainConfig(steps=2, batch_size=16, log_every=1, checkpoint_every=1,
                         show_progress=False, device="cpu")
    Trainer(config, tmp_path, name).fit(model, data)
    saved = checkpoint.read(tmp_path / checkpoint.CHECKPOINT)
    assert checkpoint.saved_state(saved).step == 2
    assert (saved["ema"] is not None) == (model.ema_decay > 0)
    fresh = models.create(name, data.image_shape, data.num_classes)
    optimizers = fresh.optimizers(1e-3, 0.0)
    schedulers = [torch.optim.lr_scheduler.LambdaLR(o, lambda step: 1.0) for o in optimizers]
    checkpoint.restore(saved, fresh, None, optimizers, schedulers)
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key


@pytest.mark.parametrize("name", ["vae", "cvae"])  # a latent map; labels too
def test_the_visuals_genbench_writes_load_with_weights_only(sprites, tmp_path, name):
    _, test = sprites
    data = test.subset(100)
    torch.manual_seed(0)
    model = models.create(name, data.image_shape, data.num_classes).eval()
    visuals = run_visuals(model, data, data.images[:8])
    atomic_torch_save(tmp_path / "visuals.pt", visuals)
    back = torch_load(tmp_path / "visuals.pt", "figure data")
    assert back.keys() == visuals.keys() and back["capabilities"] == visuals["capabilities"]


def test_genbench_cache_naming_a_file_is_a_one_line_error(tmp_path, monkeypatch):
    taken = tmp_path / "cache.txt"
    taken.write_text("not a directory")
    monkeypatch.setenv("GENBENCH_CACHE", str(taken))
    with pytest.raises(ConfigError, match="GENBENCH_CACHE=.*cache.txt names a file; it must "
                                          "name a directory"):
        user_cache_dir()
    # Beneath a file: it cannot be created, whoever runs it (root ignores permissions).
    monkeypatch.setenv("GENBENCH_CACHE", str(taken / "sub"))
    with pytest.raises(ConfigError, match="cannot be created"):
        user_cache_dir()
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path / "new" / "cache"))
    assert user_cache_dir().is_dir()
