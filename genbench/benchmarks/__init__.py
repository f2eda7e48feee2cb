"""Suites of runs: train, measure and store every model on the same data, resumably."""

from genbench.benchmarks.build import RunIncomplete
from genbench.benchmarks.evaluate import evaluate_run
from genbench.benchmarks.job import execute, train_run
from genbench.benchmarks.runner import SuiteResult, run_benchmark
from genbench.benchmarks.store import StoreError

__all__ = ["RunIncomplete", "StoreError", "SuiteResult", "evaluate_run", "execute", "run_benchmark",
           "train_run"]
