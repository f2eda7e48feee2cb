"""The local executor: jobs one after the other in this process, or in N spawned processes.

The driver and its workers share this machine's file system, so jobs write straight into
the store and read the caches the driver prepared; `Shared` needs no shipping.

Cores are divided, not shared: with N jobs at a time on C cores each job gets
max(1, C // N) torch threads (a job's resources.num_cpus overrides it), so two jobs do not
halve each other's compute by running 2C threads on C cores. C is the driver's torch thread
count (torch's default: the physical cores, or OMP_NUM_THREADS), so `--jobs 1` runs as
before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context

import torch

from genbench.benchmarks.executors import Executor, ExecutorError, Job, Shared
from genbench.benchmarks.job import execute
from genbench.judge.inputs import inputs_key

log = logging.getLogger(__name__)


def threads_per_job(jobs: int, cores: int) -> int:
    """Torch threads for each of `jobs` concurrent jobs on `cores` cores."""
    return max(1, cores // jobs)


def shares_cores(threads: list[int], cores: int) -> bool:
    """Whether jobs running at once with these thread counts need more than `cores` cores."""
    return sum(threads) > cores


class LocalExecutor(Executor):
    def __init__(self, jobs: int = 1, address: str | None = None) -> None:
        if jobs < 1:
            raise ExecutorError(f"--jobs must be at least 1, got {jobs}")
        if address is not None:
            raise ExecutorError("--address is for --executor ray; the local executor runs on "
                                "this machine")
        self.jobs = jobs
        self.cores = torch.get_num_threads()

    def threads(self, job: Job) -> int:
        """The job's torch threads: its num_cpus, else its share of the cores."""
        return job.resources.num_cpus or threads_per_job(self.jobs, self.cores)

    def check(self, jobs: list[Job]) -> None:
        """Warn when jobs with seconds budgets run beside each other: a second then buys each
        less compute than it would alone (fewer threads, or threads on shared cores), so the
        results depend on --jobs."""
        timed = [job.run_id for job in jobs if job.run.train.seconds is not None]
        at_once = sorted((self.threads(job) for job in jobs), reverse=True)[:self.jobs]
        if timed and (len(at_once) > 1 or shares_cores(at_once, self.cores)):
            names = ", ".join(timed[:3]) + (", ..." if len(timed) > 3 else "")
            log.warning("%d job(s) have budgets in seconds (%s) and run %d at a time on %d "
                        "cores with %s threads each%s: a second buys them less compute than "
                        "alone, and their results depend on --jobs; use --jobs 1, or give "
                        "the budgets in steps", len(timed), names, len(at_once), self.cores,
                        "/".join(map(str, sorted(set(at_once)))),
                        " (more threads than cores)" if shares_cores(at_once, self.cores)
                        else "")

    def run(self, jobs: list[Job], shared: Shared,
            progress: bool) -> Iterator[tuple[Job, str]]:
        if self.jobs == 1 or len(jobs) <= 1:
            for job in jobs:
                yield job, "running"
                yield job, _in_this_process(job, shared, progress, self.threads(job))
            return
        with ProcessPoolExecutor(self.jobs, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(execute, job.run, job.directory, None, False,
                                   self.threads(job)): job for job in jobs}
            try:
                for job in jobs[:self.jobs]:  # the pool starts jobs in submission order
                    yield job, "running"
                for started, future in enumerate(as_completed(futures), start=self.jobs):
                    # A job's MachineFault (or any error execute raises) is raised here.
                    yield futures[future], future.result()
                    if started < len(jobs):
                        yield jobs[started], "running"
            finally:  # a fault or an interrupt stops the suite: queued jobs must not start
                for future in futures:
                    future.cancel()


def _in_this_process(job: Job, shared: Shared, progress: bool, threads: int) -> str:
    before = torch.get_num_threads()
    key = inputs_key(job.run)  # the driver's data and inputs: not again
    try:
        return execute(job.run, job.directory, shared.splits.get(key), progress, threads,
                       shared.inputs.get(key))
    finally:
        torch.set_num_threads(before)  # the job's thread count is the job's, not the driver's
