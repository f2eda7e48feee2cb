"""The report of a results directory: tables, headline, figures, slides, documents.

    results.csv        one row per run (wide), results-long.csv (tidy: one row per number),
    results.json, summary.csv (mean ± std over seeds), tables/DATASET-QUESTION.csv and .tex
    quality-curves.csv every run's quality curve, when the runs have one
    report.md, report.html (self-contained), slides.pdf (16:9, one figure per page)
    figures/DATASET-NAME.png (16:9, 200 dpi) and .pdf

It reads run directories only, so it can be rebuilt at any time without training anything.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from genbench.benchmarks import store
from genbench.errors import GenbenchError
from genbench.io import CorruptFileError, atomic_write_json, atomic_write_text, read_json
from genbench.reports import (
    agreement,
    figures,
    gate,
    headline,
    latex,
    metrics,
    nfe,
    notes,
    quality,
    runs,
    samples,
    style,
    tables,
)
from genbench.reports.content import Section, Shown
from genbench.reports.html import report_html
from genbench.reports.markdown import report_markdown
from genbench.reports.slides import Deck

log = logging.getLogger(__name__)
collect = runs.collect


class ReportError(GenbenchError, RuntimeError):
    """Nothing to report from the given directory."""


def write_report(out: str | Path, wandb: bool = False) -> dict[str, Path]:
    """Write the tables, figures and slides of the runs in `out`; returns the main files."""
    out = Path(out)
    if not out.is_dir():
        raise ReportError(f"{out} does not exist; run `genbench benchmark --out {out}` first")
    frame, problems = runs.collect(out)
    if frame.empty and not problems:
        raise ReportError(f"{out} holds no genbench runs")
    frame = metrics.with_derived(frame)  # sample_ms_per_image ...: computed here, once
    files = {"csv": out / "results.csv", "json": out / "results.json",
             "md": out / "report.md", "html": out / "report.html"}
    wide = pd.concat([frame, pd.DataFrame(problems)], ignore_index=True)
    atomic_write_text(files["csv"], wide.to_csv(index=False))
    atomic_write_json(files["json"], {"runs": frame.to_dict("records"), "problems": problems})
    sections = []
    if not frame.empty:
        files["long"] = out / "results-long.csv"
        atomic_write_text(files["long"], tidy(frame).to_csv(index=False))
        summary = tables.summary(frame)
        atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
        curves = runs.load_quality(out, frame)
        if not curves.empty:
            atomic_write_text(out / "quality-curves.csv", curves.to_csv(index=False))
        sweeps = nfe.load_nfe(out, frame)
        sections = [_section(out, dataset, part, summary, curves, sweeps)
                    for dataset, part in frame.groupby("dataset", sort=False)]
        files["slides"] = out / "slides.pdf"
        _draw(out, frame, sections, curves, files["slides"])
    name = title(out, frame)
    atomic_write_text(files["md"], report_markdown(name, sections, problems, out))
    atomic_write_text(files["html"], report_html(name, sections, problems))
    if wandb:
        _log_wandb(out, wide)
    return files


def title(out: Path, frame: pd.DataFrame) -> str:
    """'genbench report: suite quick on mnist, fashion-mnist (2025-03-12)': what was compared
    (the suite of suite.json, else the folder's name), on which data, and when (the newest
    run's metrics.json), never the date of the rebuild."""
    try:
        suite = f"suite {read_json(out / store.SUITE)['suite']}"
    except (FileNotFoundError, CorruptFileError, KeyError, TypeError):
        suite = out.name
    if frame.empty:
        return f"genbench report: {suite}"
    datasets = ", ".join(dict.fromkeys(frame["dataset"].astype(str)))
    stamps = [p.stat().st_mtime for p in (store.run_dir(out, r) / store.METRICS
                                          for r in frame["run"]) if p.exists()]
    date = (f" ({datetime.fromtimestamp(max(stamps), timezone.utc):%Y-%m-%d})"
            if stamps else "")
    return f"genbench report: {suite} on {datasets}{date}"


def _section(out: Path, dataset: str, part: pd.DataFrame, summary: pd.DataFrame,
             curves: pd.DataFrame, sweeps: pd.DataFrame) -> Section:
    reference = runs.load_reference(out)
    first = part.iloc[0]
    floor = runs.reference_for(reference, dataset, first.get("fid_extractor"),
                               first.get("fid_samples"))
    calibration = runs.load_calibration(out)
    mine = summary[summary["dataset"] == dataset]
    compared = mine[mine["space"] == tables.main_space(mine)]  # the models ranked together
    shown = tables.question_tables(summary, dataset, floor, calibration)
    gates = gate.judge_gate(compared, calibration)
    gate.apply(shown, gates, notes.note(compared, "fid_extractor"))
    read_off = quality.dataset_curves(curves, dataset, notes.machine_note(part),
                                      lambda extractor: gate.reason(gates, extractor))
    judged = next((i for i, t in enumerate(shown)
                   if not t.key.startswith(("samples", "calibration"))), len(shown))
    disagreement = agreement.disagreement_table(shown, dataset)
    sampling_cost = nfe.nfe_table(sweeps, dataset)
    shown[judged:judged] = ([disagreement] if disagreement is not None else []) + (
        read_off.tables if read_off is not None else []) + (
        [sampling_cost] if sampling_cost is not None else [])  # after sample quality
    found, sentences = headline.headline(shown, read_off, compared)
    sentences += [s for s in (nfe.nfe_sentence(sampling_cost),) if s]
    sentences += [s for s in (samples.flag_sentence(mine),) if s]
    for table in shown:
        slug = re.sub(r"[^a-z0-9]+", "-", table.title.lower()).strip("-")
        atomic_write_text(out / "tables" / f"{dataset}-{slug}.csv", table.cells.to_csv())
        latex.write_table(out / "tables" / f"{dataset}-{slug}.tex", table, dataset)
    return Section(dataset, found, sentences, shown, curves=read_off,
                   warnings=gate.warnings(gates))


def _draw(out: Path, frame: pd.DataFrame, sections: list[Section], curves: pd.DataFrame,
          slides: Path) -> None:
    """Every figure once: its PNG and PDF, its page in the deck, its place in the documents."""
    visuals, losses = runs.load_visuals(out, frame), runs.load_curves(out, frame)
    colours = style.palette(list(frame["model"].unique()))
    deck = Deck()
    with style.theme():
        for section in sections:
            part = frame[frame["dataset"] == section.dataset]
            evidence = figures.Evidence(
                part, {r: visuals[r] for r in part["run"]}, losses, section.curves, section.tables,
                section.findings, section.sentences, colours, section.warnings)
            for plan in figures.plans(evidence):
                fig = plan.draw()
                if fig is None:
                    continue
                name = f"{section.dataset}-{plan.name}"
                png, small = style.save(fig, out / "figures", name)
                if plan.in_document:
                    section.figures.append(Shown(plan.name, plan.caption, png, small))
                deck.add(fig, f"{section.dataset}: {plan.title}", plan.takeaway)
                plt.close(fig)
    deck.write(slides)


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, metric): the question it answers (the metric registry's), its value,
    its evaluation interval (lo, hi) where the run has one, and for sample quality the feature
    space and sample count it was measured in. `frame` holds the derived metrics already."""
    wide = frame.copy()
    keys = [m.key for m in metrics.present(wide)]
    identity = [k for k in ("run", "model", "family", "dataset", "seed") if k in wide]
    notes_ = [k for k in ("fid_extractor", "fid_samples") if k in wide]
    long = wide.melt(id_vars=identity + notes_, value_vars=keys, var_name="metric",
                     ignore_index=False).dropna(subset=["value"])  # index: the run's row
    long.insert(len(identity), "question", long["metric"].map(metrics.question_of))
    for end in ("lo", "hi"):
        if any(f"{k}_{end}" in wide for k in keys):
            long[end] = [wide.at[i, f"{m}_{end}"] if f"{m}_{end}" in wide else None
                         for i, m in zip(long.index, long["metric"], strict=True)]
    long = long.reset_index(drop=True)
    sample = long["question"] == "samples"
    long.loc[~sample, notes_] = None
    if "fid_extractor" in long:  # metrics of the second space: its name, not the run's space
        elsewhere = long["metric"].map(lambda k: getattr(metrics.metric(k), "space", None))
        long["fid_extractor"] = elsewhere.where(elsewhere.notna(), long["fid_extractor"])
    return long.rename(columns={"fid_extractor": "extractor", "fid_samples": "n"})


def _log_wandb(out: Path, frame: pd.DataFrame) -> None:
    import wandb

    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    run = wandb.init(project="genbench", name=f"report-{out.name}", dir=str(out),
                     job_type="report", reinit="finish_previous")
    run.log({"results": wandb.Table(dataframe=frame.astype(str))})
    run.finish()
