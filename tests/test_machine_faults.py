"""Faults of the machine are not results of a model, and a refused command writes nothing.

A full disk is a real one: a small tmpfs (this needs root, or CAP_SYS_ADMIN; the tests skip
where it cannot be mounted) that a filler file fills up to a margin, so that the suite's own
small files fit and a run's first checkpoint does not. Deleting the filler frees the space.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from test_runner import tiny_suite

from genbench.benchmarks import faults, store
from genbench.benchmarks.runner import planned_runs
from genbench.cli import main
from genbench.settings import load_suite

MARGIN = 96 * 1024  # room for suite.json, calibration, config.json; not for a checkpoint


def write_suite(tmp_path: Path, models: tuple[str, ...] = ("vae",), name: str = "tiny") -> Path:
    return tiny_suite(tmp_path, models, name)


def benchmark(suite: Path, out: Path, *extra: str) -> int:
    return main(["benchmark", "--suite", str(suite), "--out", str(out), "--quiet",
                 "--no-report", *extra])


def problems(err: str) -> list[str]:
    """What the command printed on stderr, its warnings (tiny FID samples) left out."""
    return [line for line in err.splitlines() if not line.startswith("genbench: warning:")]


@pytest.fixture
def disk(tmp_path):
    """A 64 MiB file system of its own, unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def fill(disk: Path, leave: int = MARGIN) -> Path:
    """A file that leaves `leave` bytes free on `disk`: a nearly full disk."""
    filler = disk / "filler"
    stat = os.statvfs(disk)
    filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - leave))
    return filler


def test_full_disk_stops_the_suite_and_the_run_resumes_when_freed(tmp_path, disk, capsys):
    suite, out = write_suite(tmp_path), disk / "out"
    filler = fill(disk)
    assert benchmark(suite, out) != 0
    err = capsys.readouterr().err
    assert "genbench: error: run vae-sprites-s0 could not write its files (No space left on " \
           f"device: {out / 'runs/vae-sprites-s0'}" in err
    assert "free space or fix permissions and rerun: the run resumes" in err
    assert len(problems(err)) == 1  # one line, no traceback
    run = store.run_dir(out, "vae-sprites-s0")
    assert store.status(run) == "partial"  # not failed: the model did nothing wrong
    assert not (run / store.FAILED).exists()

    filler.unlink()  # space freed: the same command, no --retry-failed
    assert benchmark(suite, out) == 0
    assert "1 run(s) done, 0 already complete, 0 failed ->" in capsys.readouterr().out
    assert store.status(run) == "done"
    assert not list(out.rglob(".*.tmp"))  # nothing half-written left behind


def test_full_disk_stops_a_suite_of_worker_processes(tmp_path, disk, capsys):
    suite, out = write_suite(tmp_path, ("vae", "gan")), disk / "out"
    filler = fill(disk)
    assert benchmark(suite, out, "--jobs", "2") != 0
    err = capsys.readouterr().err  # the worker's message crosses the process boundary whole
    assert "could not write its files (No space left on device: " in err
    assert len(problems(err)) == 1
    assert not list(out.glob(f"runs/*/{store.FAILED}"))

    filler.unlink()
    assert benchmark(suite, out, "--jobs", "2") == 0
    assert "2 run(s) done, 0 already complete" in capsys.readouterr().out


def test_fault_inside_a_wrapped_error_is_still_the_machines(tmp_path):
    directory = tmp_path / "run"
    try:
        try:
            raise OSError(28, "No space left on device", str(directory / "x.pt"))
        except OSError as error:
            raise RuntimeError("writer failed") from error
    except RuntimeError as wrapped:
        with pytest.raises(faults.MachineFault, match=r"run r could not write its files "
                           r"\(No space left on device: .*x\.pt\)"):
            faults.raise_machine_fault("r", directory, wrapped)
    faults.raise_machine_fault("r", directory, ValueError("nan"))  # the model's: no fault
    faults.raise_machine_fault("r", directory, FileNotFoundError(2, "missing"))


def test_a_full_disk_at_the_results_folders_own_files_is_one_line(tmp_path, disk, capsys):
    """Before any run starts (suite.json, calibration.json, a run's config.json): the same
    one line, not a bug's traceback."""
    suite, out = write_suite(tmp_path), disk / "out"
    fill(disk, leave=0)
    assert benchmark(suite, out) == 2
    err = problems(capsys.readouterr().err)
    assert len(err) == 1 and f"genbench: error: could not write into {out} " in err[0], err
    assert "(No space left on device); free space or fix permissions" in err[0]


def test_failed_runs_are_not_counted_as_complete(tmp_path, capsys):
    suite = write_suite(tmp_path)
    out = tmp_path / "out"
    run = planned_runs(load_suite(suite))[0]
    directory = store.run_dir(out, run.run_id)
    store.prepare_run_dir(directory, run.to_dict(), force=False)
    store.record_failure(directory, run.run_id, "training", "ValueError: loss became nan")
    assert benchmark(suite, out) == 0
    assert ("tiny: 0 run(s) done, 0 already complete, 0 failed, 1 failed earlier (rerun with "
            f"--retry-failed) -> {out}") in capsys.readouterr().out


def snapshot(out: Path) -> dict[str, tuple]:
    """Every path under `out`: its bytes (files) and modification time."""
    return {str(p.relative_to(out)): (p.read_bytes() if p.is_file() else None,
                                      p.stat().st_mtime_ns) for p in [out, *out.rglob("*")]}


@pytest.fixture
def holding(tmp_path) -> tuple[Path, Path]:
    """A suite of two runs and an --out holding them (started, no results), the second with
    another configuration than the suite now asks for."""
    suite, out = write_suite(tmp_path, ("vae", "gan")), tmp_path / "out"
    runs = planned_runs(load_suite(suite))
    store.record_suite(out, "tiny", {r.run_id: r.to_dict() for r in runs}, force=False)
    for run in runs:
        config = run.to_dict()
        if run.model == "gan":
            config["train"]["steps"] += 1
        store.prepare_run_dir(store.run_dir(out, run.run_id), config, force=False)
    return suite, out


@pytest.mark.parametrize("case", ["other configuration", "other suite", "damaged suite.json"])
def test_refused_benchmark_changes_nothing(tmp_path, holding, capsys, case):
    suite, out = holding
    expected = {"other configuration": "gan-sprites-s0 holds a run with a different "
                "configuration; rerun with --force",
                "other suite": f"{out} holds results of suite 'tiny', not 'other'; rerun with "
                "--force",
                "damaged suite.json": "suite.json is damaged; rerun with --force"}[case]
    if case == "other suite":
        suite = write_suite(tmp_path, ("vae",), name="other")
    if case == "damaged suite.json":
        (out / store.SUITE).write_text('{"suite": "ti')
    before = snapshot(out)
    assert benchmark(suite, out) == 2
    assert expected in capsys.readouterr().err
    assert snapshot(out) == before  # no file rewritten, none added (.lock included)
    assert not (out / ".lock").exists()


def test_forced_benchmark_replaces_the_other_configuration(tmp_path, holding):
    suite, out = holding
    shutil.rmtree(store.run_dir(out, "vae-sprites-s0"))  # only the gan to train here
    suite_text = suite.read_text().replace('models = ["vae", "gan"]', 'models = ["gan"]')
    suite.write_text(suite_text)
    assert benchmark(suite, out, "--force") == 0
    config = store.read_config(store.run_dir(out, "gan-sprites-s0"))
    assert config["train"]["steps"] == 30
