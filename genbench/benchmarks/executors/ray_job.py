"""The worker side of the Ray executor: one job in a scratch directory, its files shipped
to the driver's mailbox as they are written (see ray.py for the whole picture)."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from stat import S_ISREG
from typing import Any

from genbench.benchmarks import store
from genbench.benchmarks.job import execute
from genbench.io import atomic_write_bytes, atomic_write_json
from genbench.judge.inputs import Splits
from genbench.settings import RunConfig

SHIP_SECONDS = 0.5  # how often a running job's new files leave for the driver
Send = Callable[[str, dict[str, bytes]], None]  # (run id, {relative path: bytes})
SCRATCH = "genbench-job-"  # + worker pid: a job's scratch directory in the system temp dir


class Mailbox:
    """Run files on their way from workers to the driver, and the newest copy of each run's
    files, which a retried task starts from. A Ray actor, near the driver."""

    def __init__(self) -> None:
        self.newest: dict[str, dict[str, bytes]] = {}
        self.arrived: list[tuple[str, dict[str, bytes]]] = []
        self.starts: list[str] = []

    def start(self, run_id: str) -> dict[str, bytes]:
        self.starts.append(run_id)
        return self.newest.get(run_id, {})

    def put(self, run_id: str, files: dict[str, bytes]) -> None:
        self.newest.setdefault(run_id, {}).update(files)
        self.arrived.append((run_id, files))

    def drain(self) -> tuple[list[str], list[tuple[str, dict[str, bytes]]]]:
        out = self.starts, self.arrived
        self.starts, self.arrived = [], []
        return out

    def forget(self, run_id: str) -> None:
        self.newest.pop(run_id, None)


def run_job(run: RunConfig, files: dict[str, bytes], cache_files: dict[str, bytes],
            splits: Splits, threads: int, mailbox: Any) -> str:
    """execute() on a worker: the data and caches come from the driver, the run's files go
    back to it. `files`: the run's files in the store when it was submitted."""
    import ray

    newest = ray.get(mailbox.start.remote(run.run_id))  # from an attempt that died, if any
    remove_scratch_of_dead_workers()
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH}{os.getpid()}-") as scratch:
        cache, directory = Path(scratch, "cache"), Path(scratch, "run")
        write_files(cache, cache_files)
        write_files(directory, {**files, **newest})
        atomic_write_json(directory / store.CONFIG, run.to_dict())
        if store.status(directory) == "done":  # the last attempt died after finishing
            return "done"
        with _environ("GENBENCH_CACHE", str(cache)), \
                Shipper(directory, run.run_id, remote_put(mailbox)):
            return execute(run, directory, splits, False, threads)


def remove_scratch_of_dead_workers() -> None:
    """A worker killed in the middle of a job leaves its scratch directory behind; the next
    job on that machine removes it."""
    for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH}*"):
        pid = path.name.removeprefix(SCRATCH).split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def write_files(directory: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():  # in the order they were written: metrics.json last
        atomic_write_bytes(directory / name, data)


def remote_put(mailbox: Any) -> Send:
    """Files to the mailbox actor, waiting until they are there."""
    import ray

    return lambda run_id, files: ray.get(mailbox.put.remote(run_id, files))


class Shipper:
    """Sends the run directory's new and changed files to the mailbox, oldest first.

    While the job runs, every `interval` seconds, the top-level files: genbench writes them by
    atomic rename, so a new inode, time or size means a complete new file. When the job
    ends, every file (and any folder a logger wrote). config.json stays the driver's.

    metrics.json, the mark of a complete run, is never in a periodic ship: it goes alone,
    after everything else has arrived, so that a driver that has it has the whole run
    (periodic ships leave out subfolders, and a driver stopped between two ships must not
    hold a "complete" run that lacks files).
    """

    def __init__(self, directory: Path, run_id: str, send: Send,
                 interval: float = SHIP_SECONDS) -> None:
        self.directory, self.run_id, self.send, self.interval = directory, run_id, send, interval
        self.shipped = self._stamps(everything=True)  # what the job starts from is known
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Shipper:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.ship(everything=True)

    def _loop(self) -> None:
        while not self.stop.wait(self.interval):
            self.ship()

    def ship(self, everything: bool = False) -> None:
        """The changed files (periodic: top-level ones; `everything`: all, then metrics.json
        in a put of its own)."""
        stamps = self._stamps(everything)
        changed = [name for *_, name in sorted((stamp[1], name) for name, stamp in
                                               stamps.items() if self.shipped.get(name) != stamp)]
        self._put([name for name in changed if name != store.METRICS], stamps)
        if everything and store.METRICS in changed:
            self._put([store.METRICS], stamps)

    def _put(self, names: list[str], stamps: dict[str, tuple[int, int, int]]) -> None:
        files = {}
        for name in names:
            try:
                files[name] = (self.directory / name).read_bytes()
            except FileNotFoundError:  # removed since: nothing to ship
                continue
        if files:
            self.send(self.run_id, files)
            self.shipped.update({name: stamps[name] for name in files})

    def _stamps(self, everything: bool) -> dict[str, tuple[int, int, int]]:
        paths = self.directory.rglob("*") if everything else self.directory.iterdir()
        stamps = {}
        for path in paths:
            if path.name.startswith(".") or path.name == store.CONFIG:  # temporary, or ours
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if S_ISREG(stat.st_mode):
                stamps[str(path.relative_to(self.directory))] = (stat.st_ino, stat.st_mtime_ns,
                                                                 stat.st_size)
        return stamps


@contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
