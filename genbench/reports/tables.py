"""Result tables (pandas), one per question: sample quality, reconstruction, likelihood, cost.

Each table has at most 8 columns and a caption saying what lower or higher means; the best
value per column is marked, with every value tied with it (overlapping intervals). What each
column is comes from the metric registry (reports/metrics.py). FID-family columns are headed
with their feature extractor and sample count: values from different feature spaces or sample
counts never share a column.
"""

from __future__ import annotations

import pandas as pd

from genbench.benchmarks.score import FAMILY as SCORED
from genbench.reports.metrics import FLAGS, present
from genbench.reports.notes import machine_note, memory_measure
from genbench.reports.notes import note as _note
from genbench.reports.samples import sample_tables
from genbench.reports.table import Table, metric_table
from genbench.reports.ties import COST

IDENTITY = ["model", "family", "dataset"]
# Descriptions that hold per run and are shown in headers and captions, not averaged.
NOTES = ("fid_extractor", "fid_samples", "fid_reference", "kid_subset", "peak_memory_measure",
         "likelihood_convention", "likelihood_reference", "classifier_accuracy", "num_test",
         "device", "machine", "threads", "copy_candidates", "copy_percentile", "bootstrap_rounds",
         "stop_rule", "judge")


def fidelity_space(row: pd.Series) -> str:
    return f"{row['fid_extractor']}, n={int(row['fid_samples'])}"


def _joined(values: pd.Series) -> str | None:
    """The distinct values of a text column over seeds: 'flat since 120 s / cap'."""
    distinct = list(dict.fromkeys(values.dropna().astype(str)))
    return " / ".join(distinct) if distinct else None


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std (ddof=1) over seeds per (model, dataset, feature space): columns
    metric, metric_std, metric_lo/metric_hi (the evaluation's interval, where the runs have
    one), seeds, the per-run notes (extractor, machine...) and `stopped` (the stop reasons).
    `runs` holds the derived metrics already (metrics.with_derived)."""
    frame = runs.copy()
    frame["space"] = frame.apply(fidelity_space, axis=1)
    keys = [m.key for m in present(frame)]
    intervals = [f"{k}_{end}" for k in keys for end in ("lo", "hi")
                 if f"{k}_lo" in frame and f"{k}_hi" in frame]
    grouped = frame.groupby(IDENTITY + ["space"], sort=False)
    out = grouped[keys].mean().join(grouped[keys].std(ddof=1).add_suffix("_std"))
    if intervals:
        out = out.join(grouped[intervals].mean())
    out = out.join(grouped[[k for k in NOTES if k in frame]].first())
    flags = [k for k in FLAGS if k in frame]
    if flags:  # flagged in any seed: 1.0
        out = out.join(frame[flags].astype(float).groupby(
            [frame[k] for k in IDENTITY + ["space"]], sort=False).max())
    if "stopped" in frame:
        out["stopped"] = grouped["stopped"].agg(_joined)
    out["seeds"] = grouped.size()
    return out.reset_index()


def question_tables(summary_frame: pd.DataFrame, dataset: str, floor: dict | None = None,
                    calibration: list[dict] | None = None) -> list[Table]:
    """The dataset's tables: sample quality (per feature space, each with its calibration
    where calibration.json has one), reconstruction, likelihood, cost. Tables without any
    value are left out."""

    frame = summary_frame[summary_frame["dataset"] == dataset]
    spread = spread_note(frame)
    main = main_space(frame)
    tables = sample_tables(frame[frame["space"] == main], main, floor, spread,
                           calibration or [])
    for space, part in frame[frame["space"] != main].groupby("space", sort=False):
        tables += not_compared(sample_tables(part, space, floor, spread, calibration or []),
                               space, main)
    per_model = frame.drop_duplicates("model")
    tables.append(metric_table("reconstruction", "Reconstruction", per_model, "reconstruction",
                         "Held-out images through each model: MSE per pixel and BCE in nats "
                         "per image, lower is better; PSNR and SSIM, higher is better." + spread))
    tables.append(likelihood_table(per_model, spread))
    tables.append(cost_table(per_model, spread))
    return [t for t in tables if not t.cells.empty and len(t.cells.columns)]


def main_space(frame: pd.DataFrame) -> str:
    """The feature space and sample count the dataset's models are compared in: the one of
    the most trained models (then of the most models). FID depends on n and on the space:
    runs measured otherwise (samples scored at another n) are shown, not compared."""
    trained = frame["family"] != SCORED if "family" in frame else True
    counts = frame.assign(trained=trained).groupby("space", sort=False).agg(
        trained=("trained", "sum"), models=("model", "nunique"))
    return str(counts.sort_values(["trained", "models"], ascending=False, kind="stable")
               .index[0])


def not_compared(shown: list[Table], space: str, main: str) -> list[Table]:
    """The sample tables of runs measured in another space or at another n: every model
    marked, no column ranked, the caption saying why."""
    why = (f"measured in [{space}], the other models in [{main}]: FID depends on the feature "
           "space and the sample count, so these are not compared with them")
    for table in shown:
        if table.key.startswith("samples"):
            table.unranked = dict.fromkeys(table.values.columns, why)
            marked = pd.Index([f"{m} (not compared)" for m in table.cells.index],
                              name=table.cells.index.name)
            table.cells.index = table.values.index = marked
            for frame in (table.spread, table.low, table.high):
                if frame is not None:
                    frame.index = marked
            table.caption = f"Not ranked: {why}. " + table.caption
    return shown


def spread_note(frame: pd.DataFrame) -> str:
    seeds = frame["seeds"]
    if seeds.max() <= 1:
        return ""
    count = (f"{int(seeds.max())} seeds" if seeds.nunique() == 1 else
             f"{int(seeds.min())} to {int(seeds.max())} seeds (the count in brackets)")
    return f" Mean ± sample std (ddof=1) over {count}."


def likelihood_table(per_model: pd.DataFrame, spread: str) -> Table:
    caption = ("Importance-weighted bound on −log p(x) of held-out images, in nats and bits "
               "per dimension, with k samples (k=1 is the ELBO; a larger k is tighter); lower "
               "is better.")
    if convention := _note(per_model, "likelihood_convention"):
        caption += f" Convention: {convention}."
    if reference := _note(per_model, "likelihood_reference"):
        caption += f" Published reference: {reference}."
    return metric_table("likelihood", "Likelihood", per_model, "likelihood", caption + spread,
                        interval_note=" [low, high]: the 95% interval of the mean over the "
                        "held-out images (their spread: evaluation noise only).")


def cost_table(per_model: pd.DataFrame, spread: str) -> Table:
    measure = memory_measure(per_model)
    caption = ("Parameters; training seconds and images per second (higher is better); "
               "sampling milliseconds per image and peak memory (lower is better). "
               f"Peak memory: {measure}. Curve eval s: seconds spent evaluating the "
               "quality curve during training, not counted in train s. Eval % of train: "
               "the curve's and the final evaluation's seconds over train s (the budget "
               "evaluation takes from training; the NFE sweep not counted).")
    if "sampler_seconds" in per_model and per_model["sampler_seconds"].notna().any():
        caption += (" Sampler fit s: fitting the latent sampler to the training set's codes,"
                    " encoding them included, at every curve point and at the end (not in "
                    "curve eval s).")
    if "train_flops" in per_model and per_model["train_flops"].notna().any():
        caption += (" Train FLOPs: counted matmul and convolution FLOPs of training, forward"
                    " and backward (elementwise work is not counted).")
    if "stopped" in per_model and per_model["stopped"].notna().any():
        caption += " Stopped: why training ended (its curve flat since a point, or the cap)."
        rules = per_model["stop_rule"].dropna().unique() if "stop_rule" in per_model else []
        caption += "".join(f" Stop rule: {rule}." for rule in rules)
    caption += (f" Values within {COST:.0%} of each other are tied (timing noise between runs"
                " on a shared machine).")
    table = metric_table("cost", "Cost", per_model, "cost",
                         caption + machine_note(per_model) + spread,
                         {"peak_memory_mb": f"peak MB ({measure})"}, margin=COST)
    if "stopped" in per_model and per_model["stopped"].notna().any():
        stopped = per_model.set_index("model")["stopped"].reindex(table.cells.index)
        table.cells["stopped"] = stopped.fillna("–").astype(str)
    return table


