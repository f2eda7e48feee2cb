"""Result tables (pandas), one per question: sample quality, reconstruction, likelihood, cost.

Each table has at most 8 columns and a caption saying what lower or higher means; the best
value per column is marked. FID-family columns are headed with their feature extractor and
sample count: values from different feature spaces or sample counts never share a column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# metric key -> (column title, better: "low" | "high" | None, decimals)
METRICS: dict[str, tuple[str, str | None, int]] = {
    "fid": ("FID", "low", 2),
    "kid": ("KID", "low", 4),
    "precision": ("precision", "high", 3),
    "recall": ("recall", "high", 3),
    "conditional_accuracy": ("cond. accuracy", "high", 3),
    "mse": ("MSE", "low", 4),
    "bce": ("BCE (nats)", "low", 1),
    "psnr": ("PSNR (dB)", "high", 2),
    "ssim": ("SSIM", "high", 3),
    # likelihood columns (nll_k*, bpd_k*) are inserted here
    "params": ("params", None, 0),
    "train_seconds": ("train s", None, 1),
    "train_images_per_second": ("train img/s", "high", 0),
    "sample_ms_per_image": ("sample ms/img", "low", 3),
    "peak_memory_mb": ("peak MB", "low", 1),
    "eval_seconds": ("curve eval s", None, 1),
}
FIDELITY = ("fid", "kid", "precision", "recall", "conditional_accuracy")
RECONSTRUCTION = ("mse", "bce", "psnr", "ssim")
COST = ("params", "train_seconds", "train_images_per_second", "sample_ms_per_image",
        "peak_memory_mb", "eval_seconds")
IDENTITY = ["model", "family", "dataset"]
# Descriptions that hold per run and are shown in headers and captions, not averaged.
NOTES = ("fid_extractor", "fid_samples", "fid_reference", "kid_subset", "peak_memory_measure",
         "likelihood_convention", "likelihood_reference", "classifier_accuracy", "num_test",
         "device")


def likelihood_keys(frame: pd.DataFrame) -> list[str]:
    """nll_k1, nll_k100, bpd_k1, ... present in the frame, k ascending."""
    keys = [c for c in frame.columns if c.startswith(("nll_k", "bpd_k"))
            and not c.endswith("_std")]
    return sorted(keys, key=lambda c: (c.startswith("bpd"), int(c.split("_k")[1])))


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
    """mean and std over seeds per (model, dataset, feature space): columns metric, metric_std,
    seeds, and the per-run notes (extractor, KID subset size, memory measure...)."""
    frame = runs.copy()
    frame["space"] = frame.apply(fidelity_space, axis=1)
    if "sample_images_per_second" in frame:
        frame["sample_ms_per_image"] = 1000 / frame["sample_images_per_second"]
    keys = metric_keys(frame)
    grouped = frame.groupby(IDENTITY + ["space"], sort=False)
    out = grouped[keys].mean().join(grouped[keys].std(ddof=0).add_suffix("_std"))
    out = out.join(grouped[[k for k in NOTES if k in frame]].first())
    out["seeds"] = grouped.size()
    return out.reset_index()


@dataclass
class Table:
    """One question's table: formatted cells, the numbers behind them, the best cells."""

    key: str  # "samples", "reconstruction", "likelihood", "cost", "time-to-quality", ...
    title: str
    caption: str
    cells: pd.DataFrame  # formatted text, one row per model
    values: pd.DataFrame  # the numbers (NaN where none), same shape
    better: dict[str, str | None] = field(default_factory=dict)  # column -> "low" | "high"
    spread: pd.DataFrame | None = None  # std over seeds, where the numbers are means

    @property
    def best(self) -> pd.DataFrame:
        """True where a cell holds its column's best value (of two or more)."""
        return pd.DataFrame({c: _best(self.values[c], self.better.get(c)) if c in self.values
                             else False for c in self.cells.columns}, index=self.cells.index)

    def leader(self, column: str) -> tuple[str, float] | None:
        """(model, value) with the best value in `column`, or None when it has no ranking."""
        values, better = self.values[column].dropna(), self.better.get(column)
        if values.empty or better is None:
            return None
        model = values.idxmin() if better == "low" else values.idxmax()
        return model, float(values[model])


def question_tables(summary_frame: pd.DataFrame, dataset: str,
                    floor: dict | None = None) -> list[Table]:
    """The dataset's tables: sample quality (one per feature space), reconstruction,
    likelihood, cost. Tables without any value are left out."""
    frame = summary_frame[summary_frame["dataset"] == dataset]
    seeds = int(frame["seeds"].max())
    spread = f" Mean ± std over {seeds} seeds." if seeds > 1 else ""
    tables = [sample_table(part, space, floor, spread)
              for space, part in frame.groupby("space", sort=False)]
    per_model = frame.drop_duplicates("model")
    tables.append(_table("reconstruction", "Reconstruction", per_model, RECONSTRUCTION,
                         "Held-out images through each model: MSE per pixel and BCE in nats "
                         "per image, lower is better; PSNR and SSIM, higher is better." + spread))
    tables.append(likelihood_table(per_model, spread))
    measure = memory_measure(per_model)
    cost = _table("cost", "Cost", per_model, COST,
                  "Parameters; training seconds and images per second (higher is better); "
                  "sampling milliseconds per image and peak memory (lower is better). "
                  f"Peak memory: {measure}. Curve eval s: seconds spent evaluating the "
                  "quality curve during training, not counted in train s." + spread,
                  {"peak_memory_mb": f"peak MB ({measure})"})
    tables.append(cost)
    return [t for t in tables if not t.cells.empty and len(t.cells.columns)]


def sample_table(part: pd.DataFrame, space: str, floor: dict | None, spread: str) -> Table:
    subset = _note(part, "kid_subset")
    kid_space = f"{space}, subsets of {int(subset)}" if subset else space
    titles = {"fid": f"FID [{space}]", "kid": f"KID [{kid_space}]"}
    extractor, reference = _note(part, "fid_extractor"), _note(part, "fid_reference")
    caption = (f"Generated samples against {int(reference) if reference else 'the'} held-out "
               f"images in {extractor} features: FID and KID, lower is better; precision and "
               "recall, higher is better.")
    if "conditional_accuracy" in part and part["conditional_accuracy"].notna().any():
        caption += " Cond. accuracy: the classifier's accuracy on label-conditioned samples."
    if floor:
        caption += f" Real training images score FID {floor['fid']:.2f} here (the floor)."
    accuracy = (floor or {}).get("classifier_accuracy") or _note(part, "classifier_accuracy")
    if extractor == "classifier" and accuracy:
        caption += f" The feature classifier's test accuracy: {accuracy:.2%}."
    return _table("samples", f"Sample quality [{space}]", part, FIDELITY, caption + spread,
                  titles)


def likelihood_table(per_model: pd.DataFrame, spread: str) -> Table:
    caption = ("Importance-weighted bound on −log p(x) of held-out images, in nats and bits "
               "per dimension, with k samples (k=1 is the ELBO; a larger k is tighter); lower "
               "is better.")
    if convention := _note(per_model, "likelihood_convention"):
        caption += f" Convention: {convention}."
    if reference := _note(per_model, "likelihood_reference"):
        caption += f" Published reference: {reference}."
    return _table("likelihood", "Likelihood", per_model, tuple(likelihood_keys(per_model)),
                  caption + spread)


def memory_measure(frame: pd.DataFrame) -> str:
    """What the peak memory column measures (runs written before it was recorded: their
    device says it; on a CPU that was the process's resident size, the same for every run)."""
    if measure := _note(frame, "peak_memory_measure"):
        return str(measure)
    device = str(_note(frame, "device") or "cpu")
    return "CUDA, peak allocated" if device.startswith("cuda") else "process peak RSS"


def _note(frame: pd.DataFrame, key: str):
    values = frame[key].dropna() if key in frame else pd.Series(dtype=object)
    return values.iloc[0] if len(values) else None


def _table(key: str, title: str, frame: pd.DataFrame, metrics: tuple[str, ...], caption: str,
           titles: dict[str, str] | None = None) -> Table:
    rows = list(dict.fromkeys(frame["model"]))
    by_model = frame.drop_duplicates("model").set_index("model").reindex(rows)
    cells = pd.DataFrame(index=pd.Index(rows, name="model"))
    values, spread = pd.DataFrame(index=cells.index), pd.DataFrame(index=cells.index)
    better = {}
    for metric in metrics:
        if metric not in by_model or by_model[metric].isna().all():
            continue
        title_, better_, decimals = metric_info(metric)
        column = (titles or {}).get(metric, title_)
        values[column] = by_model[metric].astype(float)
        spread[column] = by_model[f"{metric}_std"].astype(float)
        seeds = by_model["seeds"] if metric != "params" else [1] * len(by_model)  # constant
        cells[column] = [format_value(v, s, n, decimals) for v, s, n in zip(
            by_model[metric], by_model[f"{metric}_std"], seeds, strict=True)]
        better[column] = better_
    measured = values.notna().any(axis=1)  # models without this capability: no row
    return Table(key, title, caption, cells[measured], values[measured], better,
                 spread[measured])


def format_value(value: float, std: float = np.nan, seeds: float = 1, decimals: int = 2) -> str:
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
