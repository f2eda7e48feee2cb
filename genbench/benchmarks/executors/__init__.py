"""Executors: how the jobs of a suite run (local processes, or a Ray cluster), chosen by name.

Every executor runs the one job function, `job.execute(run, directory)`, and leaves the
run's files in `Job.directory` of the driver's store; the runner only plans jobs and counts
what the executor reports:

    with create("ray", address="auto") as executor:   # connects; bad input fails here
        executor.check(jobs)                          # e.g. GPUs the cluster lacks
        for job, status in executor.run(jobs, shared, progress=False):
            ...                                       # "running", then "done" or "failed"
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genbench.errors import GenbenchError
from genbench.judge.inputs import RunInputs, Splits
from genbench.settings import Resources, RunConfig

EXECUTORS = {"local": "genbench.benchmarks.executors.local:LocalExecutor",
             "ray": "genbench.benchmarks.executors.ray:RayExecutor"}


class ExecutorError(GenbenchError, RuntimeError):
    """The executor cannot run these jobs (not installed, unreachable, resources missing)."""


@dataclass(frozen=True)
class Job:
    run: RunConfig
    directory: Path  # the run's directory in the driver's store

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def resources(self) -> Resources:
        return self.run.resources


@dataclass
class Shared:
    """What the driver prepares once for all jobs of a suite (runner.prepare_shared).

    judges: per shared setting of a dataset, what judges it (dataset, feature space, n, the
        classifier's accuracy ...): calibration.json's `judges`.
    files: the cache files jobs read (classifier weights, real features), by their path
        relative to the data cache; an executor without a shared file system copies them.
    splits: the (train, test) splits of every run's inputs, by inputs.inputs_key.
    inputs: every run's inputs, by the same key, for jobs in the driver's own process.
    calibration: per shared setting and feature space, real image sets measured like
        samples (calibration.json's calibration; judge/calibration.py).
    """

    judges: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    splits: dict[str, Splits] = field(default_factory=dict)
    inputs: dict[str, RunInputs] = field(default_factory=dict)
    calibration: list[dict[str, Any]] = field(default_factory=list)

    def add_cache_files(self, cache: Path, paths: list[Path]) -> None:
        """Files under the data cache `cache` that jobs read: a worker gets copies."""
        self.files.update({str(Path(p).relative_to(cache)): Path(p) for p in paths})


class Executor:
    """Runs jobs; built with (jobs, address), refusing the options that do not apply to it."""

    def check(self, jobs: list[Job]) -> None:
        """Raise ExecutorError when these jobs cannot run here; called before anything is
        written to the store."""

    def run(self, jobs: list[Job], shared: Shared,
            progress: bool) -> Iterator[tuple[Job, str]]:
        """Run every job; yield (job, "running") as it starts, then (job, "done" | "failed")."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the executor holds (processes, a cluster connection)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def create(name: str, jobs: int = 1, address: str | None = None) -> Executor:
    """The executor called `name`; each validates the options that apply to it."""
    if name not in EXECUTORS:
        raise ExecutorError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTORS)}")
    module, cls = EXECUTORS[name].split(":")
    return getattr(importlib.import_module(module), cls)(jobs=jobs, address=address)
