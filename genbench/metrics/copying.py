"""Did the model copy its training set, or collapse onto a few images? FID cannot tell.

Copying (after Meehan et al., 2020, and Alaa et al., 2022): in a feature space,
each sample's distance to its nearest training image is set against the same
distance for held-out real images, which the model never saw. A sample is
"closer than almost any held-out image" when its distance is below the
`percentile`-th percentile of the held-out distances (1st by default), so a
model that generalises has about 1% such samples. `copying` is flagged when the
samples' fraction exceeds the held-out fraction by a one-sided two-proportion
z-test at z > 3 (p < 0.0014) and Meehan et al.'s C_T agrees (below -3): the
training images are cut into cells by k-means, and in each cell the samples'
distances are set against the held-out images' by a Mann-Whitney z (negative:
closer to the training set than new real images are), averaged with the cells'
held-out shares. Within cells, a model that favours classes whose images lie
close together (MNIST's ones) is not taken for a copier; the fraction alone would
flag real held-out images of half the classes.

Collapse: a sample is a near-duplicate when its nearest other sample is closer
than the 1st percentile of held-out images' nearest other held-out image. The
model is `collapsed` when at least half its samples are near-duplicates, or when
it covers under 20% of the real balls while at least half its samples are
realistic (coverage < 0.2 with precision >= 0.5; Naeem et al.'s point that
precision alone scores one repeated image at 1.0).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch
from scipy.stats import mannwhitneyu

from genbench.metrics.density import manifold_hits

COPY_PERCENTILE = 1.0
COPY_Z = 3.0
MEEHAN_CELLS = 10  # k-means cells of the training features, at most
MEEHAN_MIN_POINTS = 20  # a cell counts with at least this many samples and held-out images
DUPLICATE_PERCENTILE = 1.0
COLLAPSE_DUPLICATES = 0.5
COLLAPSE_COVERAGE, COLLAPSE_PRECISION = 0.2, 0.5


def nearest_neighbours(queries: torch.Tensor, points: torch.Tensor, k: int = 1,
                       exclude_self: bool = False, batch: int = 256
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Distances [Q, k] and indices [Q, k] of each query's k nearest points, nearest first.
    `exclude_self`: queries are the points themselves, and a point is not its own neighbour."""
    queries, points = queries.float(), points.float()
    skip = int(exclude_self)
    if len(points) < k + skip:
        raise ValueError(f"need at least {k + skip} points for {k} nearest neighbours, "
                         f"got {len(points)}")
    distances, indices = [], []
    candidates = min(len(points), k + skip + 4)
    for start in range(0, len(queries), batch):
        part = queries[start:start + batch]
        # cdist's matrix-product path loses the digits of small distances (a copy of a
        # point comes out ~1e-3 away): it only picks candidates, measured again exactly.
        rough = torch.cdist(part, points)
        if exclude_self:
            rows = torch.arange(len(part))
            rough[rows, rows + start] = math.inf
        chosen = rough.topk(candidates, largest=False).indices
        exact = (part[:, None] - points[chosen]).norm(dim=-1)
        if exclude_self:
            exact[chosen == torch.arange(start, start + len(part))[:, None]] = math.inf
        top = exact.topk(k, largest=False)
        distances.append(top.values)
        indices.append(chosen.gather(1, top.indices))
    return torch.cat(distances), torch.cat(indices)


def _two_proportion_z(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float:
    """z of the difference of two proportions (a minus b) under a pooled null."""
    pooled = (hits_a + hits_b) / (n_a + n_b)
    spread = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / n_a + 1 / n_b))
    return (hits_a / n_a - hits_b / n_b) / spread


def _mann_whitney_z(a: torch.Tensor, b: torch.Tensor) -> float:
    """Normal-approximation z of the Mann-Whitney U of a against b (negative: a smaller)."""
    u = mannwhitneyu(a.numpy(), b.numpy(), method="asymptotic").statistic
    n, m = len(a), len(b)
    return float((u - n * m / 2) / math.sqrt(n * m * (n + m + 1) / 12))


_CENTRES: dict[tuple[str, int], torch.Tensor] = {}


def _cell_centres(train: torch.Tensor, cells: int) -> torch.Tensor:
    """k-means centres of the training features, fitted once per process for a set of
    features and a cell count: the same training features judge every run and every
    calibration row of a dataset (a fit takes ~1 s on 10,000 of them)."""
    from sklearn.cluster import KMeans

    key = (hashlib.sha1(train.contiguous().numpy().tobytes()).hexdigest(), cells)
    if key not in _CENTRES:
        fit = KMeans(cells, n_init=3, random_state=0).fit(train.double().numpy())
        _CENTRES[key] = torch.from_numpy(fit.cluster_centers_).to(train.dtype)
    return _CENTRES[key]


def meehan_ct(sample_d: torch.Tensor, heldout_d: torch.Tensor, fake: torch.Tensor,
              heldout: torch.Tensor, train: torch.Tensor) -> float:
    """Meehan et al.'s C_T: per k-means cell of the training features, the Mann-Whitney z
    of the samples' distances against the held-out images', averaged with the cells'
    held-out shares over the cells that hold MEEHAN_MIN_POINTS of each (one cell: the
    whole-set z)."""
    cells = max(1, min(MEEHAN_CELLS, len(heldout) // (2 * MEEHAN_MIN_POINTS)))
    if cells == 1:
        return _mann_whitney_z(sample_d, heldout_d)
    centres = _cell_centres(train, cells)
    fake_cell = torch.cdist(fake, centres).argmin(1)
    heldout_cell = torch.cdist(heldout, centres).argmin(1)
    zs, shares = [], []
    for cell in range(cells):
        a, b = sample_d[fake_cell == cell], heldout_d[heldout_cell == cell]
        if min(len(a), len(b)) >= MEEHAN_MIN_POINTS:
            zs.append(_mann_whitney_z(a, b))
            shares.append(len(b))
    if not zs:
        return _mann_whitney_z(sample_d, heldout_d)
    return float(sum(z * s for z, s in zip(zs, shares, strict=True)) / sum(shares))


@dataclass
class CopyReport:
    """Per-sample evidence for a memorisation figure and a gallery, and the verdict."""

    sample_distances: torch.Tensor  # [M] to the nearest training image
    heldout_distances: torch.Tensor  # [N] the same for held-out real images
    nearest: torch.Tensor  # [M, k] indices of each sample's nearest training images
    threshold: float  # the held-out distances' COPY_PERCENTILE-th percentile
    copy_fraction: float  # samples closer than the threshold
    heldout_fraction: float  # held-out images closer than the threshold (about 1%)
    copy_z: float
    meehan_z: float
    copying: bool

    def summary(self) -> dict[str, float | bool]:
        """The scalars, for metrics.json."""
        return {"copy_fraction": self.copy_fraction, "copy_heldout_fraction":
                self.heldout_fraction, "copy_threshold": self.threshold, "copy_z": self.copy_z,
                "copy_meehan_z": self.meehan_z, "copying": self.copying,
                "copy_percentile": COPY_PERCENTILE}


def copy_detection(fake: torch.Tensor, heldout: torch.Tensor, train: torch.Tensor,
                   percentile: float = COPY_PERCENTILE, neighbours: int = 3) -> CopyReport:
    """Copying test of sample features `fake` [M, D], with held-out real features [N, D]
    as the control and training features [T, D] (those of the images the model trained on:
    a copy of an image outside them goes unseen)."""
    if not 0 < percentile < 50:
        raise ValueError(f"the copy percentile must lie in (0, 50), got {percentile}")
    sample_d, nearest = nearest_neighbours(fake, train, neighbours)
    heldout_d = nearest_neighbours(heldout, train)[0][:, 0]
    threshold = float(torch.quantile(heldout_d.double(), percentile / 100))
    # <=: held-out images may duplicate training images exactly (threshold 0); copies still count
    copies = int((sample_d[:, 0] <= threshold).sum())
    controls = int((heldout_d <= threshold).sum())
    z = _two_proportion_z(copies, len(fake), controls, len(heldout))
    ct = meehan_ct(sample_d[:, 0], heldout_d, fake, heldout, train)
    return CopyReport(sample_d[:, 0], heldout_d, nearest, threshold, copies / len(fake),
                      controls / len(heldout), z, ct, z > COPY_Z and ct < -COPY_Z)


def collapse_check(fake: torch.Tensor, real: torch.Tensor) -> dict[str, float | bool]:
    """Near-duplicate fraction among the samples, precision and coverage against real
    (held-out) features, and the `collapsed` flag (thresholds in the module's docstring).
    The duplicate radius comes from as many real features as there are samples, where
    there are enough: nearest-neighbour distances shrink as a set grows."""
    control = real[:len(fake)]
    radius = float(torch.quantile(nearest_neighbours(control, control, exclude_self=True)[0]
                                  [:, 0].double(), DUPLICATE_PERCENTILE / 100))
    duplicates = float((nearest_neighbours(fake, fake, exclude_self=True)[0][:, 0]
                        <= radius).double().mean())
    hits = manifold_hits(fake, real)
    precision, coverage = float(hits["precision"].mean()), float(hits["coverage"].mean())
    collapsed = duplicates >= COLLAPSE_DUPLICATES or (
        coverage < COLLAPSE_COVERAGE and precision >= COLLAPSE_PRECISION)
    return {"duplicate_fraction": duplicates, "duplicate_radius": radius,
            "collapse_precision": precision, "collapse_coverage": coverage,
            "collapsed": collapsed}
