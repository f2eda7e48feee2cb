"""The report: results.csv/json, report.md and a self-contained report.html, with figures.

It reads run directories only (metrics.json, visuals.pt, curves.csv,
failed.json), so it can be rebuilt at any time without training anything.
"""

from __future__ import annotations

import base64
import html
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from genbench.benchmarks import store
from genbench.io import (
    CorruptFileError,
    atomic_write_json,
    atomic_write_text,
    read_json,
    torch_load,
)
from genbench.reports import figures, tables

log = logging.getLogger(__name__)


class ReportError(RuntimeError):
    """Nothing to report from the given directory."""


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


def _load_visuals(out: Path, runs: pd.DataFrame) -> dict[str, dict[str, Any]]:
    visuals = {}
    for run_id in runs["run"]:
        path = store.run_dir(out, run_id) / store.VISUALS
        try:
            visuals[run_id] = torch_load(path, "figure data") if path.exists() else {}
        except CorruptFileError as error:
            log.warning("%s; its figures are left out", error)
            visuals[run_id] = {}
    return visuals


def _load_curves(out: Path, runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    curves = {}
    for run_id in runs["run"]:
        path = store.run_dir(out, run_id) / "curves.csv"
        try:
            curves[run_id] = pd.read_csv(path)
        except (FileNotFoundError, pd.errors.EmptyDataError, pd.errors.ParserError):
            continue
    return curves


def _figures(out: Path, runs: pd.DataFrame) -> dict[str, list[tuple[str, Path]]]:
    """Per dataset: (caption, PNG path) of every figure that applies."""
    visuals, curves = _load_visuals(out, runs), _load_curves(out, runs)
    colours = figures.palette(list(runs["model"].unique()))
    made: dict[str, list[tuple[str, Path]]] = {}
    for dataset, part in runs.groupby("dataset", sort=False):
        first_seed = part.drop_duplicates("model")  # image figures: one seed per model
        wanted = [
            ("samples", "Samples from every model", figures.sample_grids(first_seed, visuals)),
            ("reconstructions", "Held-out images (top) and reconstructions",
             figures.reconstructions(first_seed, visuals)),
            ("curves", "Training loss against training time",
             figures.training_curves(part, curves, colours)),
            ("quality-vs-time", "Sample quality for the compute spent",
             figures.quality_vs_time(part, colours)),
            ("metrics", "Metrics, mean ± std over seeds", figures.metric_bars(part, colours)),
            ("latent-grid", "Decoded uniform grid of the 2-D latent space",
             figures.latent_grids(first_seed, visuals)),
            ("latent-map", "Latent codes of held-out images, coloured by class",
             figures.latent_maps(first_seed, visuals)),
            ("interpolations", "Latent interpolations between held-out images",
             figures.image_rows(first_seed, visuals, "interpolations", "interpolations")),
            ("traversals", "Latent traversals (one coordinate per row, most active first)",
             figures.image_rows(first_seed, visuals, "traversals", "traversals")),
            ("label-grid", "Conditional samples, one label per row",
             figures.image_rows(first_seed, visuals, "label_grid", "one label per row")),
            ("denoising", "Diffusion denoising, noise (left) to image (right)",
             figures.image_rows(first_seed, visuals, "denoising", "denoising")),
        ]
        made[dataset] = [(caption, figures.save(fig, out / "figures", f"{dataset}-{name}")[0])
                         for name, caption, fig in wanted if fig is not None]
    return made


def write_report(out: str | Path, wandb: bool = False) -> dict[str, Path]:
    """Write the tables and figures of the runs in `out`; returns the files written."""
    out = Path(out)
    if not out.is_dir():
        raise ReportError(f"{out} does not exist; run `genbench benchmark --out {out}` first")
    runs, problems = collect(out)
    if runs.empty and not problems:
        raise ReportError(f"{out} holds no genbench runs")
    files = {"csv": out / "results.csv", "json": out / "results.json",
             "md": out / "report.md", "html": out / "report.html"}
    table_frame = pd.concat([runs, pd.DataFrame(problems)], ignore_index=True)
    atomic_write_text(files["csv"], table_frame.to_csv(index=False))
    atomic_write_json(files["json"], {"runs": runs.to_dict("records"), "problems": problems})
    reference = _reference(out)
    summary = tables.summary(runs) if not runs.empty else pd.DataFrame()
    if not summary.empty:
        atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
    made = _figures(out, runs) if not runs.empty else {}
    datasets = list(dict.fromkeys(runs["dataset"])) if not runs.empty else []
    shown = {d: tables.display_table(summary, d) for d in datasets}
    atomic_write_text(files["md"], _markdown(out, shown, made, reference, problems))
    atomic_write_text(files["html"], _html(out, shown, made, reference, problems))
    if wandb:
        _log_wandb(out, table_frame)
    return files


def _reference(out: Path) -> dict[str, Any]:
    try:
        return read_json(out / store.REFERENCE)
    except (FileNotFoundError, CorruptFileError):
        return {}


def _reference_line(dataset: str, reference: dict[str, Any]) -> str:
    # reference.json holds one FID floor per setting of a dataset (see store.REFERENCE)
    floors = [r for r in reference.get("fid_floors", []) if r["dataset"] == dataset]
    return " ".join(_floor_line(r) for r in floors)


def _floor_line(r: dict[str, Any]) -> str:
    accuracy = (f", classifier test accuracy {r['classifier_accuracy']:.2%}"
                if r.get("classifier_accuracy") is not None else "")
    return (f"Reference: real training images score FID {r['fid']:.2f} against the held-out "
            f"set ({r['fid_extractor']} features, n={r['fid_samples']}{accuracy}); FID is "
            "only comparable within one feature space and sample count.")


def _markdown(out: Path, shown: dict, made: dict, reference: dict, problems: list) -> str:
    lines = [f"# genbench report: {out.name}", ""]
    for dataset, table in shown.items():
        lines += [f"## {dataset}", "", tables.to_markdown(table), ""]
        if line := _reference_line(dataset, reference):
            lines += [line, ""]
        lines += ["Best value per column in **bold**.", ""]
        for caption, png in made.get(dataset, []):
            lines += [f"![{caption}]({os.path.relpath(png, out)})", "", f"*{caption}*", ""]
    if problems:
        lines += ["## Runs without results", "", pd.DataFrame(problems).to_markdown(index=False),
                  ""]
    return "\n".join(lines)


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}th,td{border:1px solid #ccc;
padding:4px 8px;text-align:right}th{background:#f3f3f3}figure{margin:1.5em 0}
img{max-width:100%}figcaption{color:#555;font-size:13px}.note{color:#555;font-size:13px}"""


def _html(out: Path, shown: dict, made: dict, reference: dict, problems: list) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>genbench: "
             f"{html.escape(out.name)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>genbench report: {html.escape(out.name)}</h1>"]
    for dataset, table in shown.items():
        parts += [f"<h2>{html.escape(dataset)}</h2>", tables.to_html(table),
                  f"<p class='note'>{html.escape(_reference_line(dataset, reference))} "
                  "Best value per column highlighted.</p>"]
        for caption, png in made.get(dataset, []):
            data = base64.b64encode(png.read_bytes()).decode()
            parts.append(f"<figure><img src='data:image/png;base64,{data}' "
                         f"alt='{html.escape(caption)}'><figcaption>{html.escape(caption)}"
                         "</figcaption></figure>")
    if problems:
        parts += ["<h2>Runs without results</h2>",
                  pd.DataFrame(problems).to_html(index=False, escape=True)]
    parts.append("</body></html>")
    return "\n".join(parts)


def _log_wandb(out: Path, frame: pd.DataFrame) -> None:
    import wandb

    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    run = wandb.init(project="genbench", name=f"report-{out.name}", dir=str(out),
                     job_type="report", reinit="finish_previous")
    run.log({"results": wandb.Table(dataframe=frame.astype(str))})
    run.finish()
