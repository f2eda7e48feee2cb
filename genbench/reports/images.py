"""Figures made of images (samples, reconstructions, latent grids, rows of images, samples
along training), from the tensors each run saved in visuals.pt.

Each function returns a 16:9 matplotlib Figure, or None when no run has what it draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from torchvision.utils import make_grid

from genbench.reports.style import hide_ticks, panels

Visuals = dict[str, dict[str, Any]]  # run id -> visuals.pt contents


def grid_image(images: torch.Tensor, nrow: int) -> np.ndarray:
    """uint8 [N, C, H, W] -> H x W (x 3) array for imshow."""
    grid = make_grid(images.float() / 255, nrow=nrow, padding=2, pad_value=1.0)
    return grid.permute(1, 2, 0).clamp(0, 1).numpy()


def show(ax, images: torch.Tensor, nrow: int, title: str | None = None) -> None:
    ax.imshow(grid_image(images, nrow), cmap="gray", interpolation="nearest")
    hide_ticks(ax)
    if title:
        ax.set_title(title)


def label(runs: pd.DataFrame, run_id: str) -> str:
    return str(runs.set_index("run").loc[run_id, "model"])


def per_run(runs: pd.DataFrame, visuals: Visuals, key: str, draw,
            aspect: float = 1.0) -> Figure | None:
    """One panel per run whose visuals hold `key`; draw(ax, visuals, label) fills it."""
    chosen = [r for r in runs["run"] if key in visuals.get(r, {})]
    if not chosen:
        return None
    fig, axes = panels(len(chosen), aspect)
    for ax, run in zip(axes, chosen, strict=True):
        draw(ax, visuals[run], label(runs, run))
    return fig


def sample_grids(runs: pd.DataFrame, visuals: Visuals) -> Figure | None:
    """Samples of every model side by side (the family comparison)."""
    many = sum("samples" in visuals.get(r, {}) for r in runs["run"]) > 4
    side = 6 if many else 8  # fewer, larger samples when many models share the page

    def draw(ax, v, name):
        show(ax, v["samples"][:side * side], side, name)

    return per_run(runs, visuals, "samples", draw)


def reconstructions(runs: pd.DataFrame, visuals: Visuals, columns: int = 12) -> Figure | None:
    """Held-out images (top row) against each model's reconstructions."""
    chosen = [r for r in runs["run"] if "reconstructions" in visuals.get(r, {})]
    if not chosen:
        return None
    rows = [("original", visuals[chosen[0]]["originals"][:columns])] + [
        (label(runs, r), visuals[r]["reconstructions"][:columns]) for r in chosen]
    fig, axes = panels(1)
    show(axes[0], torch.cat([images for _, images in rows]), columns)
    height = rows[0][1].shape[-2] + 2
    axes[0].set_yticks([2 + (i + 0.5) * height for i in range(len(rows))],
                       [name for name, _ in rows])
    return fig


def latent_grids(runs: pd.DataFrame, visuals: Visuals) -> Figure | None:
    """The seed's figure: a uniform grid of the 2-D latent space, decoded."""
    def draw(ax, v, name):
        grid = v["latent_grid"]
        show(ax, grid, int(len(grid) ** 0.5), f"{name}: decoded latent grid")
        ax.set(xlabel="z1 →", ylabel="z2 →")

    return per_run(runs, visuals, "latent_grid", draw)


def image_rows(runs: pd.DataFrame, visuals: Visuals, key: str) -> Figure | None:
    """Figures made of rows of images ([rows, columns, C, H, W]): interpolations,
    traversals, label grids (rows named by class), denoising strips, the copy gallery. Each
    panel is titled with its model alone: panels can be narrow, the figure says the rest."""
    aspects = [v[key].shape[1] / v[key].shape[0] for v in visuals.values() if key in v]

    def draw(ax, v, name):
        rows = v[key]
        show(ax, rows.flatten(0, 1), rows.shape[1], name)
        names = v.get("label_names") if key == "label_grid" else None
        if names:
            height = rows.shape[-2] + 2
            ax.set_yticks([2 + (i + 0.5) * height for i in range(len(rows))],
                          names[:len(rows)], fontsize="small")

    return per_run(runs, visuals, key, draw, aspects[0] if aspects else 1.0)


def progress_strips(runs: pd.DataFrame, visuals: Visuals) -> Figure | None:
    """How samples improve with compute: per model, the same noise sampled at each curve
    point (columns), labelled with the training seconds of the point."""
    chosen = [r for r in runs["run"] if "progress" in visuals.get(r, {})]
    if not chosen:
        return None
    depth = 1 if len(chosen) > 4 else 2  # samples per point: fewer when many models share
    shapes = [visuals[r]["progress"].shape for r in chosen]
    fig, axes = panels(len(chosen), max(s[0] for s in shapes) / depth)
    for ax, run in zip(axes, chosen, strict=True):
        progress, seconds = visuals[run]["progress"], visuals[run].get("progress_seconds")
        points, width = progress.shape[0], progress.shape[-1] + 2
        show(ax, progress[:, :depth].transpose(0, 1).flatten(0, 1), points)
        ax.set_ylabel(label(runs, run), rotation=0, ha="right", va="center")
        if seconds is not None:
            # Seconds without their unit (the caption gives it): a thumbnail is narrow.
            ax.set_xticks([2 + (i + 0.5) * width for i in range(points)],
                          [f"{s:.0f}" if s >= 10 else f"{s:.2g}" for s in seconds],
                          fontsize="x-small")
            # The last label ends at its thumbnail's centre: a wide one ('1.8') in the last
            # column of a panel at the page's edge would otherwise pass the edge.
            ax.get_xticklabels()[-1].set_horizontalalignment("right")
    return fig
