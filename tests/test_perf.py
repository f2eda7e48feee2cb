"""make perf's diffusion peer: both models trained for the same seconds, judged alike."""

from __future__ import annotations

import dataclasses
import inspect
import math

import pytest
import torch

from genbench import models
from genbench.metrics import ClassifierSettings
from genbench.settings import DataConfig, RunConfig
from genbench.training import TrainConfig, convolutional
from perf import conv_speed, diffusion_peer, run
from perf.common import Context
from perf.denoising_diffusion import PeerSettings


def test_peer_trains_with_its_trainers_defaults():
    pytest.importorskip("denoising_diffusion_pytorch")
    from denoising_diffusion_pytorch import Trainer

    defaults = {k: p.default for k, p in inspect.signature(Trainer).parameters.items()}
    s = PeerSettings()
    assert s.adam_betas == defaults["adam_betas"]
    assert s.max_grad_norm == defaults["max_grad_norm"]
    assert (s.ema_decay, s.ema_update_every) == (defaults["ema_decay"],
                                                 defaults["ema_update_every"])


def test_both_models_train_to_each_budget_and_are_judged_alike(sprites, tmp_path):
    pytest.importorskip("denoising_diffusion_pytorch")
    train, test = sprites
    args = run.parser().parse_args(["--peer-budgets", "1", "0.5", "--peer-samples", "8"])
    ctx = Context(torch.device("cpu"), False, train, test, tmp_path, tmp_path, args)
    quick = diffusion_peer.quick_diffusion()  # made small: the test checks the procedure
    ours = dataclasses.replace(quick, model_config={**quick.model_config, "width": 8},
                               train=dataclasses.replace(quick.train, batch_size=16))
    theirs = PeerSettings(dim=8, dim_mults=(1, 2), timesteps=100, sampling_timesteps=2)
    tiny = ClassifierSettings(epochs=1, batch_size=64, max_train=512)
    result = diffusion_peer.compare(ctx, ours, theirs, tiny)

    assert result["samples"] == result["reference_images"] == 8
    for side, batch in (("genbench", 16), ("peer", 32)):
        points = result[side]["points"]
        assert result[side]["settings"]["batch_size"] == batch
        assert [p["budget"] for p in points] == [0.5, 1.0]
        for p in points:
            assert p["seconds"] >= p["budget"]  # trained until the clock reached the budget
            assert p["images"] == p["steps"] * batch >= batch
            assert math.isfinite(p["fid"]) and p["kid_std"] >= 0 and p["sample_seconds"] > 0
        assert points[0]["steps"] <= points[1]["steps"]
    text = "\n".join(diffusion_peer.markdown(result))
    assert "| 0.5 s | genbench |" in text and "| 1 s | genbench |" in text
    assert "genbench's FID is" in text


def test_verdict_follows_the_numbers():
    ours = [{"budget": 120.0, "fid": 20.0}, {"budget": 600.0, "fid": 9.0}]
    theirs = [{"budget": 120.0, "fid": 40.0}, {"budget": 600.0, "fid": 6.0}]
    assert diffusion_peer.verdict(ours, theirs) == (
        "genbench's FID is 0.50× the peer's at 120 s; 1.50× the peer's at 600 s: "
        "genbench is ahead at 120 s only.")
    assert diffusion_peer.verdict(ours[:1], theirs[:1]).endswith("ahead at every budget.")
    assert diffusion_peer.verdict(ours[1:], theirs[1:]).endswith("the peer is ahead at every "
                                                                  "budget.")


def test_selection_and_bad_input(capsys, tmp_path):
    p = run.parser()
    assert run.selected(p.parse_args(["--skip", "suite", "pythae", "diffusion_peer"]), p) == [
        "families", "conv_speed", "data_path", "metric_cost"]
    assert run.selected(p.parse_args(["--only", "metric_cost", "families"]), p) == [
        "families", "metric_cost"]
    out = tmp_path / "perf"
    for argv, message in ((["--only", "suite", "--skip", "suite"], "nothing to measure"),
                          (["--peer-budgets", "0"], "greater than 0"),
                          (["--only", "sute"], "invalid choice"),
                          (["--peer-budgets", "5", "5"], "repeats a budget"),
                          (["--dataset", "mnst"], "unknown dataset 'mnst'"),
                          (["--only", "suite", "--suite-name", "quik"], "unknown suite 'quik'")):
        with pytest.raises(SystemExit) as exit_:
            run.main([*argv, "--out", str(out)])
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not out.exists()


def test_missing_peer_package_is_named_with_the_fix(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(run.pythae_peer, "REQUIRES", ("genbench_no_such_package",))
    out = tmp_path / "perf"
    with pytest.raises(SystemExit) as exit_:
        run.main(["--only", "pythae", "--out", str(out)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert "pythae needs genbench_no_such_package" in err and "--skip pythae" in err
    assert not out.exists()


def test_conv_variants_train_the_same_mathematics(sprites):
    """Channels-last (the Trainer's default for conv models) changes the memory layout, not
    the step: in the Trainer, the same losses as the contiguous layout's within float
    reassociation, from the same seed and batches."""
    train, _ = sprites
    run = RunConfig("vae-conv", "vae-conv", DataConfig("sprites"), model_config={"width": 4},
                    train=TrainConfig(steps=1, batch_size=8))
    assert convolutional(models.create("vae-conv", train.image_shape, train.num_classes,
                                       width=4))
    assert not convolutional(models.create("vae", train.image_shape, train.num_classes))
    cpu = torch.device("cpu")
    rate, contiguous = conv_speed.train_steps(run, "contiguous", train, 4, 2, cpu)
    _, last = conv_speed.train_steps(run, "channels-last", train, 4, 2, cpu)
    assert rate > 0 and len(contiguous) == len(last) == 6
    assert contiguous[-1] < contiguous[0]  # it trains
    assert last == pytest.approx(contiguous, rel=1e-4)
