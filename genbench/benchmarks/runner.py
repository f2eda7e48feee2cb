"""The benchmark runner: every job of a suite trained, measured and stored, resumably.

Order of work: validate everything (configuration, data availability, FID
weights) before any training; then for each job that is not complete, train
(resuming a checkpoint) and evaluate. A failed job records its error and the
suite goes on. Shared per-dataset work (the FID classifier, the real
features) is done once, in this process, before jobs fan out to workers.
"""

from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from genbench.benchmarks import store
from genbench.benchmarks.evaluate import data_cache, feature_space, load_run_data, reference_images
from genbench.benchmarks.job import execute
from genbench.config import RunConfig, Suite
from genbench.io import atomic_write_json
from genbench.metrics import fidelity_metrics

log = logging.getLogger(__name__)


@dataclass
class SuiteResult:
    out: Path
    runs: list[str]
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def prepare_shared(runs: list[RunConfig]) -> list[dict[str, Any]]:
    """Per-dataset work shared by jobs: load (and cache) the data, the FID classifier and
    the real features, so that missing data fails now, and workers never race on caches.

    Returns the FID floors, one per distinct shared setting (dataset, options, training
    images, feature space, sample count): the metrics of real training images against the
    reference, the floor that any model's FID in that setting should be read against.
    """
    seen, floors = set(), []
    for run in runs:
        key = (run.data.name, run.data.root, tuple(sorted(run.data.options.items())),
               run.data.max_train, run.eval.extractor, run.eval.fid_samples,
               run.eval.classifier_epochs, run.eval.fid_weights)
        if key in seen:
            continue
        seen.add(key)
        train, test = load_run_data(run.data)
        space = feature_space(run, train, test)
        reference, cache_name = reference_images(run, test)
        # The real data's own FID against the reference: the floor any model could reach.
        floor = fidelity_metrics(train.images[:len(reference)], reference, space, cache_name,
                                 data_cache(run.data), run.eval.batch_size)
        classifier = space.extractor == "classifier"
        floors.append({"dataset": run.data.name, "options": dict(run.data.options),
                       "max_train": run.data.max_train, "fid_extractor": space.extractor,
                       "fid_samples": len(reference),
                       "classifier_epochs": run.eval.classifier_epochs if classifier else None,
                       "classifier_accuracy": space.classifier_accuracy, **floor})
    return floors


def run_suite(suite: Suite, out: str | Path, jobs: int = 1, force: bool = False,
              retry_failed: bool = False, report: bool = True, progress: bool = True,
              **overrides: Any) -> SuiteResult:
    """Run (or resume) every job of `suite` into `out`.

    overrides: data_root, download, fid_weights, extractor, device, wandb,
    applied to every job.
    """
    out = Path(out)
    runs = [apply_overrides(r, **overrides) for r in suite.runs()]
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    floors = prepare_shared(runs)  # missing data or weights fail here, before any writing
    with store.locked(out):
        ids = store.record_suite(out, suite.name, {r.run_id: r.to_dict() for r in runs}, force)
        atomic_write_json(out / store.REFERENCE, {"fid_floors": floors})
        result = SuiteResult(out, ids)
        todo = []
        for run in runs:
            directory = store.run_dir(out, run.run_id)
            state = store.prepare_run_dir(directory, run.to_dict(), force)
            if state == "done" or (state == "failed" and not retry_failed):
                result.skipped.append(run.run_id)
                continue
            (directory / store.FAILED).unlink(missing_ok=True)
            todo.append(run)
        _execute_all(todo, out, jobs, progress, result)
    if report:
        from genbench.reports import write_report

        write_report(out, wandb=bool(overrides.get("wandb")))
    return result


def _execute_all(todo: list[RunConfig], out: Path, jobs: int, progress: bool,
                 result: SuiteResult) -> None:
    bar = tqdm(total=len(todo), desc="benchmark", unit="run", disable=not progress)
    if jobs == 1 or len(todo) <= 1:
        for run in todo:
            bar.set_postfix_str(run.run_id)
            status = execute(run.to_dict(), str(store.run_dir(out, run.run_id)), progress)
            (result.done if status == "done" else result.failed).append(run.run_id)
            bar.update(1)
    else:
        # Every worker keeps torch's default thread count, as a sequential run does: CPU
        # kernels reduce in a thread-count-dependent order, and results must not depend on N.
        threads = torch.get_num_threads()
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(execute, run.to_dict(), str(store.run_dir(out, run.run_id)),
                                   False, threads): run.run_id for run in todo}
            for future in as_completed(futures):
                (result.done if future.result() == "done" else result.failed).append(
                    futures[future])
                bar.update(1)
    bar.close()


def apply_overrides(run: RunConfig, data_root: str | None = None, download: bool | None = None,
                    fid_weights: str | None = None, extractor: str | None = None,
                    device: str | None = None, wandb: bool | None = None) -> RunConfig:
    run = RunConfig.from_dict(run.to_dict())  # a copy
    if data_root is not None:
        run.data.root = str(data_root)
    if download is not None:
        run.data.download = download
    if fid_weights is not None:
        run.eval.fid_weights = str(fid_weights)
    if extractor is not None:
        run.eval = dataclasses.replace(run.eval, extractor=extractor)
    if device is not None:
        run.train.device = device
    if wandb is not None:
        run.train.wandb = wandb
    return run
