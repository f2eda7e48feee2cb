"""What a run is measured against (inputs), the one Judge that measures every set of images
(judge), and the judge's calibration with real images (calibration)."""

from __future__ import annotations

from typing import Any

from genbench.judge.inputs import RunInputs, inputs_for, inputs_key, load_splits
from genbench.judge.judge import Judge, Judgement, SamplesRejected


def judge_of(run: Any, inputs: RunInputs) -> Judge:
    """The judge of a run (or a scored run: anything with an `eval` section) on `inputs`."""
    return Judge(inputs, run.eval.batch_size, run.eval.bootstrap_rounds)


__all__ = ["Judge", "Judgement", "RunInputs", "SamplesRejected", "inputs_for", "inputs_key",
           "judge_of", "load_splits"]
