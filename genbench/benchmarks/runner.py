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
from genbench.benchmarks.executors import Executor, Job, Shared
from genbench.datasets import check_batch_size
from genbench.io import atomic_write_json
from genbench.judge import judge_of
from genbench.judge.calibration import calibration_entry
from genbench.judge.inputs import inputs_for, inputs_key, load_splits, ssl_settings
from genbench.metrics.features import cached_files
from genbench.settings import RunConfig, Suite

log = logging.getLogger(__name__)


@dataclass
class SuiteResult:
    out: Path
    suite: str
    runs: list[str]
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # complete before this call
    failed_earlier: list[str] = field(default_factory=list)  # not retried (no --retry-failed)


def prepare_shared(runs: list[RunConfig]) -> Shared:
    """Per-dataset work shared by jobs: load (and cache) the data, the FID classifier, the
    self-supervised encoder and the real features (reference and copy candidates), so that
    missing data fails now, and workers never race on caches.

    Returns the data and each run's inputs, the cache files jobs read (for executors without
    a shared file system), and per distinct shared setting (dataset, options, training
    images, feature space, sample count) its judge and the judge's calibration
    (judge/calibration.py), one entry per feature space, whose held-out row is the floor.
    """
    shared = Shared()
    firsts: dict[str, RunConfig] = {}  # the first run of each shared setting
    for run in runs:  # every run's data, and batches that fit it, before any training
        key = inputs_key(run)
        if key not in shared.splits:
            shared.splits[key], firsts[key] = load_splits(run.data), run
        check_batch_size(run.train.batch_size, shared.splits[key][0])
    for key, run in firsts.items():
        inputs = shared.inputs[key] = inputs_for(run, shared.splits[key])
        judge = judge_of(run, inputs)
        space, batch = inputs.space, run.eval.batch_size
        inputs.train_features(batch)
        inputs.reference_features(batch)
        inputs.reference_features(batch, inputs.ssl_space)
        shared.add_cache_files(inputs.cache, [
            *cached_files(space, inputs.reference_name, inputs.cache),
            *cached_files(space, inputs.train_name, inputs.cache),
            *cached_files(inputs.ssl_space, inputs.reference_name, inputs.cache)])
        classifier = space.extractor == "classifier"
        identity = {"dataset": run.data.name, "options": dict(run.data.options),
                    "max_train": run.data.max_train,
                    "selfsupervised_steps": ssl_settings(run, inputs.train).steps}
        shared.judges.append({**identity, "judge": inputs.judge_name,
                              "fid_extractor": space.extractor,
                              "fid_samples": len(inputs.reference),
                              "classifier_epochs": run.eval.classifier_epochs if classifier
                              else None, "classifier_accuracy": space.classifier_accuracy})
        shared.calibration += calibration_entry(judge, identity)
    return shared


def planned_runs(suite: Suite, changes: dict[str, dict[str, Any]] | None = None
                 ) -> list[RunConfig]:
    """The suite's runs with the command line's `changes` applied to each (RunConfig.changed)."""
    return [run.changed(changes) for run in suite.runs()] if changes else suite.runs()


def run_benchmark(suite: Suite, out: str | Path, jobs: int = 1, force: bool = False,
                  retry_failed: bool = False, progress: bool = True, executor: str = "local",
                  address: str | None = None, changes: dict[str, dict[str, Any]] | None = None,
                  runs: list[RunConfig] | None = None) -> SuiteResult:
    """Run (or resume) every job of `suite` into `out`, on the executor called `executor`
    (local: `jobs` processes; ray: the cluster at `address`, else a local Ray instance).
    `changes`: settings that replace the suite's in every run (RunConfig.changed); `runs`:
    the planned runs (planned_runs(suite, changes)), where the caller has them."""
    out = Path(out)
    runs = runs if runs is not None else planned_runs(suite, changes)
    planned = [Job(run, store.run_dir(out, run.run_id)) for run in runs]
    configs = {j.run_id: j.run.to_dict() for j in planned}
    # Bad input (executor, cluster, data, weights, an --out holding other results) fails
    # here, before anything is written.
    with executors.create(executor, jobs=jobs, address=address) as workers:
        workers.check(planned)
        store.check_out(out, suite.name, configs, force)
        shared = prepare_shared(runs)
        with store.locked(out):
            # Again under the lock: another command may have written since the first check.
            store.check_out(out, suite.name, configs, force)
            ids = store.record_suite(out, suite.name, configs, force)
            atomic_write_json(out / store.CALIBRATION, {"judges": shared.judges,
                                                        "calibration": shared.calibration})
            result = SuiteResult(out, suite.name, ids)
            todo = []
            for job in planned:
                state = store.prepare_run_dir(job.directory, job.run.to_dict(), force)
                if state == "done" or (state == "failed" and not retry_failed):
                    (result.skipped if state == "done" else result.failed_earlier).append(
                        job.run_id)
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
