"""Did a model copy its training set? The memorisation figure (each model's samples' distances
to their nearest training image against the held-out images' own, as CDFs) and its takeaway,
from the copy test's evidence in visuals.pt and the flags in metrics.json.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from genbench.reports.images import Visuals, label
from genbench.reports.style import panels


def _cdf(ax, distances, **style) -> None:
    values = np.sort(np.asarray(distances, dtype=float))
    ax.step(values, np.arange(1, len(values) + 1) / len(values), where="post", **style)


def distance_cdfs(runs: pd.DataFrame, visuals: Visuals,
                  colours: dict[str, tuple]) -> Figure | None:
    """One line per model: the fraction of its samples within a distance of their nearest
    training image; black, the same for held-out images; dotted, the copy threshold."""
    chosen = [r for r in runs["run"] if "copy_distances" in visuals.get(r, {})]
    if not chosen:
        return None
    fig, (ax,) = panels(1)
    control = visuals[chosen[0]]
    _cdf(ax, control["copy_heldout_distances"], color="black", linewidth=3,
         label="held-out images")
    for run in chosen:
        name = label(runs, run)
        _cdf(ax, visuals[run]["copy_distances"], color=colours[name], label=name)
    threshold = float(control["copy_threshold"])
    ax.axvline(threshold, color="grey", linestyle=":", linewidth=1.5)
    ax.annotate("copy threshold", (threshold, 0.98), xytext=(4, 0), textcoords="offset points",
                va="top", fontsize="x-small", color="grey")
    ax.set(xlabel="distance to the nearest training image (feature space)",
           ylabel="fraction of images within it", ylim=(0, 1.02))
    fig.legend(loc="outside right center")
    return fig


def takeaway(runs: pd.DataFrame) -> str:
    """'No model copies: at most 1.2% of any model's samples are nearer a training image
    than 99% of held-out images are.' or the models flagged, from metrics.json."""
    if "copy_fraction" not in runs or runs["copy_fraction"].isna().all():
        return ""
    by_model = runs.groupby("model", sort=False)
    flagged = [m for m, part in by_model
               if "copying" in part and part["copying"].astype(float).fillna(0).max() > 0]
    share = 100 - float(runs.get("copy_percentile", pd.Series([1.0])).dropna().iloc[0])
    if flagged:
        return (f"Flagged as copying: {', '.join(flagged)} (more of its samples nearer a "
                f"training image than {share:g}% of held-out images are than chance allows)")
    worst = by_model["copy_fraction"].max()
    return (f"No model is flagged as copying: at most {worst.max():.1%} of any model's samples"
            f" are nearer a training image than {share:g}% of held-out images are")
