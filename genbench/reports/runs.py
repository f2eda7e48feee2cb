"""What the report reads: run directories only (metrics.json, quality.csv, loss.csv,
visuals.pt, curve-samples.pt, failed.json) and the suite's calibration.json; the older names
of these files (curves.csv, progress.pt, reference.json) too. Nothing here trains or plots."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from genbench.benchmarks import store
from genbench.benchmarks.score import SOURCE as SCORED
from genbench.io import CorruptFileError, read_json, torch_load
from genbench.judge.calibration import floor
from genbench.reports.samples import SCORED_MARK

log = logging.getLogger(__name__)
IDENTITY = ["run", "model", "family", "dataset", "seed"]


def collect(out: Path) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """One row per complete run, and a list of the runs that failed or are unusable."""
    rows, problems = [], []
    for run_id in store.suite_runs(out):
        directory = store.run_dir(out, run_id)
        state = store.status(directory)
        if state == "done":
            metrics = store.read_metrics(directory)
            if metrics is None:
                problems.append({"run": run_id, "status": "damaged", "stage": "report",
                                 "error": f"{directory / store.METRICS} is unreadable; rerun "
                                          "the benchmark to measure this run again"})
                continue
            capabilities = metrics.pop("capabilities", {})
            if metrics.get("source") == SCORED:  # samples made elsewhere: said in every row
                metrics["model"] = f"{metrics['model']}{SCORED_MARK}"
            rows.append({**metrics, **{f"can_{k}": v for k, v in capabilities.items()},
                         "status": "done"})
        elif state == "failed":
            try:
                failure = read_json(directory / store.FAILED)
            except CorruptFileError as error:
                failure = {"stage": "?", "error": str(error)}
            problems.append({"run": run_id, "status": "failed",
                             "stage": failure.get("stage"), "error": failure.get("error")})
        else:
            problems.append({"run": run_id, "status": "incomplete", "stage": "",
                             "error": "not finished; rerun the benchmark to complete it"})
    return pd.DataFrame(rows), problems


def load_visuals(out: Path, runs: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """visuals.pt of every run, with its samples at each curve point (curve-samples.pt) as
    `progress` and `progress_seconds`; {} where absent or damaged: its figures are left out."""
    visuals = {}
    for run_id in runs["run"]:
        directory = store.run_dir(out, run_id)
        visuals[run_id] = _load(directory / store.VISUALS)
        if strips := _load(_either(directory, store.CURVE_SAMPLES, store.OLD_CURVE_SAMPLES)):
            visuals[run_id].update(progress=strips["samples"],
                                   progress_seconds=strips["seconds"])
    return visuals


def _load(path: Path) -> dict[str, Any]:
    try:
        return torch_load(path, "figure data") if path.exists() else {}
    except CorruptFileError as error:
        log.warning("%s; its figures are left out", error)
        return {}


def _either(directory: Path, name: str, old_name: str) -> Path:
    """The file under its name, or under the name of results written before it."""
    path = directory / name
    return path if path.exists() or not (directory / old_name).exists() else directory / old_name


def _read_csv(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError, pd.errors.ParserError):
        return None


def load_curves(out: Path, runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The training-loss curve of every run that has one."""
    curves = {run: _read_csv(_either(store.run_dir(out, run), store.LOSS_CURVE,
                                     store.OLD_LOSS_CURVE)) for run in runs["run"]}
    return {run: frame for run, frame in curves.items() if frame is not None and len(frame)}


def load_quality(out: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """Every run's quality curve in one long frame: the run's identity, then quality.csv's
    columns (step, epoch, images, seconds, eval_seconds, n, kid, kid_std, fid, extractor...).
    Runs without quality.csv (older runs, or `curve = false`) are simply absent."""
    frames = []
    for _, row in runs.iterrows():
        frame = _read_csv(store.run_dir(out, row["run"]) / store.QUALITY)
        if frame is None or "seconds" not in frame or frame.empty:
            continue
        identity = pd.DataFrame({key: row.get(key) for key in IDENTITY}, index=frame.index)
        # Whether the stop rule ended the run as flat: only such a run counts at budgets past
        # its end (reports/budgets.py); a run its budget or cap ended does not.
        identity["flat"] = str(row.get("stopped") or "").startswith("flat")
        frames.append(pd.concat([identity, frame.drop(columns=IDENTITY, errors="ignore")],
                                axis=1).sort_values("seconds"))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=IDENTITY)


def load_reference(out: Path) -> list[dict[str, Any]]:
    """The floors of a results directory, one entry per dataset setting and feature space:
    the judge (dataset, fid_extractor, fid_samples, classifier_accuracy ...) with the floor's
    numbers and `floor_set`, the real images that give it. From calibration.json (the
    held-out row); from reference.json in results written before it (training images)."""
    calibration = _read(out / store.CALIBRATION)
    if isinstance(calibration, dict):
        judges = [j for j in calibration.get("judges", []) if isinstance(j, dict)]
        floors = []
        for entry in load_calibration(out):
            row = floor(entry)
            judge = next((j for j in judges if j.get("dataset") == entry["dataset"]
                          and j.get("fid_extractor") == entry.get("fid_extractor")), {})
            if row is not None:
                floors.append({**judge, **{k: v for k, v in entry.items() if k != "rows"},
                               **row, "floor_set": row["set"]})
        return floors
    data = _read(out / store.OLD_REFERENCE)
    if isinstance(data, dict) and isinstance(data.get("fid_floors"), list):
        data = data["fid_floors"]
    if isinstance(data, dict):
        data = [{"dataset": name, **entry} for name, entry in data.items()
                if isinstance(entry, dict)]
    return [{"floor_set": "training images", **e} for e in data
            if isinstance(e, dict) and "dataset" in e and "fid" in e] \
        if isinstance(data, list) else []


def _read(path: Path) -> Any:
    try:
        return read_json(path)
    except (FileNotFoundError, CorruptFileError):
        return None


def reference_for(entries: list[dict[str, Any]], dataset: str, extractor: str | None = None,
                  n: int | None = None) -> dict[str, Any] | None:
    """The reference entry of a dataset, the one in the given feature space when there is one."""
    mine = [e for e in entries if e["dataset"] == dataset]
    same = [e for e in mine if e.get("fid_extractor") == extractor
            and (n is None or e.get("fid_samples") == n)]
    return (same or mine or [None])[0]


def load_calibration(out: Path) -> list[dict[str, Any]]:
    """The calibration entries (dataset, feature space, n, rows of real images measured as
    samples) of calibration.json, or of reference.json in results written before it; [] for
    suites written before genbench calibrated its judge."""
    data = _read(out / store.CALIBRATION)
    if data is None:
        data = _read(out / store.OLD_REFERENCE)
    entries = data.get("calibration") if isinstance(data, dict) else None
    return [e for e in entries if isinstance(e, dict) and "dataset" in e] \
        if isinstance(entries, list) else []
