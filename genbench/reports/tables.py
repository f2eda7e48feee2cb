"""Result tables (pandas): one row per run, and mean ± std per model x dataset.

FID-family columns are headed with their feature extractor and sample count:
values from different feature spaces or sample counts never share a column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# metric key -> (column title, better: "low" | "high" | None, decimals)
METRICS: dict[str, tuple[str, str | None, int]] = {
    "fid": ("FID", "low", 2),
    "kid": ("KID", "low", 4),
    "precision": ("precision", "high", 3),
    "recall": ("recall", "high", 3),
    "mse": ("MSE", "low", 4),
    "bce": ("BCE (nats)", "low", 1),
    "psnr": ("PSNR (dB)", "high", 2),
    "ssim": ("SSIM", "high", 3),
    "conditional_accuracy": ("cond. accuracy", "high", 3),
    # likelihood columns (nll_k*, bpd_k*) are inserted here
    "params": ("params", None, 0),
    "train_seconds": ("train s", None, 1),
    "train_images_per_second": ("train img/s", "high", 0),
    "sample_images_per_second": ("sample img/s", "high", 0),
    "peak_memory_mb": ("peak MB", None, 0),
}
FIDELITY = ("fid", "kid", "precision", "recall")
IDENTITY = ["model", "family", "dataset"]


def likelihood_keys(frame: pd.DataFrame) -> list[str]:
    """nll_k1, nll_k100, bpd_k1, ... present in the frame, k ascending."""
    keys = [c for c in frame.columns if c.startswith(("nll_k", "bpd_k"))
            and not c.endswith("_std")]
    return sorted(keys, key=lambda c: (c[:3], int(c.split("_k")[1])))


def metric_keys(frame: pd.DataFrame) -> list[str]:
    """Metric columns present in the frame, in display order."""
    keys = list(METRICS)
    at = keys.index("params")
    keys = keys[:at] + likelihood_keys(frame) + keys[at:]
    return [k for k in keys if k in frame.columns]


def metric_info(key: str) -> tuple[str, str | None, int]:
    if key.startswith("nll_k"):
        return f"NLL k={key.split('_k')[1]} (nats)", "low", 2
    if key.startswith("bpd_k"):
        return f"bits/dim k={key.split('_k')[1]}", "low", 4
    return METRICS[key]


def fidelity_space(row: pd.Series) -> str:
    return f"{row['fid_extractor']}, n={int(row['fid_samples'])}"


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """mean and std over seeds per (model, dataset, feature space): columns metric, metric_std."""
    frame = runs.copy()
    frame["space"] = frame.apply(fidelity_space, axis=1)
    keys = metric_keys(frame)
    grouped = frame.groupby(IDENTITY + ["space"], sort=False)[keys]
    out = grouped.mean().join(grouped.std(ddof=0).add_suffix("_std"))
    out["seeds"] = grouped.size()
    return out.reset_index()


@dataclass
class Table:
    """A displayable table: formatted cells and which cells are best in their column."""

    cells: pd.DataFrame
    best: pd.DataFrame  # bool, same shape


def display_table(summary_frame: pd.DataFrame, dataset: str) -> Table:
    """One dataset's summary, formatted as "mean ± std", with FID columns split by space."""
    frame = summary_frame[summary_frame["dataset"] == dataset]
    rows = list(dict.fromkeys(frame["model"]))
    cells = pd.DataFrame(index=pd.Index(rows, name="model"))
    best = pd.DataFrame(False, index=cells.index, columns=[])
    for key in metric_keys(frame):
        title, better, decimals = metric_info(key)
        groups = ([(f"{title} [{space}]", frame[frame["space"] == space])
                   for space in dict.fromkeys(frame["space"])] if key in FIDELITY
                  else [(title, frame.drop_duplicates("model"))])
        for column, part in groups:
            values = part.set_index("model")[key].reindex(rows)
            if values.isna().all():
                continue
            stds = part.set_index("model")[f"{key}_std"].reindex(rows)
            seeds = part.set_index("model")["seeds"].reindex(rows)
            cells[column] = [_format(v, s, n, decimals) for v, s, n in
                             zip(values, stds, seeds, strict=True)]
            best[column] = _best(values, better)
    return Table(cells, best.reindex(columns=cells.columns, fill_value=False))


def _format(value: float, std: float, seeds: float, decimals: int) -> str:
    if value is None or np.isnan(value):
        return "–"
    text = f"{value:,.{decimals}f}"
    if seeds and seeds > 1 and not np.isnan(std):
        text += f" ± {std:,.{decimals}f}"
    return text


def _best(values: pd.Series, better: str | None) -> pd.Series:
    if better is None or values.notna().sum() < 2:
        return pd.Series(False, index=values.index)
    target = values.min() if better == "low" else values.max()
    return values == target


def to_markdown(table: Table) -> str:
    cells = table.cells.copy()
    for column in cells.columns:
        cells[column] = [f"**{v}**" if b else v for v, b in
                         zip(cells[column], table.best[column], strict=True)]
    return cells.to_markdown()


def to_html(table: Table) -> str:
    def mark(column: pd.Series) -> list[str]:
        return ["font-weight: bold; background: #e6f4ea" if b else ""
                for b in table.best[column.name]]

    styler = table.cells.style.apply(mark, axis=0)
    return styler.to_html()
