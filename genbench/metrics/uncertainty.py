"""How far a number would move if the evaluation were repeated: intervals and seed spreads.

With one training seed, the only noise genbench can measure is the evaluation's
own: which samples were drawn and which real images were the reference. The
bootstrap redraws both sets with replacement from their cached features
(`rounds` times) and recomputes the metrics, vectorised over rounds:

- FID: each round's mean and covariance from resampling counts (one N x D x D
  product per side), then a batched Fréchet distance by symmetric eigenvalue
  problems (tr sqrt(S1 S2) = sum of sqrt of the eigenvalues of S1^1/2 S2 S1^1/2).
- KID: the unbiased MMD^2 with torch-fidelity's kernel (x.y/d + 1)^3 on the whole
  sets, as weighted quadratic forms of the kernel matrices (built once, in row
  blocks). Pairs of copies of one feature are left out, as the unbiased
  estimator leaves out i = j; otherwise duplicates inflate the within-set terms.
- precision, recall, density, coverage: means of per-point terms over the
  samples (precision, density) or the reals (recall, coverage); the k-NN balls
  stay those of the full sets (a resample's duplicates would shrink them to 0).

Intervals are percentile intervals re-centred by the bootstrap's own bias
(mean of the rounds minus the estimate): resampling adds FID's finite-sample
bias a second time. They describe the spread of a number at this n; the bias
itself, the same for every model measured at the same n, is kept. Evaluation
noise only: training seeds usually vary more (Lucic et al., 2018).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from scipy.stats import kendalltau

from genbench.metrics.density import manifold_hits

BOOTSTRAP_METRICS = ("fid", "kid", "precision", "recall", "density", "coverage")
NONNEGATIVE = {"fid", "precision", "recall", "density", "coverage"}
UNIT = {"precision", "recall", "coverage"}


@dataclass
class Bootstrap:
    rounds: int = 200
    level: float = 0.95
    seed: int = 0


def resampling_counts(n: int, rounds: int, generator: torch.Generator) -> torch.Tensor:
    """How often each of n items is drawn in each round of n draws with replacement: [R, n]."""
    draws = torch.randint(n, (rounds, n), generator=generator)
    return torch.zeros(rounds, n, dtype=torch.float64).scatter_add_(
        1, draws, torch.ones(rounds, n, dtype=torch.float64))


def weighted_moments(x: torch.Tensor, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean [R, D] and covariance (ddof=1, as numpy.cov) [R, D, D] of each round's resample."""
    x = x.double()
    centred = x - x.mean(0)  # about the full mean: fewer digits lost in the sums
    n = counts[0].sum()
    shift = counts @ centred / n
    # A block of rounds per batched product, the weighted copies within ~256 MB.
    block = max(1, 2**25 // centred.numel())
    second = torch.cat([(centred.T * w[:, None, :]) @ centred for w in counts.split(block)])
    cov = (second - n * shift[:, :, None] * shift[:, None, :]) / (n - 1)
    return shift + x.mean(0), cov


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Batched LAPACK on D x D matrices gains nothing from threads, and on a busy machine
    the idle threads spin: 25x the CPU time of one thread, measured on 100 eigh of 128 x 128."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def frechet_distance(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor,
                     cov2: torch.Tensor) -> torch.Tensor:
    """Fréchet distance of Gaussians, batched over leading dimensions: [R]."""
    with _one_thread():
        values, vectors = torch.linalg.eigh(cov1)
        root = vectors * values.clamp(min=0).sqrt()[..., None, :]  # cov1^1/2 = root vectors^T
        inner = root.transpose(-1, -2) @ cov2 @ root  # similar to cov1^1/2 cov2 cov1^1/2
        tr_covmean = torch.linalg.eigvalsh(inner).clamp(min=0).sqrt().sum(-1)
    diff = mu1 - mu2
    trace = torch.diagonal(cov1, dim1=-2, dim2=-1).sum(-1) + torch.diagonal(
        cov2, dim1=-2, dim2=-1).sum(-1)
    return (diff * diff).sum(-1) + trace - 2 * tr_covmean


def _kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x @ y.T / x.shape[1] + 1) ** 3  # torch-fidelity's KID kernel (degree 3, coef 1)


def _quadratic_forms(x: torch.Tensor, y: torch.Tensor, wx: torch.Tensor, wy: torch.Tensor,
                     block: int = 1000) -> torch.Tensor:
    """wx_r^T K(x, y) wy_r for every round r, with K built one row block at a time: [R]."""
    total = torch.zeros(len(wx), dtype=torch.float64)
    for start in range(0, len(x), block):
        rows = _kernel(x[start:start + block], y)  # [B, len(y)]
        total += (wx[:, start:start + block] * (wy @ rows.T)).sum(1)
    return total


def _within(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Mean kernel over pairs of distinct items of each resample (weights w [R, n])."""
    diagonal = (x * x).sum(1) / x.shape[1]
    self_pairs = (w * w) @ (diagonal + 1) ** 3
    n = w[0].sum()
    return (_quadratic_forms(x, x, w, w) - self_pairs) / (n * n - (w * w).sum(1))


@dataclass(frozen=True)
class Reference:
    """The real features' half of the bootstrap, the same for every set of samples measured
    against them (every curve point, every calibration set): their resampling counts, and per
    round their moments and KID's within-set term. Row 0 of each is the whole set."""

    features: torch.Tensor  # [N, D], float64
    counts: torch.Tensor  # [1 + R, N]
    mean: torch.Tensor  # [1 + R, D]
    cov: torch.Tensor  # [1 + R, D, D]
    within: torch.Tensor  # [1 + R]

    @property
    def rounds(self) -> int:
        return len(self.counts) - 1


def reference_side(real: torch.Tensor, rounds: int = 200, seed: int = 0) -> Reference:
    """The reference's resampling (its own random stream: seed + 1) and its statistics."""
    real = real.double()
    counts = torch.cat([torch.ones(1, len(real), dtype=torch.float64), resampling_counts(
        len(real), rounds, torch.Generator().manual_seed(seed + 1))])
    mean, cov = weighted_moments(real, counts)
    return Reference(real, counts, mean, cov, _within(real, counts))


def _rounds(fake: torch.Tensor, ref: Reference, metrics: Sequence[str], wf: torch.Tensor,
            hits: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each metric for each row of resampling counts (`hits`: the k-NN metrics' terms)."""
    out: dict[str, torch.Tensor] = {}
    wr = ref.counts
    if "fid" in metrics:
        out["fid"] = frechet_distance(*weighted_moments(fake, wf), ref.mean, ref.cov)
    if "kid" in metrics:
        fake = fake.double()
        cross = _quadratic_forms(fake, ref.features, wf, wr) / (wf[0].sum() * wr[0].sum())
        out["kid"] = _within(fake, wf) + ref.within - 2 * cross
    for name in set(metrics) & set(hits):
        w = wf if name in ("precision", "density") else wr
        out[name] = w @ hits[name] / w[0].sum()
    return out


def bootstrap_intervals(fake: torch.Tensor, real: torch.Tensor | Reference,
                        metrics: Sequence[str] = BOOTSTRAP_METRICS, rounds: int = 200,
                        level: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Bootstrap intervals of metrics of sample features `fake` [M, D] against real features
    [N, D] (or their `reference_side`, computed once for many calls): {"fid": estimate,
    "fid_lo", "fid_hi", ...} plus "bootstrap_rounds" and "bootstrap_level". KID here is the
    whole-set unbiased MMD^2 (torch-fidelity's KID is its mean over subsets: the same
    expectation)."""
    unknown = set(metrics) - set(BOOTSTRAP_METRICS)
    if unknown:
        raise ValueError(f"no bootstrap for {sorted(unknown)}; choose from {BOOTSTRAP_METRICS}")
    if not 0 < level < 1 or rounds < 2:
        raise ValueError(f"need 0 < level < 1 and at least 2 rounds, got {level}, {rounds}")
    ref = real if isinstance(real, Reference) else reference_side(real, rounds, seed)
    if min(len(fake), len(ref.features)) < 6:
        raise ValueError("bootstrap intervals need at least 6 sample and 6 real features")
    if ref.rounds != rounds:
        raise ValueError(f"the reference was resampled {ref.rounds} times, not {rounds}")
    wf = torch.cat([torch.ones(1, len(fake), dtype=torch.float64), resampling_counts(
        len(fake), rounds, torch.Generator().manual_seed(seed))])
    manifold = set(metrics) & {"precision", "recall", "density", "coverage"}
    hits = manifold_hits(fake, ref.features.to(fake.dtype)) if manifold else {}
    every = _rounds(fake, ref, metrics, wf, hits)
    tail = (1 - level) / 2
    out: dict[str, float] = {"bootstrap_rounds": rounds, "bootstrap_level": level}
    for name in metrics:
        estimate, values = float(every[name][0]), every[name][1:]
        bias = float(values.mean()) - estimate
        lo, hi = (float(q) - bias for q in torch.quantile(values, torch.tensor(
            [tail, 1 - tail], dtype=values.dtype)))
        if name in NONNEGATIVE:
            lo = max(lo, 0.0)
        if name in UNIT:
            hi = min(hi, 1.0)
        out.update({name: estimate, f"{name}_lo": lo, f"{name}_hi": hi})
    return out


def mean_std(values: Sequence[float]) -> dict[str, float | int | None]:
    """Mean, sample standard deviation (ddof=1; None for one value) and count, over seeds."""
    values = [float(v) for v in values if v is not None]  # None: a run without the value
    if not values:
        raise ValueError("mean_std needs at least one value")
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return {"mean": mean, "std": std, "n": n}


def rank_agreement(a: dict[str, float], b: dict[str, float]) -> float:
    """Kendall's τ between two scorings of the same entries (e.g. FID per model in two
    feature spaces), over the names both have: 1 same order, -1 reversed."""
    common = sorted(set(a) & set(b))
    if len(common) < 2:
        raise ValueError(f"rank agreement needs at least 2 entries scored in both, got {common}")
    return float(kendalltau([a[k] for k in common], [b[k] for k in common]).statistic)
