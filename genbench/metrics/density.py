"""Density and coverage (Naeem et al., 2020): k-NN balls around the real features.

With NND_k(X_i) the distance of real X_i to its k-th nearest real neighbour and
B(X_i, r) the ball of radius r around it, for M samples Y_j and N reals X_i:

    density  = 1/(kM) sum_j sum_i 1[Y_j in B(X_i, NND_k(X_i))]
    coverage = 1/N    sum_i 1[exists j: Y_j in B(X_i, NND_k(X_i))]

Precision counts a sample once however many balls hold it, so one repeated
realistic image scores precision 1; coverage then falls to about 1/N, and
density rewards samples crowded where the reals are dense. The `prdc` package
(Naeem et al.'s own code, tests check against it) computes the same numbers,
but in numpy with an N x M matrix held whole, 8 joblib workers and a print on
every call; this is torch.cdist in row blocks, on the features' device. Balls
are closed (<=) as in precision/recall here and torch-fidelity; `prdc` uses <,
which differs only on exact ties (duplicated features).
"""

from __future__ import annotations

import torch

from genbench.metrics.fidelity import NEIGHBOURHOOD, balls_holding, knn_radii

DENSITY_NEIGHBOURHOOD = 5  # Naeem et al.'s k: coverage is stable from ~1,000 samples


def covered(centres: torch.Tensor, radii: torch.Tensor, points: torch.Tensor,
            batch: int = 2000) -> torch.Tensor:
    """For every centre, whether its ball holds at least one point: bool [len(centres)]."""
    return torch.cat([torch.cdist(part, points).min(1).values <= r
                      for part, r in zip(centres.split(batch), radii.split(batch), strict=True)])


def manifold_hits(fake: torch.Tensor, real: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-point terms whose means are the k-NN metrics, so a bootstrap can resample them:
    precision and density are means over the samples, recall and coverage over the reals."""
    fake, real = fake.float(), real.float()
    real_pr = knn_radii(real, NEIGHBOURHOOD)
    real_dc = knn_radii(real, DENSITY_NEIGHBOURHOOD)
    return {"precision": (balls_holding(fake, real, real_pr) > 0).double(),
            "recall": (balls_holding(real, fake, knn_radii(fake, NEIGHBOURHOOD)) > 0).double(),
            "density": balls_holding(fake, real, real_dc).double() / DENSITY_NEIGHBOURHOOD,
            "coverage": covered(real, real_dc, fake).double()}


def density_coverage(fake: torch.Tensor, real: torch.Tensor,
                     k: int = DENSITY_NEIGHBOURHOOD) -> dict[str, float]:
    """Density and coverage of sample features `fake` [M, D] against real features [N, D]."""
    if len(real) <= k:
        raise ValueError(f"density/coverage with k={k} need more than {k} real features, "
                         f"got {len(real)}")
    fake, real = fake.float(), real.float()
    radii = knn_radii(real, k)
    density = balls_holding(fake, real, radii).double().mean() / k
    coverage = covered(real, radii, fake).double().mean()
    return {"density": float(density), "coverage": float(coverage)}
