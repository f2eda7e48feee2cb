"""The Ray executor: every job a Ray task, anywhere on a cluster, with no shared file system.

    driver                                      worker (any node)
    prepare_shared: tensors, cache files ──►    object store ──► a scratch cache ($GENBENCH_CACHE)
    store: a partial run's files ──────────►    task argument ──► a scratch run directory
                                                execute(run, scratch run directory)
    store ◄── drain ◄── Mailbox (an actor) ◄──  a watcher ships each file as it is (re)written

The driver's store stays the only source of truth: workers never write it, the driver
writes what arrives (atomically, oldest first). When a worker or its node dies, Ray runs
the task again (max_retries); the new attempt starts from the newest files the mailbox
holds, so training resumes from the last checkpoint that left the dead worker.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genbench import plugins
from genbench.benchmarks import faults, store
from genbench.benchmarks.executors import Executor, ExecutorError, Job, Shared
from genbench.benchmarks.executors.ray_job import Mailbox, run_job, write_files
from genbench.judge.inputs import inputs_key

MAX_RETRIES = 3  # attempts after a worker or node dies; an error inside the job is not retried
POLL_SECONDS = 0.5  # how often the driver writes arrived files into the store


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ExecutorError("--executor ray needs Ray, which is not installed here; install it "
                            "with: pip install 'genbench[ray]'") from None
    return ray


class RayExecutor(Executor):
    """Jobs as Ray tasks on the cluster at `address` ("auto", "HOST:PORT", "ray://HOST:PORT"),
    or on a Ray instance started for this command and stopped after it (no address)."""

    def __init__(self, jobs: int = 1, address: str | None = None) -> None:
        if jobs != 1:
            raise ExecutorError("--jobs is for --executor local; on Ray, as many jobs run at once "
                                "as the cluster's CPUs and GPUs allow")
        self.ray = _ray()
        self.owns_connection = not self.ray.is_initialized()
        if self.owns_connection:
            _connect(self.ray, address)
        self.asks: dict[str, tuple[int, float]] = {}

    def check(self, jobs: list[Job]) -> None:
        nodes = [node["Resources"] for node in self.ray.nodes() if node["Alive"]]
        most_cpus = max((n.get("CPU", 0) for n in nodes), default=0)
        most_gpus = max((n.get("GPU", 0) for n in nodes), default=0)
        for job in jobs:
            cpus, gpus = self.asks[job.run_id] = _asks(job, most_gpus > 0)
            if gpus > most_gpus:
                device = job.run.train.device
                raise ExecutorError(
                    f"{job.run_id} needs {gpus:g} GPU(s) (device {device}) but no node of the "
                    f"Ray cluster has {'any' if not most_gpus else f'{gpus:g}'}; add GPU nodes "
                    "to the cluster, or run on CPUs with --device cpu")
            if cpus > most_cpus:
                raise ExecutorError(
                    f"{job.run_id} asks for {cpus} CPUs but the largest node of the Ray cluster "
                    f"has {most_cpus:g}; set resources = {{ num_cpus = {int(most_cpus)} }} in the "
                    "suite, or add larger nodes")

    def run(self, jobs: list[Job], shared: Shared,
            progress: bool) -> Iterator[tuple[Job, str]]:
        ray = self.ray
        mailbox = ray.remote(Mailbox).options(num_cpus=0, **_near_driver(ray)).remote()
        files = ray.put({name: path.read_bytes() for name, path in shared.files.items()})
        splits = {key: ray.put(value) for key, value in shared.splits.items()}
        task = ray.remote(run_job)
        pending, by_id, started = {}, {job.run_id: job for job in jobs}, set()
        for job in jobs:
            cpus, gpus = self.asks[job.run_id]
            run = job.run
            if gpus == 0 and run.train.device == "auto":  # no GPU of its own: CPU
                run = run.changed({"train": {"device": "cpu"}})
            ref = task.options(name=f"genbench:{job.run_id}", num_cpus=cpus, num_gpus=gpus,
                               max_retries=MAX_RETRIES).remote(
                run, _read_run(job.directory), files, splits[inputs_key(run)], cpus, mailbox)
            pending[ref] = job
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=len(pending),
                                    timeout=POLL_SECONDS)
                starts, arrivals = ray.get(mailbox.drain.remote())
                for run_id, arrived in arrivals:
                    write_files(by_id[run_id].directory, arrived)
                for run_id in dict.fromkeys(starts):
                    if run_id not in started:
                        started.add(run_id)
                        yield by_id[run_id], "running"
                for ref in ready:
                    job = pending.pop(ref)
                    mailbox.forget.remote(job.run_id)
                    yield job, self._status(ref, job)
        finally:
            for ref in pending:  # interrupted: stop what still runs (rerunning resumes it)
                ray.cancel(ref, force=True)
            ray.kill(mailbox)

    def _status(self, ref: Any, job: Job) -> str:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayError as error:  # the workers died MAX_RETRIES + 1 times
            cause = getattr(error, "cause", None)  # what the task raised (a RayTaskError's)
            if isinstance(cause, faults.MachineFault):  # the worker's disk, not the model:
                raise cause from None  # nothing recorded, and the suite stops
            store.record_failure(job.directory, job.run_id, "ray", error)
            return "failed"

    def close(self) -> None:
        if self.owns_connection:
            self.ray.shutdown()


def _connect(ray: Any, address: str | None) -> None:
    if address not in (None, "auto"):
        _probe(address)
    try:
        if address is None:
            # A local instance for this command: nothing leaves the machine, no dashboard.
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(address="local", include_dashboard=False, logging_level=logging.WARNING)
        else:  # the plug-ins this command loaded, loaded again by every worker
            env = {plugins.ENV: os.environ[plugins.ENV]} if plugins.ENV in os.environ else {}
            ray.init(address=address, logging_level=logging.WARNING,
                     runtime_env={"env_vars": env} if env else None)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ExecutorError(f"cannot connect to a Ray cluster at {address!r} "
                            f"({str(error).splitlines()[0]}); start one with `ray start --head`, "
                            "or pass the address it printed to --address") from None


def _probe(address: str) -> None:
    """Fail in seconds, not after Ray's minute of retries, when nothing listens there."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ExecutorError(f"--address {address!r} is not HOST:PORT, ray://HOST:PORT or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as error:
        raise ExecutorError(f"cannot reach a Ray cluster at {address} ({error.strerror or error}"
                            "); start one there with `ray start --head`, or pass the address "
                            "it printed to --address") from None


def _asks(job: Job, cluster_has_gpus: bool) -> tuple[int, float]:
    """(CPUs, GPUs) a job asks of the cluster: one GPU when its device wants one."""
    device = job.run.train.device
    cpus = job.resources.num_cpus or 1
    if device == "cpu":
        return cpus, 0
    if job.resources.num_gpus is not None:
        return cpus, job.resources.num_gpus
    wants = device.startswith("cuda") or (device == "auto" and cluster_has_gpus)
    return cpus, 1 if wants else 0


def _near_driver(ray: Any) -> dict[str, Any]:
    """Keep the mailbox on the driver's node when there is one (it dies with the driver)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    try:
        node = ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001  (a Ray Client driver is on no node)
        return {}
    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node, soft=True)}


def _read_run(directory: Path) -> dict[str, bytes]:
    """A run's files in the store (a partial run resumes from them); config.json excepted."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*"))
            if p.is_file() and not p.name.startswith(".") and p.name != store.CONFIG}
