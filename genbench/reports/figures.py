"""Figures for papers and slides (seaborn/matplotlib), from run directories only.

Each function returns a matplotlib Figure (or None when no run has what it
draws). Colours are fixed per model, in registry order, across every figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import torch  # noqa: E402
from torchvision.utils import make_grid  # noqa: E402

from genbench import models  # noqa: E402
from genbench.reports.tables import metric_info  # noqa: E402

sns.set_theme(style="whitegrid", context="paper")
Visuals = dict[str, dict[str, Any]]  # run id -> visuals.pt contents


def palette(names: list[str]) -> dict[str, tuple]:
    """Registry models keep one colour everywhere; suite variants get the next ones."""
    order = models.available() + sorted(set(names) - set(models.available()))
    colours = sns.color_palette("tab10", 10) + sns.color_palette("Set2", 8)
    return {name: colours[i % len(colours)] for i, name in enumerate(order)}


def grid_image(images: torch.Tensor, nrow: int) -> torch.Tensor:
    """uint8 [N, C, H, W] -> H x W (x 3) array for imshow."""
    grid = make_grid(images.float() / 255, nrow=nrow, padding=2, pad_value=1.0)
    return grid.permute(1, 2, 0).clamp(0, 1).numpy()


def _imshow(ax, images: torch.Tensor, nrow: int, title: str | None = None) -> None:
    ax.imshow(grid_image(images, nrow), cmap="gray", interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if title:
        ax.set_title(title)


def _panels(n: int, width: float = 3.2, height: float = 3.2, cols: int | None = None):
    cols = cols or min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, list(axes.flat)


def _label(runs: pd.DataFrame, run_id: str) -> str:
    row = runs.set_index("run").loc[run_id]
    return str(row["model"])


def _per_run(runs: pd.DataFrame, visuals: Visuals, key: str, draw, width: float = 3.2,
             height: float = 3.2, cols: int | None = None) -> plt.Figure | None:
    """One panel per run whose visuals hold `key`; draw(ax, visuals, label) fills it."""
    chosen = [r for r in runs["run"] if key in visuals.get(r, {})]
    if not chosen:
        return None
    fig, axes = _panels(len(chosen), width, height, cols)
    for ax, run in zip(axes, chosen, strict=False):
        draw(ax, visuals[run], _label(runs, run))
    fig.tight_layout()
    return fig


def sample_grids(runs: pd.DataFrame, visuals: Visuals) -> plt.Figure | None:
    """Samples of every model side by side (the seed's VAE / GAN / diffusion comparison)."""
    return _per_run(runs, visuals, "samples",
                    lambda ax, v, label: _imshow(ax, v["samples"], 8, label))


def reconstructions(runs: pd.DataFrame, visuals: Visuals) -> plt.Figure | None:
    """Originals (top row) against each model's reconstructions."""
    chosen = [r for r in runs["run"] if "reconstructions" in visuals.get(r, {})]
    if not chosen:
        return None
    originals = visuals[chosen[0]]["originals"][:12]
    fig, axes = plt.subplots(len(chosen) + 1, 1, figsize=(12, 1.2 * (len(chosen) + 1)),
                             squeeze=False)
    _imshow(axes[0, 0], originals, 12)
    axes[0, 0].set_ylabel("original", rotation=0, ha="right", va="center")
    for ax, run in zip(axes[1:, 0], chosen, strict=True):
        _imshow(ax, visuals[run]["reconstructions"][:12], 12)
        ax.set_ylabel(_label(runs, run), rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def training_curves(runs: pd.DataFrame, curves: dict[str, pd.DataFrame],
                    colours: dict[str, tuple]) -> plt.Figure | None:
    """Training loss against training time, one panel per model (their losses differ in
    scale and meaning, so they never share an axis)."""
    chosen = [r for r in runs["run"] if r in curves and "loss" in curves[r]]
    names = list(dict.fromkeys(_label(runs, r) for r in chosen))
    if not names:
        return None
    fig, axes = _panels(len(names), 3.4, 2.6)
    for ax, name in zip(axes, names, strict=False):
        for run in chosen:
            if _label(runs, run) == name:
                c = curves[run]
                ax.plot(c["seconds"], c["loss"], color=colours[name], alpha=0.8)
        ax.set_title(name)
        ax.set_xlabel("training seconds")
        ax.set_ylabel("loss")
    fig.tight_layout()
    return fig


def quality_vs_time(runs: pd.DataFrame, colours: dict[str, tuple]) -> plt.Figure | None:
    """FID against training time: which model gives the best samples for its compute."""
    frame = runs.dropna(subset=["fid", "train_seconds"])
    if frame.empty:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 4))
    sns.scatterplot(frame, x="train_seconds", y="fid", hue="model", style="dataset",
                    palette=colours, s=70, ax=ax)
    space = f"{frame['fid_extractor'].iloc[0]} features, n={int(frame['fid_samples'].iloc[0])}"
    ax.set(xlabel="training seconds", ylabel=f"FID ({space}), lower is better")
    ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    return fig


def metric_bars(runs: pd.DataFrame, colours: dict[str, tuple],
                keys: tuple[str, ...] = ("fid", "kid", "precision", "recall", "ssim", "psnr",
                                         "nll_k1")) -> plt.Figure | None:
    """One bar chart per metric, mean over seeds with ±1 std error bars."""
    present = [k for k in keys if k in runs and runs[k].notna().any()]
    if not present:
        return None
    fig, axes = _panels(len(present), 3.2, 2.8)
    for ax, key in zip(axes, present, strict=False):
        frame = runs.dropna(subset=[key])
        sns.barplot(frame, x="model", y=key, hue="model", palette=colours, errorbar="sd",
                    ax=ax, legend=False)
        title, better, _ = metric_info(key)
        ax.set_title(f"{title} ({'lower' if better == 'low' else 'higher'} is better)")
        ax.set(xlabel="", ylabel="")
        ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return fig


def latent_maps(runs: pd.DataFrame, visuals: Visuals) -> plt.Figure | None:
    """Held-out codes coloured by class: the latent itself when 2-D, else a t-SNE."""
    def draw(ax, v, label):
        points, labels = v["latent_points"].numpy(), v["latent_labels"]
        hue = None if labels is None else labels.numpy().astype(str)
        sns.scatterplot(x=points[:, 0], y=points[:, 1], hue=hue, s=6, linewidth=0,
                        palette="tab10" if hue is not None else None, ax=ax, legend=False)
        axis = "z" if v["latent_method"] == "latent" else "t-SNE "
        ax.set(title=f"{label} ({v['latent_method']}, {v['latent_dim']}-D)",
               xlabel=f"{axis}1", ylabel=f"{axis}2")

    return _per_run(runs, visuals, "latent_points", draw, 3.6, 3.4)


def latent_grids(runs: pd.DataFrame, visuals: Visuals) -> plt.Figure | None:
    """The seed's figure: a uniform grid of the 2-D latent space, decoded."""
    def draw(ax, v, label):
        grid = v["latent_grid"]
        _imshow(ax, grid, int(len(grid) ** 0.5), f"{label}: decoded latent grid")

    return _per_run(runs, visuals, "latent_grid", draw, 5, 5)


def image_rows(runs: pd.DataFrame, visuals: Visuals, key: str,
               title: str) -> plt.Figure | None:
    """Figures made of rows of images ([rows, columns, C, H, W]): interpolations,
    traversals, label grids, denoising strips."""
    def draw(ax, v, label):
        rows = v[key]
        _imshow(ax, rows.flatten(0, 1), rows.shape[1], f"{label}: {title}")

    n = sum(key in visuals.get(r, {}) for r in runs["run"])
    return _per_run(runs, visuals, key, draw, 4.2, 3.4, cols=min(max(n, 1), 3))


def save(fig: plt.Figure, directory: Path, name: str) -> list[Path]:
    """PNG at 200 dpi (slides, HTML) and PDF (papers)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"{name}.png", directory / f"{name}.pdf"]
    fig.savefig(paths[0], dpi=200, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths
