"""The local executor: jobs one after the other in this process, or in N spawned processes.

The driver and its workers share this machine's file system, so jobs write straight into
the store and read the caches the driver prepared; `Shared` needs no shipping.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context

import torch

from genbench.benchmarks.executors import Executor, ExecutorError, Job, Shared
from genbench.benchmarks.inputs import inputs_key
from genbench.benchmarks.job import execute


class LocalExecutor(Executor):
    def __init__(self, jobs: int = 1, address: str | None = None) -> None:
        if jobs < 1:
            raise ExecutorError(f"--jobs must be at least 1, got {jobs}")
        if address is not None:
            raise ExecutorError("--address is for --executor ray; the local executor runs on "
                                "this machine")
        self.jobs = jobs

    def run(self, jobs: list[Job], shared: Shared,
            progress: bool) -> Iterator[tuple[Job, str]]:
        if self.jobs == 1 or len(jobs) <= 1:
            for job in jobs:
                yield job, "running"
                yield job, _in_this_process(job, shared, progress)
            return
        # Without resources.num_cpus, every worker keeps torch's default thread count, as a
        # sequential run does: CPU kernels reduce in a thread-count-dependent order, and
        # results must not depend on N.
        default = torch.get_num_threads()
        with ProcessPoolExecutor(self.jobs, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(execute, job.run, job.directory, None, False,
                                   job.resources.num_cpus or default): job for job in jobs}
            for job in jobs[:self.jobs]:  # the pool starts jobs in submission order
                yield job, "running"
            for started, future in enumerate(as_completed(futures), start=self.jobs):
                yield futures[future], future.result()
                if started < len(jobs):
                    yield jobs[started], "running"


def _in_this_process(job: Job, shared: Shared, progress: bool) -> str:
    threads = torch.get_num_threads()
    splits = shared.splits.get(inputs_key(job.run))  # loaded by the driver: not again
    try:
        return execute(job.run, job.directory, splits, progress, job.resources.num_cpus)
    finally:
        torch.set_num_threads(threads)  # the job's thread count is the job's, not the driver's
