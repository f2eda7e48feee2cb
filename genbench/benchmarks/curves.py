"""Anytime evaluation: every run's sample quality at log-spaced points of its training.

A Trainer callback. At log-spaced points of training (EvalConfig's curve_start seconds for
seconds budgets, curve_start_flops training FLOPs for FLOP budgets, curve_start_steps steps for
step and epoch budgets, each curve_growth times the one before) and at the end of the budget,
it samples
from the sampling weights (EMA where kept) with fixed noise, and measures KID
(unbiased, so a thousand samples suffice) and FID at a stated n against the
cached features of the held-out images. The Trainer stops its budget clock
meanwhile and checkpoints right after, so points survive kills: a resumed run
keeps the points up to its checkpoint and recomputes none of them.

    quality.csv   step, epoch, images, seconds, flops, eval_seconds, n, kid, kid_lo,
                  kid_hi, fid, fid_lo, fid_hi, extractor, loss, point (one row per point; `point`
                  counts the log-spaced points it stands for)
    curve-samples.pt  the first few samples at every point, for "how samples improve"
"""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path
from typing import Any

import torch

from genbench.benchmarks.store import CURVE_SAMPLES, QUALITY
from genbench.io import CorruptFileError, atomic_torch_save, atomic_write_text, torch_load
from genbench.judge import Judge
from genbench.models import GenerativeModel
from genbench.settings import RunConfig
from genbench.training import LogSpaced, Progress
from genbench.training.stopping import StopRule

FIELDS = ("step", "epoch", "images", "seconds", "flops", "eval_seconds", "n", "kid",
          "kid_lo", "kid_hi", "fid", "fid_lo", "fid_hi", "extractor", "loss", "point")
X_OF_UNIT = {"seconds": "seconds", "steps": "step", "flops": "flops"}  # a stop rule's x axis
AXES = tuple(X_OF_UNIT.values())  # what a curve's points are spaced in


class QualityCurve:
    """The Trainer callback that writes quality.csv and curve-samples.pt into `directory`."""

    def __init__(self, directory: Path, judge: Judge, schedule: LogSpaced, axis: str,
                 samples: int, seed: int = 0, strip: int = 8, end: float = math.inf,
                 stop: StopRule | None = None, who: str = "the model") -> None:
        if axis not in AXES:
            raise ValueError(f"a curve's axis is one of {', '.join(AXES)}, got {axis!r}")
        self.directory, self.judge, self.stop, self.who = Path(directory), judge, stop, who
        self.schedule, self.axis = schedule, axis
        # The end of the budget has its own point: planned points stop short of it.
        self.last_planned = schedule.index(end * (1 - 1e-6)) if math.isfinite(end) else math.inf
        self.samples, self.seed, self.strip = samples, seed, strip
        self.rows: list[dict[str, Any]] = []
        self.strips: dict[int, torch.Tensor] = {}  # step -> the first samples drawn there
        self._previous: Progress | None = None
        self._due_point = 0  # the planned points reached, as of the last `due`

    # -- the Callback protocol -------------------------------------------------------------
    def resume(self, progress: Progress) -> None:
        self.rows = [r for r in _read_rows(self.directory / QUALITY)
                     if int(r["step"]) <= progress.step]
        self.strips = {step: images for step, images in _read_strips(self.directory / CURVE_SAMPLES)
                       if step <= progress.step}
        self._previous = progress

    def due(self, progress: Progress) -> bool:
        previous, self._previous = self._previous, progress
        if self.rows and int(self.rows[-1]["step"]) == progress.step:
            return False
        self._due_point = self._reached(progress, previous)
        return self._due_point > self._done()

    def _reached(self, progress: Progress, previous: Progress | None) -> int:
        """How many points the run has reached (the end of the budget is one more)."""
        if progress.final:
            return self._done() + 1
        if self.axis == "step":
            reached = self.schedule.index(progress.step)
        else:
            # Evaluate at the last step that ends before the point: its x is then at or before
            # the nominal budget, which is what "quality at a budget of t seconds" (or of F
            # FLOPs) must read.
            now = getattr(progress, self.axis)
            step = now - getattr(previous, self.axis) if previous else 0.0
            reached = self.schedule.index(now + step)
        return min(reached, self.last_planned)

    def _done(self) -> int:
        if not self.rows:
            return 0
        last = self.rows[-1]
        # An evaluation ahead of its nominal time stands for that point (its `point`).
        return int(last["point"]) if last.get("point") else self.schedule.index(self._x(last))

    def __call__(self, model: GenerativeModel, progress: Progress) -> str | None:
        """Measure a point; returns why the run can stop (its stop rule), else None."""
        start = time.perf_counter()
        row: dict[str, Any] = {
            "step": progress.step, "epoch": progress.epoch, "images": progress.images,
            "seconds": round(progress.seconds, 3), "flops": progress.flops, "n": self.samples,
            "extractor": self.judge.space.extractor, "point": self._due_point,
            "loss": "" if progress.loss is None else progress.loss}
        if model.sampling_ready():  # else the point keeps its loss and no sample quality
            images, _ = self.judge.draw(model, self.samples, self.seed, self.who)
            row.update(self.judge.curve_point(images, cuda=model.device.type == "cuda"))
            self.strips[progress.step] = images[:self.strip].clone()
        row["eval_seconds"] = round(time.perf_counter() - start, 3)
        self.rows.append(row)
        self._write()
        return None if progress.final or self.stop is None else self._verdict(self.stop)

    def _verdict(self, rule: StopRule) -> str | None:
        """The stop rule over the points measured so far."""
        return rule.verdict(self.points(rule))

    def points(self, rule: StopRule) -> list[tuple[float, float]]:
        """(x, value) of every measured point, on the rule's axis and metric."""
        x, points = X_OF_UNIT[rule.unit], []
        for row in self.rows:
            value = _number(row.get(rule.metric))
            if value is not None and _number(row.get(x)):
                points.append((float(row[x]), value))
        return points

    # -- files -----------------------------------------------------------------------------
    def _x(self, row: dict[str, Any]) -> float:
        return float(row[self.axis])

    def _write(self) -> None:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(self.rows)
        shown = [r for r in self.rows if int(r["step"]) in self.strips]
        if shown:  # none yet while a two-phase model's points measure only its loss
            atomic_torch_save(self.directory / CURVE_SAMPLES, {
                "samples": torch.stack([self.strips[int(r["step"])] for r in shown]),
                "steps": [int(r["step"]) for r in shown],
                "seconds": [float(r["seconds"]) for r in shown]})
        atomic_write_text(self.directory / QUALITY, out.getvalue())


def quality_curve(run: RunConfig, directory: Path, judge: Judge) -> QualityCurve:
    """The run's curve callback, measured by the run's judge (the final FID's)."""
    e, t = run.eval, run.train
    judge.inputs.reference_features(e.batch_size)  # before the run's random stream starts
    if t.seconds is not None:
        axis, start, end = "seconds", e.curve_start, t.seconds
    elif t.flops is not None:
        axis, start, end = "flops", e.curve_start_flops, t.flops
    else:
        axis, start = "step", e.curve_start_steps
        end = t.total_steps(len(judge.inputs.train) // t.batch_size)
    return QualityCurve(directory, judge, LogSpaced(start, e.curve_growth), axis,
                        e.curve_samples, run.seed, end=end, stop=run.stop,
                        who=f"model {run.name!r}")


def _number(value: Any) -> float | None:
    """A finite number from a row (rows read back from quality.csv hold strings)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def curve_points(directory: Path) -> int:
    return len(_read_rows(Path(directory) / QUALITY))


def _read_rows(path: Path) -> list[dict[str, Any]]:
    """The points recorded so far; none when the file is missing or damaged (they are then
    measured again after the checkpoint they follow)."""
    try:
        with path.open() as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            int(row["step"]), float(row["seconds"])
        return rows
    except (OSError, KeyError, TypeError, ValueError, csv.Error):
        return []


def _read_strips(path: Path) -> list[tuple[int, torch.Tensor]]:
    try:
        saved = torch_load(path, "curve samples")
        return list(zip(saved["steps"], saved["samples"], strict=True))
    except (FileNotFoundError, CorruptFileError, KeyError, TypeError, ValueError):
        return []
