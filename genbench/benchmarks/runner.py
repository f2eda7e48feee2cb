"""The benchmark runner: every job of a suite trained, measured and stored, resumably.

Order of work: validate everything (configuration, data availability, FID
weights) before any training; then for each job that is not complete, train
(resuming a checkpoint) and evaluate. A failed job records its error and the
suite goes on. Shared per-dataset work (the FID classifier, the encoder, the real
features, the calibration) is done once, in this process, before jobs fan out to an executor
(executors/: local processes, or Ray).
"""

from __future__ import annotations

import logging
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from genbench.benchmarks import executors, store
from genbench.benchmarks.calibration import calibration_entry
from genbench.benchmarks.executors import Executor, Job, Shared
from genbench.benchmarks.inputs import inputs_for, inputs_key, load_splits, ssl_settings
from genbench.benchmarks.suite import Suite
from genbench.config import RunConfig
from genbench.datasets import check_batch_size
from genbench.io import atomic_write_json
from genbench.metrics import fidelity_metrics
from genbench.metrics.features import cached_files

log = logging.getLogger(__name__)


@dataclass
class SuiteResult:
    out: Path
    suite: str
    runs: list[str]
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def prepare_shared(runs: list[RunConfig]) -> Shared:
    """Per-dataset work shared by jobs: load (and cache) the data, the FID classifier, the
    self-supervised encoder and the real features (reference and copy candidates), so that
    missing data fails now, and workers never race on caches.

    Returns the data, the cache files jobs read (for executors without a shared file
    system), and per distinct shared setting (dataset, options, training images, feature
    space, sample count) the FID floor (the metrics of real training images against the
    reference, the floor any model's FID in that setting should be read against) and the
    calibration (benchmarks/calibration.py), one entry per feature space.
    """
    shared = Shared(floors=[])
    firsts: dict[str, RunConfig] = {}  # the first run of each shared setting
    for run in runs:  # every run's data, and batches that fit it, before any training
        key = inputs_key(run)
        if key not in shared.splits:
            shared.splits[key], firsts[key] = load_splits(run.data), run
        check_batch_size(run.train.batch_size, shared.splits[key][0])
    for key, run in firsts.items():
        inputs = inputs_for(run, shared.splits[key])
        space, reference, batch = inputs.space, inputs.reference, run.eval.batch_size
        # The real data's own FID against the reference: the floor any model could reach.
        floor = fidelity_metrics(inputs.train.images[:len(reference)], reference, space,
                                 inputs.reference_name, inputs.cache, batch)
        inputs.train_features(batch)
        inputs.reference_features(batch, inputs.ssl_space)
        shared.add_cache_files(inputs.cache, [
            *cached_files(space, inputs.reference_name, inputs.cache),
            *cached_files(space, inputs.train_name, inputs.cache),
            *cached_files(inputs.ssl_space, inputs.reference_name, inputs.cache)])
        classifier = space.extractor == "classifier"
        identity = {"dataset": run.data.name, "options": dict(run.data.options),
                    "max_train": run.data.max_train}
        shared.floors.append({**identity, "fid_extractor": space.extractor,
                              "fid_samples": len(reference),
                              "classifier_epochs": run.eval.classifier_epochs if classifier
                              else None,
                              "classifier_accuracy": space.classifier_accuracy, **floor})
        shared.calibration += calibration_entry(
            inputs, {**identity, "selfsupervised_steps": ssl_settings(run, inputs.train).steps},
            batch)
    return shared


def planned_runs(suite: Suite, changes: dict[str, dict[str, Any]] | None = None
                 ) -> list[RunConfig]:
    """The suite's runs with the command line's `changes` applied to each (config.changed)."""
    return [run.changed(changes or {}) for run in suite.runs()]


def run_suite(suite: Suite, out: str | Path, jobs: int = 1, force: bool = False,
              retry_failed: bool = False, progress: bool = True, executor: str = "local",
              address: str | None = None,
              changes: dict[str, dict[str, Any]] | None = None) -> SuiteResult:
    """Run (or resume) every job of `suite` into `out`, on the executor called `executor`
    (local: `jobs` processes; ray: the cluster at `address`, else a local Ray instance).
    `changes`: settings that replace the suite's in every run (config.RunConfig.changed)."""
    out = Path(out)
    runs = planned_runs(suite, changes)
    planned = [Job(run, store.run_dir(out, run.run_id)) for run in runs]
    # Bad input (executor, cluster, data, weights) fails here, before anything is written.
    with executors.create(executor, jobs=jobs, address=address) as workers:
        workers.check(planned)
        shared = prepare_shared(runs)
        with store.locked(out):
            ids = store.record_suite(out, suite.name,
                                     {j.run_id: j.run.to_dict() for j in planned}, force)
            atomic_write_json(out / store.REFERENCE, {"fid_floors": shared.floors,
                                                      "calibration": shared.calibration})
            result = SuiteResult(out, suite.name, ids)
            todo = []
            for job in planned:
                state = store.prepare_run_dir(job.directory, job.run.to_dict(), force)
                if state == "done" or (state == "failed" and not retry_failed):
                    result.skipped.append(job.run_id)
                    continue
                (job.directory / store.FAILED).unlink(missing_ok=True)
                todo.append(job)
            _execute_all(workers, todo, shared, progress, result)
    return result


def _execute_all(workers: Executor, todo: list[Job], shared: Shared, progress: bool,
                 result: SuiteResult) -> None:
    bar = tqdm(total=len(todo), desc="benchmark", unit="run", disable=not progress)
    running: set[str] = set()
    with closing(workers.run(todo, shared, progress)) as events:  # closed before the executor
        for job, status in events:
            if status == "running":
                running.add(job.run_id)
            else:
                running.discard(job.run_id)
                (result.done if status == "done" else result.failed).append(job.run_id)
                bar.update(1)
            bar.set_postfix(done=len(result.done), failed=len(result.failed),
                            running=len(running))
    bar.close()
