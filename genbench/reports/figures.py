"""The figures of one dataset's report, in slide order, each with a slide title, a caption
and a one-line takeaway: computed from the numbers where the figure shows numbers (never
written by hand), a reading guide where it shows images.

Figures are planned here and drawn by the writer, one at a time, so that only one open
figure is held in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure

from genbench.reports import charts, images, memorization, nfe, slides
from genbench.reports.headline import Finding
from genbench.reports.images import Visuals
from genbench.reports.quality import Curves
from genbench.reports.samples import is_scored
from genbench.reports.table import Table


@dataclass
class Plan:
    name: str  # file name: figures/DATASET-NAME.png|pdf
    title: str  # the slide's title
    caption: str  # under the figure in report.html/md
    takeaway: str  # the slide's one line
    draw: Callable[[], Figure | None]
    in_document: bool = True  # False: a slide only (tables the documents show as tables)


@dataclass
class Evidence:
    """What one dataset's figures are drawn from."""

    runs: pd.DataFrame  # every run of the dataset
    visuals: Visuals
    losses: dict[str, pd.DataFrame]  # run -> loss.csv
    curves: Curves | None
    tables: list[Table]
    findings: list[Finding]
    sentences: list[str]  # the headline's trade-off and verdict
    colours: dict[str, tuple]
    warnings: list[str] = field(default_factory=list)  # the judge gate's: the first takeaway


def _leader_text(tables: list[Table], key: str, column_prefix: str, decimals: int = 2) -> str:
    table = next((t for t in tables if t.key == key), None)
    column = next((c for c in table.values.columns if c.startswith(column_prefix)), None) \
        if table else None
    if column is None or table.leader(column) is None:
        return ""
    _, value = table.leader(column)
    model = table.named(column)
    values = table.values[column].dropna()
    worst = values.idxmax() if table.better.get(column) == "low" else values.idxmin()
    text = f"Best {column}: {model} ({value:,.{decimals}f})"
    return text + (f"; worst: {worst} ({values[worst]:,.{decimals}f})" if len(values) > 2
                   else "")


def plans(e: Evidence) -> list[Plan]:
    """Every figure that applies to the dataset, in the order of the slides."""
    first = e.runs.drop_duplicates("model")  # image figures: one seed per model
    samples = next((t for t in e.tables if t.key == "samples"), None)
    takeaway = " ".join(e.warnings or e.sentences[:1])  # a failed judge gate first
    out = _table_plans("headline", "The best model per question", takeaway,
                       _headline_table(e)) if e.findings else []
    scored = [m for m in first["model"] if is_scored(m)]  # samples made elsewhere
    out.append(Plan("samples", "Samples from every model", "Samples from every model "
                    "(final weights" + (f"; {', '.join(scored)}: samples supplied, not "
                                        "trained here" if scored else "") + ")",
                    _leader_text(e.tables, "samples", "FID"),
                    lambda: images.sample_grids(first, e.visuals)))
    if e.curves is not None:
        out += _curve_plans(e)
    sampling_cost = next((t for t in e.tables if t.key == nfe.KEY), None)
    if sampling_cost is not None:
        out.append(Plan("quality-vs-nfe", "Sample quality against sampling cost",
                        sampling_cost.caption.split(" [low, high]")[0] + " Bands: the "
                        "evaluation's interval.",
                        nfe.nfe_sentence(sampling_cost) or "FID against network evaluations",
                        lambda: nfe.nfe_figure(sampling_cost, e.colours)))
    seconds = [s for v in e.visuals.values() for s in v.get("progress_seconds", [])]
    out.append(Plan("progress", "How samples improve with compute",
                    "The same noise sampled at each curve point (columns: training seconds)",
                    f"Each column: the same noise, sampled after {min(seconds, default=0):.0f}"
                    f" to {max(seconds, default=0):.0f} s of training",
                    lambda: images.progress_strips(first, e.visuals)))
    if samples is not None:
        out.append(Plan("sample-quality", "FID, precision and recall", samples.caption
                        + " Dotted: real images of the calibration, measured the same way.",
                        _leader_text(e.tables, "samples", "FID"),
                        lambda: charts.sample_bars(samples, e.colours, _references(e, samples))))
    out += _judge_plans(e, first)
    out += [
        Plan("reconstructions", "Reconstructions of held-out images",
             "Held-out images (top row) and each model's reconstructions",
             _leader_text(e.tables, "reconstruction", "MSE", 4),
             lambda: images.reconstructions(first, e.visuals)),
        Plan("latent-grid", "The 2-D latent space, decoded",
             "Decoded grid of the 2-D latent space, uniform in the prior's probability",
             "Each image: the decoder at one point of a grid uniform in the prior's probability",
             lambda: images.latent_grids(first, e.visuals)),
        Plan("latent-map", "Latent codes of held-out images",
             "Latent codes of held-out images, coloured by class (the code itself when 2-D, "
             "else a t-SNE of it)", "One point per held-out image, coloured by its class",
             lambda: charts.latent_maps(first, e.visuals)),
        Plan("curves", "Training loss", "Training loss against training seconds",
             "Each model's own loss (scales differ between families)",
             lambda: charts.training_curves(e.runs, e.losses, e.colours)),
        Plan("interpolations", "Latent interpolations",
             "Decoded straight lines between the codes of two held-out images",
             "Each row: a straight line in latent space from one held-out image to another",
             lambda: images.image_rows(first, e.visuals, "interpolations")),
        Plan("traversals", "Latent traversals",
             "One latent coordinate swept per row, the most active coordinate first",
             "Each row: one latent coordinate swept from -3 to 3, the others held fixed",
             lambda: images.image_rows(first, e.visuals, "traversals")),
        Plan("label-grid", "Conditional samples", "Conditional samples, one label per row",
             "One label per row, the same noise in every column",
             lambda: images.image_rows(first, e.visuals, "label_grid")),
        Plan("denoising", "Diffusion sampling", "Denoising from noise (left) to image (right)",
             "Each row: one sample, from pure noise (left) through the DDIM steps to the image",
             lambda: images.image_rows(first, e.visuals, "denoising")),
    ]
    return out


REFERENCE_ROWS = ("held-out (the floor)", "blur σ=0.5", "blur σ=1", "noise σ=0.05",
                  "noise σ=0.15")  # the calibration's FIDs drawn on the sample-quality figure


def _references(e: Evidence, samples: Table) -> dict[str, float]:
    """The calibration's FIDs in the sample-quality table's space, by row name."""
    space = samples.title.removeprefix("Sample quality ")
    table = next((t for t in e.tables if t.key == "calibration"
                  and t.title.endswith(space)), None)
    column = next((c for c in table.values.columns if c.startswith("FID")), None) \
        if table is not None else None
    if column is None:
        return {}
    values = table.values[column]
    return {row.split(" (")[0]: float(values[row]) for row in REFERENCE_ROWS
            if row in values.index and pd.notna(values[row])}


def _judge_plans(e: Evidence, first: pd.DataFrame) -> list[Plan]:
    """The calibration tables as slides, the memorisation figure and the gallery."""
    out = [plan for t in e.tables if t.key == "calibration" for plan in _table_plans(
        f"calibration-{t.title.split('[')[1].split(',')[0]}", t.title,
        "Real images, disturbed, measured like the samples: where each model sits", t)]
    out.append(Plan("memorization", "Did any model copy its training set?",
                    "Per model, the fraction of its samples within a distance (in the run's "
                    "feature space) of their nearest training image; black: held-out real "
                    "images, which no model saw. A model that copies lies left of the black "
                    "line; dotted: the copy threshold (the held-out distances' 1st percentile).",
                    memorization.takeaway(e.runs),
                    lambda: memorization.distance_cdfs(e.runs, e.visuals, e.colours)))
    out.append(Plan("gallery", "Samples beside their nearest training images",
                    "Per model, its samples nearest to a training image (left column), each "
                    "beside its three nearest training images, nearest first",
                    "Left: a sample; right: the training images nearest to it",
                    lambda: images.image_rows(first, e.visuals, "gallery")))
    return out


def _curve_plans(e: Evidence) -> list[Plan]:
    """Per axis of compute (seconds; FLOPs where the runs count them): the quality curves,
    and the ranking at common budgets as a slide."""
    c, out = e.curves, []
    for axis in c.axes:
        against = "training time" if axis == "seconds" else "training FLOPs"
        band = ("mean over seeds with a ± std band (sample std), or the evaluation's "
                "interval for one seed")
        caption = (f"{c.metric.upper()} [{c.space}] at log-spaced points of training, against "
                   f"{against} (log scale), {band}"
                   + ("; dotted: FID 20, 10, 5" if c.metric == "fid" else "") + "."
                   + (c.machine if axis == "seconds" else " FLOPs travel between machines."))
        name = "quality-vs-time" if axis == "seconds" else "quality-vs-flops"
        out.append(Plan(name, f"Sample quality against {against}", caption,
                        c.verdict(axis) or "Quality of every model as its training goes on",
                        lambda a=axis: charts.quality_curves(c.frame, c.metric, c.space,
                                                             e.colours, a)))
        ranking = c.ranking(axis)
        if ranking is not None:
            budgets = "training budgets" if axis == "seconds" else "FLOP budgets"
            out += _table_plans(f"ranking{'' if axis == 'seconds' else '-flops'}",
                                f"Ranking at common {budgets}", c.verdict(axis), ranking)
    return out


def _table_plans(name: str, title: str, takeaway: str, table: Table) -> list[Plan]:
    """A table as slides: one page when it fits, else one per part (NAME, NAME-2, ...;
    titled '(1/2)', '(2/2)'), so that no cell is squeezed into its neighbour."""
    pages = slides.table_pages(table)
    return [Plan(name if i == 0 else f"{name}-{i + 1}",
                 title + (f" ({i + 1}/{len(pages)})" if len(pages) > 1 else ""), table.caption,
                 takeaway, lambda p=page: slides.table_figure(table, p), in_document=False)
            for i, page in enumerate(pages)]


def _headline_table(e: Evidence) -> Table:
    cells = pd.DataFrame({"model": [f.model for f in e.findings],
                          "value": [f.value for f in e.findings]},
                         index=pd.Index([f.question for f in e.findings], name="question"))
    return Table("headline", "", "", cells, pd.DataFrame(index=cells.index))
