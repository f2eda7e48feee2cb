"""The Trainer's budget clock and its callback hook: saves and evaluations never count as
training time, callbacks leave training untouched, a callback may stop a run, curve points
survive a resume."""

from __future__ import annotations

import time

import pandas as pd
import pytest
import torch

from genbench import metrics, models
from genbench.benchmarks.curves import QUALITY, QualityCurve
from genbench.io import torch_load
from genbench.judge import Judge, RunInputs
from genbench.training import LogSpaced, Progress, TrainConfig, Trainer
from genbench.training import checkpoint as checkpoint_module


def _fit(data, out, steps, callbacks=(), **config):
    torch.manual_seed(0)
    model = models.create("vae", data.image_shape, data.num_classes)
    settings = {"steps": steps, "batch_size": 64, "log_every": 7, "checkpoint_every": 5,
                "show_progress": False, "device": "cpu", **config}
    return Trainer(TrainConfig(**settings), out, "vae", list(callbacks)).fit(model, data)


class Sleeper:
    """A callback that costs `seconds` every `every` steps, and counts its runs."""

    def __init__(self, seconds: float, every: int) -> None:
        self.seconds, self.every, self.runs = seconds, every, 0

    def resume(self, progress: Progress) -> None:
        pass

    def due(self, progress: Progress) -> bool:
        return progress.final or progress.step % self.every == 0

    def __call__(self, model, progress: Progress) -> None:
        self.runs += 1
        torch.randn(1000)  # draws from the random stream: the Trainer must isolate it
        time.sleep(self.seconds)


def test_saves_and_callbacks_do_not_count_as_training_time(sprites, tmp_path, monkeypatch):
    train, _ = sprites
    save, saves = checkpoint_module.atomic_torch_save, []

    def slow_save(*args, **kwargs):
        saves.append(1)
        time.sleep(0.3)
        save(*args, **kwargs)

    monkeypatch.setattr(checkpoint_module, "atomic_torch_save", slow_save)
    sleeper = Sleeper(0.3, every=4)
    start = time.perf_counter()
    slow = _fit(train, tmp_path / "slow", 20, [sleeper])
    wall = time.perf_counter() - start
    assert wall > 3.0  # 4 periodic saves, 5 callback runs (+ their saves): all slow
    # Every sleep lies outside the budget clock, however loaded the machine (a comparison with
    # a run without sleeps would depend on the load).
    slept = 0.3 * (len(saves) + sleeper.runs)
    assert slow.seconds <= wall - slept, (slow.seconds, wall, slept)
    assert slow.eval_seconds >= sleeper.runs * 0.3 and sleeper.runs == 5


def test_callbacks_leave_training_untouched(sprites, tmp_path):
    train, _ = sprites
    plain = _fit(train, tmp_path / "plain", 20)
    watched = _fit(train, tmp_path / "watched", 20, [Sleeper(0.0, every=3)])
    for (k, a), (_, b) in zip(plain.model.state_dict().items(),
                              watched.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def test_loss_curve_always_has_a_header_and_the_last_step(sprites, tmp_path):
    train, _ = sprites
    _fit(train, tmp_path, 3, log_every=50)
    curve = pd.read_csv(tmp_path / "loss.csv")
    assert list(curve["step"]) == [3] and "loss" in curve


def test_log_spaced_points():
    points = LogSpaced(5, 2)
    assert [points.index(x) for x in (0, 4.9, 5, 9.99, 10, 39, 40, 41)] == [0, 0, 1, 1, 2, 3, 4, 4]
    with pytest.raises(ValueError, match="growth > 1"):
        LogSpaced(5, 1)


class Stopper(Sleeper):
    """A stop rule: ends training at a given step, with its reason; records every run."""

    def __init__(self, step: int) -> None:
        super().__init__(0.0, every=1)
        self.step, self.calls = step, []

    def __call__(self, model, progress: Progress) -> str | None:
        self.calls.append((progress.step, progress.final))
        return f"stopped at step {self.step}" if progress.step == self.step else None


def test_a_callback_stops_the_run_and_a_resumed_run_stays_stopped(sprites, tmp_path):
    train, _ = sprites
    stopper = Stopper(6)
    result = _fit(train, tmp_path, 20, [stopper])
    assert result.steps == 6 and result.stopped == "stopped at step 6"
    # It ran after every step up to the stop, then once more as the final run.
    assert stopper.calls == [(s, False) for s in range(1, 7)] + [(6, True)]
    state = torch_load(tmp_path / "checkpoint.pt")["state"]
    assert state["finished"] and state["stopped"] == "stopped at step 6" and state["step"] == 6
    assert list(pd.read_csv(tmp_path / "loss.csv")["step"])[-1] == 6
    # Resumed with a larger budget: it stays stopped, nothing trains or runs again.
    again = Stopper(100)
    resumed = _fit(train, tmp_path, 40, [again])
    assert resumed.steps == 6 and resumed.stopped == "stopped at step 6" and again.calls == []


def test_a_run_its_budget_ended_has_no_stop_reason(sprites, tmp_path):
    train, _ = sprites
    result = _fit(train, tmp_path, 4, [Stopper(4)])  # the reason comes at the final run
    assert result.steps == 4 and result.stopped is None


def test_a_callback_answers_none_or_a_reason(sprites, tmp_path):
    class Yes(Sleeper):
        def __call__(self, model, progress):
            return True

    with pytest.raises(TypeError, match="callback Yes returned True"):
        _fit(sprites[0], tmp_path, 4, [Yes(0.0, every=2)])


def test_fit_returns_the_model_and_its_sampling_weights(sprites, tmp_path):
    train, _ = sprites
    plain = _fit(train, tmp_path / "plain", 5)
    assert plain.sampler is plain.model and not plain.model.training
    torch.manual_seed(0)
    model = models.create("vae", train.image_shape)
    model.ema_decay = 0.9  # the Trainer keeps an EMA copy: the sampler is its module
    config = TrainConfig(steps=5, batch_size=64, show_progress=False, device="cpu")
    averaged = Trainer(config, tmp_path / "ema").fit(model, train)
    assert averaged.model is model and averaged.sampler is not model
    assert not averaged.sampler.training and not averaged.model.training
    weights = [(a, b) for a, b in zip(averaged.model.state_dict().values(),
                                      averaged.sampler.state_dict().values(), strict=True)
               if a.is_floating_point()]
    assert not all(torch.equal(a, b) for a, b in weights)


class Killer(Sleeper):
    """A callback that interrupts training at a given step, as Ctrl-C would."""

    def __init__(self, step: int) -> None:
        super().__init__(0.0, every=step)

    def due(self, progress: Progress) -> bool:
        return progress.step == self.every

    def __call__(self, model, progress: Progress) -> None:
        raise KeyboardInterrupt


@pytest.fixture(scope="module")
def space(sprites, tmp_path_factory):
    train, test = sprites
    settings = metrics.ClassifierSettings(epochs=1, batch_size=64)
    path, accuracy = metrics.load_or_train(tmp_path_factory.mktemp("clf"), train, test, settings)
    return metrics.FeatureSpace("classifier", path, accuracy)


def _curve(directory, space, test):
    inputs = RunInputs(key="curve", train=test, test=test, held_out=test, space=space,
                       reference=test.images[:200], reference_name=None, cache=directory)
    return QualityCurve(directory, Judge(inputs, batch_size=64), LogSpaced(4, 2),
                        axis="step", samples=64)


def test_resumed_curve_keeps_its_points_and_equals_an_uninterrupted_one(sprites, space,
                                                                        tmp_path):
    train, test = sprites
    _fit(train, tmp_path / "whole", 20, [_curve(tmp_path / "whole", space, test)])
    whole = pd.read_csv(tmp_path / "whole" / QUALITY)
    assert list(whole["step"]) == [4, 8, 16, 20] and whole["fid"].notna().all()

    # Killed at step 12: points at 4 and 8 are written, the last checkpoint is at 10.
    parts = tmp_path / "parts"
    with pytest.raises(KeyboardInterrupt):
        _fit(train, parts, 20, [_curve(parts, space, test), Killer(12)])
    before = pd.read_csv(parts / QUALITY)
    assert list(before["step"]) == [4, 8]
    _fit(train, parts, 20, [_curve(parts, space, test)])
    resumed = pd.read_csv(parts / QUALITY)
    same = [c for c in resumed.columns if c not in ("seconds", "eval_seconds")]  # clocks
    pd.testing.assert_frame_equal(resumed[same], whole[same])
    # Points before the checkpoint were kept, not measured again (their cost is unchanged).
    pd.testing.assert_frame_equal(resumed.iloc[:2], before.iloc[:2])
    assert list(resumed["step"]) == [4, 8, 16, 20]
    progress = torch_load(parts / "curve-samples.pt")
    assert progress["steps"] == [4, 8, 16, 20] and progress["samples"].shape[:2] == (4, 8)


def test_seconds_points_are_taken_once_each_at_or_before_their_time(tmp_path):
    # 0.4 s steps, points at 1, 2, 4 s of a 5 s budget: each point is taken at the last step
    # that ends before it (0.8, 1.6, 3.6 s), never a second time at the step after, and the
    # end of the budget is one more point.
    curve = QualityCurve(tmp_path, None, LogSpaced(1, 2), axis="seconds", samples=8, end=5.0)
    taken = []
    for step in range(1, 13):
        progress = Progress(step, 0, step, round(0.4 * step, 3), final=step == 12)
        if curve.due(progress):
            taken.append(progress.seconds)
            curve.rows.append({"step": step, "seconds": progress.seconds,
                               "point": curve._due_point})
    assert taken == [0.8, 1.6, 3.6, 4.8]


def test_flops_points_fall_on_one_grid_at_or_before_each_budget(tmp_path):
    # 3e10-FLOP steps, a grid of 1e11 x 2^k, a budget of 6.4e11: each point is taken at the
    # last step whose FLOPs are at or below it (so the report's column of 2e11 FLOPs reads a
    # point at or before 2e11 for every model, whatever its cost per step), and the end of the
    # budget is one more point.
    curve = QualityCurve(tmp_path, None, LogSpaced(1e11, 2), axis="flops", samples=8, end=6.4e11)
    taken = []
    for step in range(1, 23):
        progress = Progress(step, 0, step, 0.1 * step, flops=3e10 * step, final=step == 22)
        if curve.due(progress):
            taken.append(progress.flops)
            curve.rows.append({"step": step, "flops": progress.flops, "point": curve._due_point})
    assert taken == pytest.approx([9e10, 1.8e11, 3.9e11, 6.6e11])


def test_conv_models_train_and_sample_channels_last(sprites, tmp_path):
    """A convolutional model trains (and its EMA copy samples) in channels-last layout unless
    asked not to; a model without convolutions is left as it is."""
    train, _ = sprites
    settings = {"steps": 3, "batch_size": 16, "show_progress": False, "device": "cpu"}

    def fit(name: str, **config) -> tuple[torch.nn.Module, torch.nn.Module]:
        torch.manual_seed(0)
        model = models.create(name, train.image_shape, train.num_classes, width=8)
        result = Trainer(TrainConfig(**settings, **config), tmp_path / name).fit(model, train)
        return result.model, result.sampler

    def convs(model: torch.nn.Module) -> list[torch.Tensor]:
        """Kernels whose two layouts differ (not 1x1, more than one input channel)."""
        return [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)
                and m.weight.shape[1] > 1 and m.weight.shape[-1] > 1]

    for model in fit("diffusion"):  # trained weights and the EMA copy
        assert convs(model) and all(
            w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()
            for w in convs(model))
    plain, _ = fit("diffusion", channels_last=False)
    assert all(w.is_contiguous() for w in convs(plain))
    torch.manual_seed(0)
    mlp = models.create("vae", train.image_shape, train.num_classes)
    Trainer(TrainConfig(**settings), tmp_path / "vae").fit(mlp, train)
    assert all(p.is_contiguous() for p in mlp.parameters())
