"""Sampling cost as an axis: a denoising model's sample quality against the number of network
evaluations (NFE) its sampler spends, per solver (DDIM; flow matching's Euler and Heun).

Every point draws `nfe_samples` images from the same noise seed and measures them as a
quality-curve point is measured (the run's judge: FID with its bootstrap interval, KID), so
the sweep's points compare with each other, across models, and with the curve's. Beside each:
the sampling FLOPs per image (counted like training FLOPs) and this machine's milliseconds.

    nfe.csv   solver, nfe, steps, n, fid, fid_lo, fid_hi, kid, kid_lo, kid_hi, extractor,
              sample_flops, ms_per_image
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

from genbench.benchmarks.store import NFE
from genbench.io import atomic_write_text
from genbench.judge import Judge
from genbench.metrics.timing import generate, sampling_flops
from genbench.models import GenerativeModel

FIELDS = ("solver", "nfe", "steps", "n", "fid", "fid_lo", "fid_hi", "kid", "kid_lo",
          "kid_hi", "extractor", "sample_flops", "ms_per_image")


def nfe_sweep(model: GenerativeModel, judge: Judge, nfes: tuple[int, ...], n: int,
              seed: int = 0, who: str = "the model") -> list[dict[str, Any]]:
    """One row per (solver, NFE) the model's solvers can spend exactly; none for a model that
    does not sample by denoising."""
    rows = []
    for solver in model.solvers:
        for nfe in sorted(set(nfes)):
            steps = model.steps_for(nfe, solver)
            if steps is None:
                continue

            def sample(m, labels, nfe=nfe, solver=solver):
                return model.sample_with(m, nfe, solver)

            images, rate = generate(model, n, judge.batch_size, seed=seed, sample=sample,
                                    check=lambda batch: judge.check(batch, who))
            rows.append({"solver": solver, "nfe": nfe, "steps": steps, "n": n,
                         **judge.curve_point(images, cuda=model.device.type == "cuda"),
                         "extractor": judge.space.extractor,
                         "sample_flops": sampling_flops(model, sample=sample),
                         "ms_per_image": 1000 / rate})
    return rows


def write_sweep(directory: Path, model: GenerativeModel, judge: Judge, nfes: tuple[int, ...],
                n: int, seed: int = 0, who: str = "the model") -> dict[str, Any]:
    """nfe.csv of the run in `directory`, and what metrics.json says of it: the sweep's
    seconds (evaluation time of its own, beside the curve's)."""
    start = time.perf_counter()
    rows = nfe_sweep(model, judge, nfes, n, seed, who)
    if not rows:
        return {}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(directory / NFE, out.getvalue())
    return {"nfe_seconds": time.perf_counter() - start, "nfe_points": len(rows)}
