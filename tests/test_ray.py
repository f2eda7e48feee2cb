"""The Ray executor on a real two-node Ray cluster on this machine (127.0.0.1 only): the
same metrics as the local executor, resume after a worker is killed, bad input, and no Ray
process left behind. One cluster (a head and a second node, one CPU each) serves the module.
"""

from __future__ import annotations

import csv
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil
import pytest
from conftest import TINY_SETTINGS, run_table

from genbench.cli import main
from genbench.io import torch_load

pytestmark = pytest.mark.ray

SUITE = """
name = "tiny-ray"
models = ["vae", "long", "diverges"]
datasets = ["sprites"]
seeds = [0]
resources = {{ num_cpus = 1 }}  # one torch thread per job, under either executor
""" + TINY_SETTINGS + """
[model.long]  # long enough to be killed between its first checkpoint and its end
model = "gan"
config = {{ width = 8 }}
train = {{ steps = {long_steps} }}

[model.diverges]  # fails in training: failed.json, and the suite goes on
model = "vae"
train = {{ lr = 1e30 }}
"""
LONG_STEPS = 80
QUALITY = ["fid", "kid", "precision", "recall", "mse", "psnr", "ssim", "nll_k1", "nll_k5",
           "params", "train_steps"]


def write_suite(path: Path, device: str = "cpu") -> Path:
    path.write_text(SUITE.format(device=device, long_steps=LONG_STEPS))
    return path


def benchmark(suite: Path, out: Path, *extra: str) -> int:
    return main(["benchmark", "--suite", str(suite), "--out", str(out), "--quiet",
                 "--no-report", *extra])


def quality(out: Path) -> pd.DataFrame:
    return run_table(out, QUALITY)


@pytest.fixture(scope="module")
def cluster():
    """A head and a second node, one CPU each, listening on 127.0.0.1 only; shut down whatever
    happens. Ray's single-machine mode (its switch for laptops) keeps drivers on 127.0.0.1
    too, where Ray would otherwise rewrite a loopback address to the machine's public one."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # read when ray is imported
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")  # nothing leaves this machine
        from ray.cluster_utils import Cluster

        node = {"num_cpus": 1, "node_ip_address": "127.0.0.1"}
        before = {p.pid for p in psutil.Process().children(recursive=True)}
        cluster = Cluster(initialize_head=True,
                          head_node_args={**node, "include_dashboard": False})
        cluster.processes_before = before  # what earlier tests left (a resource tracker, say)
        try:
            cluster.add_node(**node)
            cluster.wait_for_nodes()
            yield cluster
        finally:
            cluster.shutdown()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
    """The suite run by the local executor: what the Ray executor must reproduce."""
    tmp = tmp_path_factory.mktemp("local")
    suite = write_suite(tmp / "suite.toml")
    assert benchmark(suite, tmp / "out") == 0
    return suite, tmp / "out"


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        assert process.poll() is None, f"the driver ended first: {process.stderr.read()}"
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _worker_running(run_id: str) -> psutil.Process:
    """The Ray worker process executing a run's job (Ray titles it after the task)."""
    for process in psutil.Process().children(recursive=True):
        try:
            if process.cmdline()[:1] == [f"ray::genbench:{run_id}"]:
                return process
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    raise AssertionError(f"no Ray worker runs {run_id}")


@dataclass
class KilledRun:
    out: Path
    stdout: str
    step: int  # of the checkpoint in the driver's store when the worker was killed
    curves: str  # loss.csv in the driver's store then


@pytest.fixture(scope="module")
def ray_run(cluster, reference, tmp_path_factory) -> KilledRun:
    """`genbench benchmark --executor ray` on the cluster, the worker of the long job killed
    (SIGKILL) once a checkpoint of it has reached the driver's store. One run serves two
    tests: it is the Ray run compared with the local one, and the resumed one."""
    suite, _ = reference
    out = tmp_path_factory.mktemp("ray") / "out"
    run = out / "runs/long-sprites-s0"
    driver = subprocess.Popen(
        [sys.executable, "-m", "genbench.cli", "benchmark", "--suite", str(suite), "--out",
         str(out), "--quiet", "--no-report", "--executor", "ray", "--address", cluster.address],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(run / "checkpoint.pt", driver)
        worker = _worker_running("long-sprites-s0")
        step = torch_load(run / "checkpoint.pt")["state"]["step"]
        curves = (run / "loss.csv").read_text()
        worker.kill()
        worker.wait(30)
        stdout, stderr = driver.communicate(timeout=300)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, stderr
    left = list(Path(tempfile.gettempdir()).glob(f"genbench-job-{worker.pid}-*"))
    assert not left, "the retried job removes the scratch directory the killed one left"
    return KilledRun(out, stdout, step, curves)


def test_ray_gives_the_local_executors_runs_and_metrics(ray_run, reference):
    _, expected = reference
    out = ray_run.out
    assert "2 run(s) done, 0 already complete, 1 failed" in ray_run.stdout
    pd.testing.assert_frame_equal(quality(out), quality(expected))
    failure, local_failure = (json.loads((o / "runs/diverges-sprites-s0/failed.json").read_text())
                              for o in (out, expected))
    assert failure["stage"] == local_failure["stage"] == "training"
    assert failure["error"] == local_failure["error"] and "became" in failure["error"]
    names = {p.relative_to(expected) for p in expected.rglob("*") if not p.name.startswith(".")}
    assert {p.relative_to(out) for p in out.rglob("*") if not p.name.startswith(".")} == names
    assert json.loads((out / "calibration.json").read_text()) == json.loads(
        (expected / "calibration.json").read_text())


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(text.splitlines()))


def test_killed_worker_resumes_from_its_last_checkpoint(ray_run):
    assert 0 < ray_run.step < LONG_STEPS  # killed in the middle of its training
    assert sorted(p.name for p in (ray_run.out / "runs").iterdir()) == [
        "diverges-sprites-s0", "long-sprites-s0", "vae-sprites-s0"]  # every run, once
    # Resumed, not restarted: the rows logged up to the checkpoint are the very rows written
    # before the kill, wall-clock times and speeds included; the step count then goes on.
    before = [row for row in _rows(ray_run.curves) if int(row["step"]) <= ray_run.step]
    after = _rows((ray_run.out / "runs/long-sprites-s0/loss.csv").read_text())
    assert after[:len(before)] == before
    assert int(after[-1]["step"]) == LONG_STEPS


def test_changing_resources_keeps_the_stored_results(reference, tmp_path, capsys):
    suite, expected = reference
    other = tmp_path / "suite.toml"
    other.write_text(suite.read_text().replace("num_cpus = 1", "num_cpus = 2"))
    shutil.copytree(expected, tmp_path / "out")
    assert benchmark(other, tmp_path / "out") == 0
    assert "0 run(s) done, 2 already complete, 0 failed, 1 failed earlier" in \
        capsys.readouterr().out


def test_shared_work_ships_every_cache_file_a_job_reads(reference, tmp_path, monkeypatch):
    """A worker's cache holds only what the driver shipped: the job's FID must find all of it
    there (nothing recomputed), and its data must come from the driver's tensors."""
    from genbench.benchmarks.runner import prepare_shared
    from genbench.judge.inputs import inputs_for, inputs_key
    from genbench.metrics import fidelity_metrics
    from genbench.settings import load_suite

    run = load_suite(reference[0]).runs()[0]
    run.data.root = str(tmp_path / "no-data-here")  # sprites are generated: no files needed
    shared = prepare_shared([run])
    assert any(name.startswith("classifiers/") for name in shared.files)
    worker = tmp_path / "worker-cache"
    for name, path in shared.files.items():  # what a Ray worker receives
        (worker / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, worker / name)
    monkeypatch.setenv("GENBENCH_CACHE", str(worker))
    inputs = inputs_for(run, shared.splits[inputs_key(run)])
    fidelity_metrics(inputs.train.images[:len(inputs.reference)], inputs.reference, inputs.space,
                     inputs.reference_name, inputs.cache)
    assert sorted(str(p.relative_to(worker)) for p in worker.rglob("*") if p.is_file()) == \
        sorted(shared.files)


def _refused(capsys, out: Path) -> str:
    err = capsys.readouterr().err
    assert not out.exists(), "nothing may be written to the store"
    errors = [line for line in err.splitlines() if line.startswith("genbench: error:")]
    assert len(errors) == 1, err
    return errors[0]


def test_cluster_without_the_requested_gpus_is_refused(cluster, tmp_path, capsys):
    import ray

    suite = write_suite(tmp_path / "suite.toml", device="cuda")
    out = tmp_path / "out"
    assert benchmark(suite, out, "--executor", "ray", "--address", cluster.address) == 2
    assert "no node of the Ray cluster has any" in _refused(capsys, out)
    assert not ray.is_initialized()


def test_unreachable_address_is_refused(tmp_path, capsys):
    with socket.socket() as probe:  # a port of this machine where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    suite = write_suite(tmp_path / "suite.toml")
    out = tmp_path / "out"
    assert benchmark(suite, out, "--executor", "ray", "--address", f"127.0.0.1:{port}") == 2
    assert "cannot reach a Ray cluster at 127.0.0.1" in _refused(capsys, out)


def test_missing_ray_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    suite = write_suite(tmp_path / "suite.toml")
    out = tmp_path / "out"
    assert benchmark(suite, out, "--executor", "ray") == 2
    assert "pip install 'genbench[ray]'" in _refused(capsys, out)


@pytest.mark.parametrize("extra, message", [
    (["--address", "auto"], "--address is for --executor ray"),
    (["--executor", "ray", "--jobs", "2"], "--jobs is for --executor local"),
])
def test_options_of_the_other_executor_are_refused(tmp_path, capsys, extra, message):
    suite = write_suite(tmp_path / "suite.toml")
    out = tmp_path / "out"
    assert benchmark(suite, out, *extra) == 2
    assert message in _refused(capsys, out)


def test_bad_resources_are_refused(tmp_path, capsys):
    suite = write_suite(tmp_path / "suite.toml")
    suite.write_text(suite.read_text().replace("num_cpus = 1", "num_cpus = 0.5"))
    assert benchmark(suite, tmp_path / "out") == 2
    assert "[resources] num_cpus must be an integer" in _refused(capsys, tmp_path / "out")


def test_no_ray_process_survives_the_tests(cluster):
    """Last in this module: everything the cluster and the drivers started ends with it, and
    it listened on this machine's loopback address only."""
    started = [p for p in psutil.Process().children(recursive=True)
               if p.pid not in cluster.processes_before]
    assert any(p.name() == "raylet" for p in started)
    listening = {(p.name(), c.laddr.ip) for p in started for c in p.net_connections("inet")
                 if c.status == psutil.CONN_LISTEN}
    assert listening and all(ip in ("127.0.0.1", "::ffff:127.0.0.1") for _, ip in listening)
    cluster.shutdown()
    _, alive = psutil.wait_procs(started, timeout=30)
    assert not alive, [" ".join(p.cmdline()) for p in alive]
