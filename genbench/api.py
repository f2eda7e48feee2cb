"""The Python API: the few functions a notebook needs, the ones the command line calls.

    benchmark(suite, out, ...) -> SuiteResult         `genbench benchmark`: checks, runs, report
    run_suite(suite, out, **settings) -> DataFrame    the same, then its results table
    results(out) -> DataFrame                         the report's results table (results.csv)
    score(samples, dataset, out=None) -> dict         `genbench score`
    images(dataset, split="train") -> Tensor          a dataset's images, as runs see them
    compare(a, b, dataset=None) -> dict               `genbench compare`
    load_run(directory) -> Run                        a run's configuration, metrics and model
    figures(out) -> {name: Path}                      `genbench report`, then its figures

Settings are the command line's flags as keywords (`steps=200`, `fid_samples=1000`,
`data_root="..."`); they change every run as the flags do (config.RunConfig.changed).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from genbench.benchmarks import store
from genbench.benchmarks.build import load_trained
from genbench.benchmarks.compare import compare as compare_sets
from genbench.benchmarks.runner import SuiteResult, planned_runs, run_benchmark
from genbench.benchmarks.score import Samples, ScoredConfig, is_scored
from genbench.benchmarks.score import score as score_samples
from genbench.datasets import load as load_dataset
from genbench.datasets import resolve_root
from genbench.judge.inputs import load_splits
from genbench.metrics.fidelity import MIN_MEANINGFUL_SAMPLES
from genbench.models import GenerativeModel
from genbench.paths import check_output_dir
from genbench.settings import (
    RUN_OVERRIDES,
    SCORE_OVERRIDES,
    RunConfig,
    Suite,
    load_suite,
    overrides,
)


def benchmark(suite: str | Path | Suite, out: str | Path | None = None, *,
              models: list[str] | None = None, datasets: list[str] | None = None,
              seeds: int | list[int] | None = None, jobs: int = 1, executor: str = "local",
              address: str | None = None, force: bool = False, retry_failed: bool = False,
              progress: bool = True, report: bool = True, wandb: bool = False,
              changes: dict[str, dict[str, Any]] | None = None) -> SuiteResult:
    """`genbench benchmark`: run (or resume) the chosen runs of `suite` into `out` (default
    reports/SUITE), after refusing an output directory inside the data, then write the report.
    `changes`: settings that replace the suite's in every run (config.RunConfig.changed)."""
    chosen = suite if isinstance(suite, Suite) else load_suite(suite)
    chosen = chosen.select(models, datasets, seeds)
    runs = planned_runs(chosen, changes)
    small = sorted({r.eval.fid_samples for r in runs
                    if r.eval.fid_samples < MIN_MEANINGFUL_SAMPLES})
    if small:
        print(f"genbench: warning: FID on {small[0]} samples is strongly biased and not "
              f"comparable with published values; use --fid-samples {MIN_MEANINGFUL_SAMPLES} or "
              "more for comparisons", file=sys.stderr)
    out = Path(out or f"reports/{chosen.name}")
    for root in {resolve_root(run.data.root) for run in runs}:
        check_output_dir(out, root)
    result = run_benchmark(chosen, out, jobs=jobs, force=force, retry_failed=retry_failed,
                           progress=progress, executor=executor, address=address, runs=runs)
    if report:
        from genbench.reports import write_report

        write_report(out, wandb=wandb)
    return result


def run_suite(suite: str | Path | Suite, out: str | Path, *, models: list[str] | None = None,
              datasets: list[str] | None = None, seeds: int | list[int] | None = None,
              jobs: int = 1, executor: str = "local", address: str | None = None,
              force: bool = False, retry_failed: bool = False, progress: bool = True,
              report: bool = True, **settings: Any) -> pd.DataFrame:
    """Run (or resume) a suite (a shipped name, a .toml path or a Suite) into `out`, as
    `genbench benchmark` does; with `report`, write its report. Returns the results table:
    one row per run. `settings`: steps, epochs, seconds, batch_size, lr, device, data_root,
    fid_samples, extractor, fid_weights, compile, wandb, no_download."""
    benchmark(suite, out, models=models, datasets=datasets, seeds=seeds, jobs=jobs,
              executor=executor, address=address, force=force, retry_failed=retry_failed,
              progress=progress, report=report,
              changes=overrides(settings, RUN_OVERRIDES))
    return results(out)


def results(out: str | Path) -> pd.DataFrame:
    """The report's results table of a results directory (results.csv): one row per complete
    run (trained or scored), then one per failed or unfinished run with its error."""
    from genbench.reports import collect

    frame, problems = collect(Path(out))
    parts = [part for part in (frame, pd.DataFrame(problems)) if not part.empty]
    # One row per run, numbered 0..n-1: the parts' own indexes both start at 0.
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def score(samples: Samples, dataset: str, out: str | Path | None = None,
          name: str | None = None, *, labels: Samples | None = None,
          options: dict[str, Any] | None = None, force: bool = False,
          **settings: Any) -> dict[str, Any]:
    """Every sample-quality number of `samples` (a folder of PNG/JPEG, a .npy/.npz/.pt file,
    or an array: uint8 or floats in [0, 1], N×H×W, N×H×W×C or N×C×H×W) on `dataset`, as
    `genbench score` measures them; with `out`, also written there as a run. `labels` (a CSV
    or array file, or an array) give conditional accuracy. `options`: the dataset's options;
    `settings`: data_root, no_download, fid_samples, extractor, fid_weights.

    Where `out` holds a suite, its runs' settings on `dataset` apply (n = their fid_samples);
    elsewhere, and without `out`, the defaults: n = 10,000 samples (pass fewer with
    `fid_samples=N`), judged by a classifier trained for 6 epochs the first time a dataset is
    judged (minutes on a CPU, with a progress bar; then cached)."""
    change = overrides(settings, SCORE_OVERRIDES)
    if options:
        change.setdefault("data", {})["options"] = dict(options)
    return score_samples(samples, dataset, out, name, labels, change, force)


def images(dataset: str, split: str = "train", *, data_root: str | Path | None = None,
           no_download: bool = False, **options: Any) -> torch.Tensor:
    """The images of a dataset's `split` ("train" or "test") as genbench decodes them for its
    runs: uint8, N×C×H×W (real images to `score` as a floor, or to look at). `options`: the
    dataset's options (sprites: `size=28`; a run's are `load_run(...).config.data.options`)."""
    return load_dataset(dataset, split, data_root, not no_download, **options).images


def compare(a: Samples, b: Samples, dataset: str | None = None, *,
            options: dict[str, Any] | None = None, **settings: Any) -> dict[str, Any]:
    """Every sample-quality number of the images `a` against `b`, as `genbench compare`
    measures them: each a folder of PNG/JPEG, a .npy/.npz/.pt file or an array; `b` may be a
    dataset's name (then as score() measures `a`, without writing a run). Between two image
    sets, `dataset` names the feature space (the dataset the images resemble). `options`: the
    dataset's options; `settings`: data_root, no_download, fid_samples, extractor,
    fid_weights."""
    change = overrides(settings, SCORE_OVERRIDES)
    if options:
        change.setdefault("data", {})["options"] = dict(options)
    return compare_sets(a, b, dataset, change)


@dataclass
class Run:
    """One run directory: its configuration, its metrics (None until measured) and, for a
    trained run, its model with its sampling weights (EMA where kept; None for a scored one)."""

    directory: Path
    config: RunConfig | ScoredConfig
    metrics: dict[str, Any] | None
    model: GenerativeModel | None


def load_run(directory: str | Path, device: str | None = None) -> Run:
    """The run in `directory` (OUT/runs/RUN_ID); its model on `device` (default: the run's)."""
    directory = Path(directory)
    raw = store.read_config(directory)
    metrics = store.read_metrics(directory)
    if is_scored(raw):
        return Run(directory, ScoredConfig.from_dict(raw), metrics, None)
    config = RunConfig.from_dict(raw)
    train, _ = load_splits(config.data)
    model = load_trained(config, directory, train, device or config.train.device)
    return Run(directory, config, metrics, model.eval())


def figures(out: str | Path) -> dict[str, Path]:
    """Write the report of the results directory `out` (`genbench report`) and return its
    figures, {DATASET-NAME: PNG path}, in the report's order."""
    from genbench.reports import write_report

    out = Path(out)
    started = time.time_ns() - 50_000_000  # file times are coarser than the clock
    write_report(out)
    drawn = [p for p in (out / "figures").glob("*.png") if p.stat().st_mtime_ns >= started]
    return {p.stem: p for p in sorted(drawn, key=lambda p: p.stat().st_mtime_ns)}
