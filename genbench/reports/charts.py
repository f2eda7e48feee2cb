"""Charts (matplotlib/seaborn): quality against training time, training loss, the sample
quality bars and latent maps coloured by class (tables drawn for slides: slides.py).

Each function returns a 16:9 matplotlib Figure, or None when there is nothing to draw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from genbench.reports import ties
from genbench.reports.budgets import THRESHOLDS
from genbench.reports.images import Visuals, label, per_run
from genbench.reports.style import panels
from genbench.reports.table import Table

XLABEL = {"seconds": "training seconds (evaluation excluded)",
          "flops": "training FLOPs (matmul and convolution, forward and backward)"}


def quality_curves(curves: pd.DataFrame, metric: str, space: str,
                   colours: dict[str, tuple], axis: str = "seconds") -> Figure | None:
    """One line per model: mean over seeds against training seconds or FLOPs (log), with a
    band of ± the sample std over seeds, or of the evaluation's interval for one seed."""
    if curves.empty or curves[axis].isna().all():
        return None
    fig, (ax,) = panels(1)
    for model, curve in curves.groupby("model", sort=False):
        colour = colours[model]
        ax.plot(curve[axis], curve["value"], marker="o", color=colour, label=model)
        low, high = ties.bounds(curve["value"], curve["std"], curve["seeds"], curve.get("lo"),
                                curve.get("hi"))
        if (high > low).any():
            ax.fill_between(curve[axis], low, high, color=colour, alpha=0.2, linewidth=0)
    ax.set_xscale("log")
    values = curves["value"][curves["value"] > 0]
    if len(values) and values.max() / values.min() > 20:
        ax.set_yscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")  # 10 and 100, not 10^1 and 10^2
    for scale in (ax.yaxis,) if axis == "flops" else (ax.xaxis, ax.yaxis):
        scale.set_major_formatter(plain)  # FLOPs keep matplotlib's 10^12
        scale.set_minor_formatter(NullFormatter())
    if metric == "fid":
        # On a linear axis the levels sit a few points apart: one label names them all.
        labelled = THRESHOLDS if ax.get_yscale() == "log" else [max(THRESHOLDS)]
        for level in THRESHOLDS:
            ax.axhline(level, color="grey", linewidth=1, linestyle=":")
        for level in labelled:
            text = (f"FID {level:g}" if len(labelled) > 1 else
                    "FID " + ", ".join(f"{v:g}" for v in sorted(THRESHOLDS, reverse=True)))
            ax.annotate(text, (1, level), xycoords=("axes fraction", "data"),
                        xytext=(-4, 3), textcoords="offset points", ha="right",
                        fontsize="x-small", color="grey")
    # One line of y label: a second rotated line would sit on the first's font box.
    ax.set(xlabel=XLABEL[axis], ylabel=f"{metric.upper()} [{space}]")
    ax.set_title("lower is better", loc="left", fontsize="small", color="#555555")
    fig.legend(loc="outside right center")
    return fig


def training_curves(runs: pd.DataFrame, curves: dict[str, pd.DataFrame],
                    colours: dict[str, tuple]) -> Figure | None:
    """Training loss against training time, one panel per model (their losses differ in
    scale and meaning, so they never share an axis)."""
    chosen = [r for r in runs["run"] if r in curves and "loss" in curves[r]]
    names = list(dict.fromkeys(label(runs, r) for r in chosen))
    if not names:
        return None
    fig, axes = panels(len(names), 1.5)
    for ax, name in zip(axes, names, strict=True):
        for run in chosen:
            if label(runs, run) == name:
                c = curves[run]
                ax.plot(c["seconds"], c["loss"], color=colours[name], alpha=0.8)
        ax.set_title(name)
        ax.set(xlabel="seconds", ylabel="loss")
    return fig


def sample_bars(table: Table, colours: dict[str, tuple],
                references: dict[str, float] | None = None) -> Figure | None:
    """FID, precision and recall of one feature space as horizontal bars, best FID on top,
    with each value's interval (± std over seeds, or the evaluation's interval); on the FID
    panel, `references` (the calibration's FIDs by name) as dotted lines, those within the
    bars' range."""
    columns = [c for c in table.values.columns if c.startswith("FID")][:1] + [
        c for c in ("precision", "recall") if c in table.values]
    if not columns or table.values[columns[0]].notna().sum() == 0:
        return None
    order = table.values[columns[0]].sort_values(ascending=False).index
    fig, axes = panels(len(columns), 0.8, sharey=True)
    lines = []
    for ax, column in zip(axes, columns, strict=True):
        values = table.values.loc[order, column]
        spread = None  # the interval of each value (std over seeds, or the evaluation's)
        if table.low is not None and column in table.low:
            spread = np.vstack([(values - table.low.loc[order, column]).fillna(0).clip(0),
                                (table.high.loc[order, column] - values).fillna(0).clip(0)])
        ax.barh(range(len(order)), values.fillna(0), xerr=spread,
                color=[colours[m] for m in order], capsize=4)
        if column == columns[0] and references:
            lines = _reference_lines(ax, references, float(values.max()) * 1.5)
        better = "lower" if table.better.get(column) == "low" else "higher"
        ax.set_title(f"{column.split(' [')[0]}\n({better} is better)")  # narrow panels
        ax.set_yticks(range(len(order)), list(order))
        if column != columns[-1]:  # its last tick label would touch the next panel's first
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4, prune="upper"))
    axes[0].set_xlabel(table.title.removeprefix("Sample quality ").strip("[]") + " features")
    if lines:  # right of the panels, where the layout makes room for it
        axes[-1].legend(handles=lines, loc="center left", bbox_to_anchor=(1.02, 0.5),
                        title="FID of real\nimages", fontsize="small",
                        title_fontsize="small", alignment="left")
    return fig


# Calibration lines: dark to light grey and a dash of their own each, so that lines a
# hair apart stay apart in the legend (labels written beside the lines stacked on each other).
REFERENCE_STYLES = [("#222222", (0, (1, 1.5))), ("#555555", (0, (5, 2))),
                    ("#888888", (0, (1, 3))), ("#333333", (0, (6, 2, 1, 2))),
                    ("#aaaaaa", (0, (3, 1)))]


def _reference_lines(ax, references: dict[str, float], limit: float) -> list[Line2D]:
    """The calibration's FIDs within `limit` as vertical lines, lowest first (named in a
    legend: names beside the lines stack on each other where the lines are close)."""
    shown = sorted(((v, n) for n, v in references.items() if 0 <= v <= limit))
    styles = [REFERENCE_STYLES[i % len(REFERENCE_STYLES)] for i in range(len(shown))]
    return [ax.axvline(value, color=colour, linestyle=dash, linewidth=2,
                       label=f"{name}: {value:,.1f}")
            for (value, name), (colour, dash) in zip(shown, styles, strict=True)]


def latent_maps(runs: pd.DataFrame, visuals: Visuals) -> Figure | None:
    """Held-out codes coloured by class (legend: the class names), the latent itself when
    2-D, else a t-SNE of it."""
    named = next((v for v in visuals.values() if v.get("latent_labels") is not None), {})
    names = named.get("latent_label_names")
    labels = named.get("latent_labels")
    count = 0 if labels is None else int(labels.max()) + 1
    names = list(names) if names else [str(i) for i in range(count)]
    colours = sns.color_palette("tab10" if len(names) <= 10 else "husl", max(len(names), 1))

    def draw(ax, v, name):
        points = v["latent_points"].numpy()
        if v.get("latent_labels") is None:
            ax.scatter(points[:, 0], points[:, 1], s=12, color="grey", linewidths=0)
        else:
            ax.scatter(points[:, 0], points[:, 1], s=12, linewidths=0,
                       c=np.asarray(colours)[v["latent_labels"].numpy() % len(colours)])
        axis = "z" if v["latent_method"] == "latent" else "t-SNE "
        # two lines: 'vae+two-stage (t-SNE, 20-D)' is wider than a panel of eight
        ax.set_title(f"{name}\n{v['latent_method']}, {v['latent_dim']}-D")
        ax.set(xlabel=f"{axis}1", ylabel=f"{axis}2", xticklabels=[], yticklabels=[])

    fig = per_run(runs, visuals, "latent_points", draw)
    if fig is not None and count:
        handles = [Line2D([], [], marker="o", linestyle="", color=c, markersize=10)
                   for c in colours[:len(names)]]
        fig.legend(handles, names, title=named.get("latent_label_title") or "class",
                   loc="outside right center", fontsize="small")
    return fig
