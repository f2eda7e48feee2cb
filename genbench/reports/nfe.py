"""Sampling cost as an axis: sample quality against the number of network evaluations (NFE),
from the nfe.csv of every denoising run (benchmarks/nfe.py): one table (a row per model and
solver, a column per NFE, FID with its interval), the sentence that reads it, and its figure.

Rows compare at equal NFE: same network evaluations, and where the models share a network
(diffusion and flow share the U-Net) the same sampling FLOPs, which the table gives per NFE.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter, NullLocator

from genbench.benchmarks import store
from genbench.reports import ties
from genbench.reports.metrics import scientific
from genbench.reports.style import panels
from genbench.reports.table import Table, format_value

KEY = "nfe"
SOLVERS = {"ddim": "DDIM", "euler": "Euler", "heun": "Heun"}
FLOPS_COLUMN = "FLOPs/img per NFE"
LINESTYLES = ("-", "--", ":", "-.")


def load_nfe(out: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """Every run's nfe.csv in one frame, with the run's model, dataset and seed."""
    frames = []
    for _, row in runs.iterrows():
        path = store.run_dir(out, row["run"]) / store.NFE
        try:
            frame = pd.read_csv(path)
        except (FileNotFoundError, pd.errors.EmptyDataError, pd.errors.ParserError):
            continue
        if not {"solver", "nfe", "fid"} <= set(frame.columns):
            continue
        frames.append(frame.assign(model=row["model"], dataset=row["dataset"],
                                   seed=row["seed"]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def row_name(model: str, solver: str) -> str:
    return f"{model} ({SOLVERS.get(solver, solver)})"


def model_of(row: str) -> str:
    return row.rsplit(" (", 1)[0]


def nfe_table(sweeps: pd.DataFrame, dataset: str) -> Table | None:
    """FID at each NFE per model and solver: the mean over seeds (± std), or one seed's value
    with its evaluation interval; the best cell per column and those tied with it in bold."""
    if sweeps.empty:
        return None
    mine = sweeps[sweeps["dataset"] == dataset]
    if mine.empty:
        return None
    mine = mine.assign(row=[row_name(m, s) for m, s in zip(mine["model"], mine["solver"],
                                                           strict=True)])
    rows = list(dict.fromkeys(mine["row"]))
    index = pd.Index(rows, name="model (solver)")
    nfes = sorted(mine["nfe"].unique())
    columns = [f"NFE {n}" for n in nfes]
    values, low, high = (pd.DataFrame(np.nan, index=index, columns=columns) for _ in range(3))
    cells = pd.DataFrame("–", index=index, columns=[*columns, FLOPS_COLUMN])
    for (row, nfe), point in mine.groupby(["row", "nfe"]):
        column, seeds = f"NFE {nfe}", len(point)
        fid, std = point["fid"].mean(), point["fid"].std()
        lo = point["fid_lo"].mean() if seeds == 1 and "fid_lo" in point else np.nan
        hi = point["fid_hi"].mean() if seeds == 1 and "fid_hi" in point else np.nan
        values.loc[row, column] = fid
        lows, highs = ties.bounds(pd.Series([fid]), pd.Series([std]), pd.Series([seeds]),
                                  pd.Series([lo]), pd.Series([hi]))
        low.loc[row, column], high.loc[row, column] = lows.iloc[0], highs.iloc[0]
        cells.loc[row, column] = format_value(fid, std, seeds, 2, lo, hi)
    for row, part in mine.groupby("row"):
        per_nfe = (part["sample_flops"] / part["nfe"]).median()
        cells.loc[row, FLOPS_COLUMN] = scientific(per_nfe, 2)
    n, space = int(mine["n"].iloc[0]), mine["extractor"].iloc[0]
    caption = (f"FID [{space}, n={n}] of the final weights against the number of network "
               "evaluations (NFE) of the sampler, every point from the same noise seed; "
               "DDIM is deterministic (eta = 0), Heun spends two evaluations per step. "
               f"{FLOPS_COLUMN}: sampling FLOPs per image for one evaluation (matmul and "
               "convolution, counted like training FLOPs). [low, high]: the evaluation's "
               "bootstrap interval; bold: the best per column and those tied with it.")
    return Table(KEY, f"Sample quality against sampling cost [{space}, n={n}]", caption, cells,
                 values, {c: "low" for c in columns}, low=low, high=high)


def nfe_sentence(table: Table | None) -> str:
    """The families at the largest NFE (family_verdict), then 'Lowest FID per sampling
    cost: flow (Heun) at NFE 2–8; ... (tied) at NFE 16–32.'"""
    if table is None or len(table.values) < 2:
        return ""
    runs: list[tuple[str, list[str]]] = []
    for column in table.values.columns:
        named = table.named(column)
        if not named:
            continue
        nfe = column.removeprefix("NFE ")
        if runs and runs[-1][0] == named:
            runs[-1][1].append(nfe)
        else:
            runs.append((named, [nfe]))
    if not runs:
        return ""
    parts = [f"{who} at NFE {nfes[0]}" + (f"–{nfes[-1]}" if len(nfes) > 1 else "")
             for who, nfes in runs]
    sentence = ("Lowest FID per sampling cost (equal network evaluations): "
                + "; ".join(parts) + ".")
    # the verdict first: a slide keeps the first sentences that fit
    return " ".join(s for s in (family_verdict(table), sentence) if s)


def family_verdict(table: Table) -> str:
    """The families against each other at the largest NFE (each with its best solver), at the
    common training budget: better only where the intervals are apart."""
    column = table.values.columns[-1]
    values = table.values[column].dropna()
    best = {}
    for row, value in values.items():
        model = model_of(row)
        if model not in best or value < values[best[model]]:
            best[model] = row
    if len(best) < 2:
        return ""
    rows = sorted(best.values(), key=lambda r: values[r])
    low, high = table.low[column], table.high[column]
    cells = [f"{row} {format_value(values[row], lo=low[row], hi=high[row])}" for row in rows]
    leader, rest = rows[0], rows[1:]
    apart = all(high[leader] < low[row] for row in rest)
    verdict = (f"{model_of(leader)} is better beyond the evaluation noise" if apart else
               "no family is better beyond the evaluation noise (the intervals overlap)")
    return (f"At {column} and the common training budget: " + " against ".join(cells)
            + f": {verdict}.")


def nfe_figure(table: Table, colours: dict[str, tuple]) -> Figure | None:
    """FID against NFE (log 2), one line per model and solver, with its interval's band."""
    if table.values.empty:
        return None
    fig, (ax,) = panels(1)
    nfes = [int(c.removeprefix("NFE ")) for c in table.values.columns]
    styles: dict[str, int] = {}
    for row in table.values.index:
        model = model_of(row)
        style = LINESTYLES[styles.setdefault(model, 0) % len(LINESTYLES)]
        styles[model] += 1
        values = table.values.loc[row].to_numpy(float)
        shown = ~np.isnan(values)
        x = np.array(nfes)[shown]
        colour = colours.get(model, (0.3, 0.3, 0.3))
        ax.plot(x, values[shown], marker="o", linestyle=style, color=colour, label=row)
        lo, hi = table.low.loc[row].to_numpy(float)[shown], table.high.loc[row].to_numpy(
            float)[shown]
        if (hi > lo).any():
            ax.fill_between(x, lo, hi, color=colour, alpha=0.15, linewidth=0)
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(nfes))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    finite = table.values.to_numpy(float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if len(finite) and finite.max() / finite.min() > 20:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set(xlabel="network evaluations per sample (NFE)",
           ylabel=f"FID [{table.title.split('[')[1].rstrip(']')}]")
    ax.legend(loc="upper right", fontsize="small")
    return fig
