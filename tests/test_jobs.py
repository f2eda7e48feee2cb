"""Jobs that do not steal from each other: the local executor divides the cores between the
jobs that run at once, warns when seconds budgets run beside each other, and with step
budgets a suite's results do not depend on --jobs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import TINY_SETTINGS, run_table

from genbench.benchmarks.executors import Job, Shared, local
from genbench.benchmarks.executors.local import LocalExecutor, shares_cores, threads_per_job
from genbench.cli import main
from genbench.settings import DataConfig, Resources, RunConfig
from genbench.training import TrainConfig

SUITE = """
name = "jobs"
models = ["vae", "gan"]
datasets = ["sprites"]
seeds = [0]
""" + TINY_SETTINGS + """
[model.gan]
config = {{ width = 8 }}
"""
COLUMNS = ["train_steps", "fid", "kid", "precision", "recall", "mse", "psnr", "ssim", "nll_k1",
           "nll_k5"]


def job(name: str, seconds: float | None = None, steps: int | None = 30,
        num_cpus: int | None = None) -> Job:
    train = TrainConfig(seconds=seconds, steps=None if seconds else steps)
    run = RunConfig(name=name, model="vae", data=DataConfig("sprites"), train=train,
                    resources=Resources(num_cpus=num_cpus))
    return Job(run, Path(name))


def test_each_job_gets_its_share_of_the_cores():
    assert [threads_per_job(n, 8) for n in (1, 2, 3, 4, 8, 16)] == [8, 4, 2, 2, 1, 1]
    assert threads_per_job(2, 1) == 1  # never none
    assert not shares_cores([4, 4], 8) and shares_cores([4, 4, 1], 8)
    executor = LocalExecutor(jobs=2)
    executor.cores = 8
    assert executor.threads(job("a")) == 4
    assert executor.threads(job("b", num_cpus=3)) == 3  # resources.num_cpus decides


def test_a_job_in_this_process_runs_with_its_threads_and_gives_them_back(monkeypatch):
    seen = []
    monkeypatch.setattr(local, "execute", lambda run, directory, splits, progress, threads,
                        inputs: (
        torch.set_num_threads(threads), seen.append(torch.get_num_threads()), "done")[-1])
    before = torch.get_num_threads()
    executor = LocalExecutor(jobs=1)
    executor.cores = 2
    statuses = [s for _, s in executor.run([job("a"), job("b", num_cpus=1)],
                                                     Shared(), False)]
    assert statuses == ["running", "done", "running", "done"]
    assert seen == [2, 1]
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("jobs, budgets, warned", [
    (2, [10.0, 10.0], True),  # seconds budgets side by side: each trains less than alone
    (1, [10.0, 10.0], False),  # one at a time: the whole machine each
    (2, [None, None], False),  # step budgets: the same work whatever --jobs
    (2, [10.0, None], True),
])
def test_seconds_budgets_side_by_side_are_warned(jobs, budgets, warned, caplog):
    executor = LocalExecutor(jobs=jobs)
    executor.cores = 4
    with caplog.at_level(logging.WARNING, logger=local.__name__):
        executor.check([job(f"r{i}", seconds=s) for i, s in enumerate(budgets)])
    assert bool(caplog.records) == warned
    if warned:
        assert "run 2 at a time on 4 cores with 2 threads each" in caplog.text
        assert "r0" in caplog.text


def test_more_threads_than_cores_is_said(caplog):
    executor = LocalExecutor(jobs=2)
    executor.cores = 2
    with caplog.at_level(logging.WARNING, logger=local.__name__):
        executor.check([job("a", seconds=5, num_cpus=2), job("b", seconds=5, num_cpus=2)])
    assert "more threads than cores" in caplog.text


def results(out: Path) -> pd.DataFrame:
    return run_table(out, COLUMNS)


def curves(out: Path) -> pd.DataFrame:
    frames = [pd.read_csv(path).assign(run=path.parent.name)
              for path in sorted(out.glob("runs/*/quality.csv"))]
    return pd.concat(frames).set_index(["run", "step"])[["kid", "fid"]]


def assert_same_results(one: Path, two: Path) -> None:
    """The same steps for every run; the same metrics and curves for the runs that are not
    adversarial. Two jobs on this machine's cores run with fewer threads each than one job
    alone, and CPU kernels then add in another order: not bitwise equal. A VAE's results
    agree to ~1e-8 (relative); a GAN's two-player dynamics amplify the same rounding into
    ~10% of its FID within 30 steps, so its metrics are not comparable across thread counts
    (as across machines) and only its steps are."""
    a, b = results(one), results(two)
    assert len(a) == 2 and a["train_steps"].eq(30).all()
    pd.testing.assert_series_equal(a["train_steps"], b["train_steps"])
    stable = [run for run in a.index if not run.startswith("gan")]
    pd.testing.assert_frame_equal(a.loc[stable], b.loc[stable], check_exact=False, rtol=1e-4)
    ca, cb = curves(one), curves(two)
    pd.testing.assert_frame_equal(ca.loc[stable], cb.loc[stable], check_exact=False, rtol=1e-4)
    assert ca.index.equals(cb.index)  # the same curve points, at the same steps


@pytest.mark.slow
def test_step_budgets_give_the_same_results_with_one_or_two_jobs(tmp_path):
    suite = tmp_path / "jobs.toml"
    suite.write_text(SUITE.format(device="cpu"))
    for jobs in ("1", "2"):
        assert main(["benchmark", "--suite", str(suite), "--out", str(tmp_path / jobs),
                     "--jobs", jobs, "--quiet", "--no-report"]) == 0
    assert_same_results(tmp_path / "1", tmp_path / "2")
    for jobs in ("1", "2"):
        config = json.loads((tmp_path / jobs / "runs/vae-sprites-s0/config.json").read_text())
        assert config["train"]["steps"] == 30


def test_a_job_builds_its_model_once_to_train_and_evaluate(tmp_path, monkeypatch):
    """Training, the memory measure and evaluation share one model (a run trained by an
    earlier process builds it once more, to evaluate)."""
    from genbench import models
    from genbench.benchmarks import execute, store

    built = []
    create = models.create
    monkeypatch.setattr(models, "create", lambda *a, **k: built.append(a[0]) or create(*a, **k))
    run = RunConfig(name="ae", model="ae", data=DataConfig("sprites", max_train=256,
                                                           max_test=100),
                    train=TrainConfig(steps=4, batch_size=32, device="cpu"))
    run.eval.fid_samples, run.eval.curve, run.eval.classifier_epochs = 50, False, 1
    directory = tmp_path / "run"
    store.prepare_run_dir(directory, run.to_dict(), force=False)
    assert execute(run, directory) == "done"
    assert built == ["ae"]
    (directory / store.METRICS).unlink()  # trained already: evaluation loads it, once
    assert execute(run, directory) == "done"
    assert built == ["ae", "ae"]
