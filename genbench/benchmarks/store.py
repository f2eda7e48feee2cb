"""The results store: it owns the run directory (every file name in it, the failure record)
and the rules that make resuming safe.

    OUT/suite.json              the suite, and the configuration of every run in it
    OUT/calibration.json        the judges and their calibration rows (real images)
    OUT/.lock                   held (flock) while a suite writes here
    OUT/runs/RUN_ID/config.json     resolved configuration
                    checkpoint.pt   the training loop's state (training/checkpoint.py)
                    loss.csv        the training loss, every log_every steps (the Trainer)
                    quality.csv     the quality curve: one row per evaluation during training
                    curve-samples.pt    the first samples at every curve point (same noise)
                    train.json      the training summary
                    samples.png, reconstructions.png    preview grids
                    metrics.json, visuals.pt            from evaluation
                    failed.json     the error, when it failed

The Trainer writes checkpoint.pt and loss.csv under the names training/ gives them
(training sits below benchmarks); they are listed, and read, through this module.

A run is complete only when metrics.json exists; every file is written to a
temporary name and renamed, so a kill at any moment leaves either the old file
or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from genbench.errors import GenbenchError
from genbench.io import CorruptFileError, atomic_write_json, read_json
from genbench.settings.identity import run_identity
from genbench.training import CHECKPOINT as TRAINER_CHECKPOINT
from genbench.training import LOSS_CURVE as TRAINER_LOSS_CURVE

CONFIG, METRICS, FAILED, TRAIN, VISUALS = ("config.json", "metrics.json", "failed.json",
                                           "train.json", "visuals.pt")
QUALITY, CURVE_SAMPLES = "quality.csv", "curve-samples.pt"
NFE = "nfe.csv"  # a denoising model's FID against network evaluations (benchmarks/nfe.py)
# Their names in run directories written before: the report still reads them.
OLD_LOSS_CURVE, OLD_CURVE_SAMPLES = "curves.csv", "progress.pt"
SAMPLES, RECONSTRUCTIONS = "samples.png", "reconstructions.png"
CLI_SAMPLES = "samples-cli.png"  # `genbench sample`'s default output
CHECKPOINT, LOSS_CURVE = TRAINER_CHECKPOINT, TRAINER_LOSS_CURVE
SUITE = "suite.json"
# The judges and their calibration: {"judges": [entry, ...]}, one entry per shared setting of
# a dataset (see runner.prepare_shared): dataset, options, max_train, fid_extractor,
# fid_samples, classifier_epochs, classifier_accuracy, selfsupervised_steps; and
# {"calibration": [entry, ...]}, the real image sets as the judge scores them, per setting and
# feature space (judge/calibration.py); the held-out row is the floor.
CALIBRATION = "calibration.json"
# Written before calibration.json: {"fid_floors": [...], "calibration": [...]}, whose floors
# were training images. The report still reads it.
OLD_REFERENCE = "reference.json"


class StoreError(GenbenchError, RuntimeError):
    """The output directory cannot be used as asked (locked, or holds other results)."""


def run_dir(out: Path, run_id: str) -> Path:
    return out / "runs" / run_id


def status(directory: Path) -> str:
    """'done', 'failed', 'partial' (started, not finished) or 'new'."""
    if (directory / METRICS).exists():
        return "done"
    if (directory / FAILED).exists():
        return "failed"
    return "partial" if directory.exists() else "new"


def record_failure(directory: Path, run_id: str, stage: str, error: BaseException | str,
                   traceback: str = "") -> None:
    """failed.json: the run failed at `stage` (the suite goes on; --retry-failed reruns it)."""
    message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    atomic_write_json(directory / FAILED, {"run": run_id, "stage": stage, "error": message,
                                           "traceback": traceback})


def read_config(directory: Path) -> dict[str, Any]:
    """The run's config.json; a user error when the directory is not a run directory."""
    try:
        return read_json(directory / CONFIG)
    except FileNotFoundError:
        raise StoreError(f"{directory} is not a genbench run directory (no {CONFIG})") from None


def read_metrics(directory: Path) -> dict[str, Any] | None:
    """The run's metrics, or None when the file is missing or damaged."""
    try:
        metrics = read_json(directory / METRICS)
    except (FileNotFoundError, CorruptFileError):
        return None
    return metrics if isinstance(metrics, dict) and "run" in metrics else None


def prepare_run_dir(directory: Path, config: dict[str, Any], force: bool) -> str:
    """Make `directory` hold this run; returns its status after checking it is the same run.

    A directory holding a different configuration is never overwritten without
    `force`; damaged results are discarded so that the run is redone.
    """
    if _replaces_run(directory, config, force):
        shutil.rmtree(directory)
    elif (directory / METRICS).exists() and read_metrics(directory) is None:
        (directory / METRICS).unlink()  # edited by hand or damaged: measure again
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_json(directory / CONFIG, config)
    return status(directory)


def _replaces_run(directory: Path, config: dict[str, Any], force: bool) -> bool:
    """Whether `directory` holds another run (or a damaged config.json), which only `force`
    replaces: StoreError without it. Reads only."""
    try:
        existing = read_json(directory / CONFIG)
    except FileNotFoundError:  # no run there yet, or one that never wrote its config
        return False
    except CorruptFileError:
        if not force:
            raise StoreError(f"{directory / CONFIG} is damaged (edited by hand?); rerun "
                             "with --force to redo this run") from None
        return True
    if existing == config or run_identity(existing) == run_identity(config):
        return False  # (the same file: no configuration to rebuild and compare)
    if not force:
        raise StoreError(f"{directory} holds a run with a different configuration; rerun with "
                         "--force to replace it, or choose another --out")
    return True


def _previous_suite(path: Path, force: bool) -> dict[str, Any]:
    """suite.json's record; {} when there is none, or a damaged one that `force` rebuilds."""
    if not path.exists():
        return {}
    try:
        return read_json(path)
    except CorruptFileError:
        if not force:
            raise StoreError(f"{path} is damaged; rerun with --force to rebuild it") from None
        return {}


def _other_suite(out: Path, previous: dict[str, Any], suite_name: str, force: bool) -> bool:
    """Whether `out` holds another suite's results, which only `force` replaces."""
    if not previous or previous.get("suite") == suite_name:
        return False
    if not force:
        raise StoreError(
            f"{out} holds results of suite {previous.get('suite')!r}, not {suite_name!r}; rerun "
            "with --force to replace them, or choose another --out")
    return True


def check_out(out: Path, suite_name: str, runs: dict[str, dict[str, Any]], force: bool) -> None:
    """Raise StoreError where writing these runs of suite `suite_name` into `out` would replace
    results that are not theirs without `force`. Writes nothing (not even the lock), so that a
    refused command leaves `out` exactly as it was."""
    _other_suite(out, _previous_suite(out / SUITE, force), suite_name, force)
    for run_id, config in runs.items():
        _replaces_run(run_dir(out, run_id), config, force)


def record_suite(out: Path, suite_name: str, runs: dict[str, dict], force: bool) -> list[str]:
    """Write suite.json, refusing an output directory that holds another suite's results.

    Returns the run ids recorded there (earlier selections of the same suite included).
    """
    path = out / SUITE
    previous = _previous_suite(path, force)
    if _other_suite(out, previous, suite_name, force):
        shutil.rmtree(out / "runs", ignore_errors=True)
        previous = {}
    earlier = [k for k in previous.get("order", []) if k not in runs]
    record = {"suite": suite_name, "order": earlier + list(runs),
              "runs": {**previous.get("runs", {}), **runs}}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, record)  # (json keys get sorted; "order" keeps the suite's order)
    return record["order"]


def add_run(out: Path, run_id: str, config: dict[str, Any], metrics: dict[str, Any],
            write: Callable[[Path], None] | None = None, force: bool = False) -> Path:
    """Add one run measured outside a suite (`genbench score`) to the results directory `out`:
    config.json, the files `write` puts in its directory, metrics.json last. Where `out` holds
    a suite, the run joins suite.json's order (and its configuration, its runs), so that the
    report lists it beside the suite's runs. A directory holding a different run is replaced
    only with `force`; that check comes before anything is written."""
    directory = run_dir(out, run_id)
    with locked(out):
        record = read_json(out / SUITE) if (out / SUITE).exists() else None
        prepare_run_dir(directory, config, force)
        if write is not None:
            write(directory)
        atomic_write_json(directory / METRICS, metrics)
        if record is not None:
            order = record.get("order", [])
            record.update(order=order + [run_id] * (run_id not in order),
                          runs={**record.get("runs", {}), run_id: config})
            atomic_write_json(out / SUITE, record)
    return directory


def suite_runs(out: Path) -> list[str]:
    """Run ids of the suite in `out`, or every run directory when there is no suite.json."""
    path = out / SUITE
    if path.exists():
        return list(read_json(path).get("order", []))
    return sorted(p.name for p in (out / "runs").glob("*") if p.is_dir())


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold OUT/.lock: a second suite on the same directory refuses instead of interleaving.

    flock is released by the kernel when the process dies, even by SIGKILL, so a
    stale lock never blocks a rerun.
    """
    out.mkdir(parents=True, exist_ok=True)
    path = out / ".lock"
    handle = open(path, "a+")  # noqa: SIM115  (held for the whole block)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise StoreError(f"{out} is in use by another genbench benchmark (pid {holder}); wait "
                         "for it to finish or choose another --out") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()  # (a full disk fails here: the handle is closed all the same)
        yield
    finally:
        with contextlib.suppress(OSError):
            handle.truncate(0)
        fcntl.flock(handle, fcntl.LOCK_UN)
        with contextlib.suppress(OSError):  # its buffered pid, on a full disk
            handle.close()
