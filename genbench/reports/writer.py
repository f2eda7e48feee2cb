"""The report of a results directory: tables, headline, figures, slides, documents.

    results.csv        one row per run (wide), results-long.csv (tidy: one row per number),
    results.json, summary.csv (mean ± std over seeds), tables/DATASET-QUESTION.csv
    quality-curves.csv every run's quality curve, when the runs have one
    report.md, report.html (self-contained), slides.pdf (16:9, one figure per page)
    figures/DATASET-NAME.png (16:9, 300 dpi) and .pdf

It reads run directories only, so it can be rebuilt at any time without training anything.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from genbench.errors import GenbenchError
from genbench.io import atomic_write_json, atomic_write_text
from genbench.reports import figures, headline, quality, runs, style, tables
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
        sections = [_section(out, dataset, part, summary, curves)
                    for dataset, part in frame.groupby("dataset", sort=False)]
        files["slides"] = out / "slides.pdf"
        _draw(out, frame, sections, curves, files["slides"])
    atomic_write_text(files["md"], report_markdown(out.name, sections, problems, out))
    atomic_write_text(files["html"], report_html(out.name, sections, problems))
    if wandb:
        _log_wandb(out, wide)
    return files


def _section(out: Path, dataset: str, part: pd.DataFrame, summary: pd.DataFrame,
             curves: pd.DataFrame) -> Section:
    reference = runs.load_reference(out)
    first = part.iloc[0]
    floor = runs.reference_for(reference, dataset, first.get("fid_extractor"),
                               first.get("fid_samples"))
    shown = tables.question_tables(summary, dataset, floor)
    dataset_curves = quality.dataset_curves(curves, dataset)
    if dataset_curves is not None:
        shown[1:1] = dataset_curves.tables()  # right after sample quality
    found, sentences = headline.headline(shown, dataset_curves.verdict()
                                         if dataset_curves is not None else "")
    for table in shown:
        slug = re.sub(r"[^a-z0-9]+", "-", table.title.lower()).strip("-")
        atomic_write_text(out / "tables" / f"{dataset}-{slug}.csv", table.cells.to_csv())
    return Section(dataset, found, sentences, shown)


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
                part, {r: visuals[r] for r in part["run"]}, losses,
                quality.dataset_curves(curves, section.dataset), section.tables,
                section.findings, section.sentences, colours)
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
    """One row per (run, metric): the question it answers, its value, and for sample quality
    the feature space and sample count it was measured in."""
    wide = frame.copy()
    if "sample_images_per_second" in wide:
        wide["sample_ms_per_image"] = 1000 / wide["sample_images_per_second"]
    keys = tables.metric_keys(wide)
    identity = [k for k in ("run", "model", "family", "dataset", "seed") if k in wide]
    long = wide.melt(id_vars=identity + ["fid_extractor", "fid_samples"], value_vars=keys,
                     var_name="metric").dropna(subset=["value"])
    long.insert(len(identity), "question", long["metric"].map(question_of))
    sample = long["question"] == "samples"
    long.loc[~sample, ["fid_extractor", "fid_samples"]] = None
    return long.rename(columns={"fid_extractor": "extractor", "fid_samples": "n"})


def question_of(metric: str) -> str:
    if metric in tables.FIDELITY:
        return "samples"
    if metric in tables.RECONSTRUCTION:
        return "reconstruction"
    return "likelihood" if metric.startswith(("nll_k", "bpd_k")) else "cost"


def _log_wandb(out: Path, frame: pd.DataFrame) -> None:
    import wandb

    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    run = wandb.init(project="genbench", name=f"report-{out.name}", dir=str(out),
                     job_type="report", reinit="finish_previous")
    run.log({"results": wandb.Table(dataframe=frame.astype(str))})
    run.finish()
