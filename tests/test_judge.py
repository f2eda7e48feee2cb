"""The judge: bootstrap intervals, density/coverage, copy and collapse flags, calibration sets,
on generated sprites and small random features; density/coverage against the definition and
against Naeem et al.'s own `prdc` package."""

from __future__ import annotations

import numpy as np
import prdc
import pytest
import torch

from genbench import metrics
from genbench.metrics.calibration import BLUR_SIGMAS, HALF_CLASSES, HELDOUT, NOISE_SIGMAS
from genbench.metrics.features import FeatureSpace

N = 300  # images per set: reference, samples, calibration sets
FAST = metrics.ClassifierSettings(epochs=1, batch_size=64, max_train=1024)  # 16 steps


@pytest.fixture(scope="module")
def space(sprites, tmp_path_factory) -> FeatureSpace:
    train, test = sprites
    path, accuracy = metrics.load_or_train(tmp_path_factory.mktemp("clf"), train, test, FAST)
    return FeatureSpace("classifier", path, accuracy)


@pytest.fixture(scope="module")
def features(sprites, space):
    """Features of the reference (held-out[:N]), two further held-out sets, and training."""
    train, test = sprites
    f = metrics.extract_features(torch.cat([test.images[:3 * N], train.images]), space)
    return {"reference": f[:N], "heldout_a": f[N:2 * N], "heldout_b": f[2 * N:3 * N],
            "train": f[3 * N:]}


def test_bootstrap_contains_the_estimate_and_narrows_with_n(features):
    real, fake = features["reference"], features["heldout_a"]
    small = metrics.bootstrap_intervals(fake[:100], real[:100], rounds=100)
    large = metrics.bootstrap_intervals(fake, real, rounds=100)
    point = metrics.metrics_from_features(fake, real)
    assert large["fid"] == pytest.approx(point["fid"], rel=1e-6)  # the same FID
    for name in metrics.uncertainty.BOOTSTRAP_METRICS:
        assert large[f"{name}_lo"] <= large[name] <= large[f"{name}_hi"], name
    for name in ("fid", "kid", "density"):  # the others sit near 1 here, clipped at it
        width = {k: d[f"{name}_hi"] - d[f"{name}_lo"] for k, d in (("s", small), ("l", large))}
        assert width["l"] < width["s"], name
    assert large["kid_lo"] <= point["kid"] <= large["kid_hi"]  # torch-fidelity's subset KID
    for name in ("precision", "recall"):
        assert large[name] == pytest.approx(point[name], abs=1e-6)
    again = metrics.bootstrap_intervals(fake, real, rounds=100)
    assert again == large  # deterministic for a seed


def test_heldout_images_score_inside_the_floor_and_are_not_flagged(features):
    real, train = features["reference"], features["train"]
    floor = metrics.bootstrap_intervals(features["heldout_a"], real, ("fid", "kid"), rounds=100)
    other = metrics.metrics_from_features(features["heldout_b"], real)
    assert floor["fid_lo"] <= other["fid"] <= floor["fid_hi"]
    assert floor["kid_lo"] <= other["kid"] <= floor["kid_hi"]
    copies = metrics.copy_detection(features["heldout_b"], real, train)
    assert not copies.copying
    assert copies.heldout_fraction >= 0.01  # more where held-out images repeat training ones
    assert copies.copy_fraction < copies.heldout_fraction + 0.03
    assert not metrics.collapse_check(features["heldout_b"], real)["collapsed"]


def test_training_images_are_flagged_as_copies(sprites, features):
    real, train = features["reference"], features["train"]
    copies = metrics.copy_detection(train[:N], real, train)
    assert copies.copying and copies.copy_fraction == 1.0 and copies.copy_z > 10
    assert copies.meehan_z < -3  # closer to the training set than new real images
    assert copies.sample_distances.max() < 1e-4  # exactly measured, not cdist's ~1e-3
    images = sprites[0].images  # the gallery shows the original (or a sprite identical to it)
    assert torch.equal(images[copies.nearest[:, 0]], images[:N])
    assert copies.nearest.shape == (N, 3) and copies.sample_distances.shape == (N,)
    assert set(copies.summary()) >= {"copy_fraction", "copying", "copy_threshold"}
    # FID cannot see it: the copies score at the held-out floor
    fid = metrics.metrics_from_features(train[:N], real)["fid"]
    floor = metrics.metrics_from_features(features["heldout_a"], real)["fid"]
    assert fid < 3 * floor + 1


def test_a_model_of_one_tight_class_is_not_taken_for_a_copier():
    # Ten classes whose images lie ever further apart (MNIST's ones are the tight class):
    # new images of the tightest class alone are nearer a training image than 99% of
    # held-out images far more often than 1%, yet copy nothing. Within k-means cells
    # (Meehan et al.'s C_T) they are as far as new real images are; copies are not.
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(10, 8, generator=g) * 50
    spreads = 0.1 * 1.5 ** torch.arange(10.0)

    def draw(per_class: int, classes=range(10)) -> torch.Tensor:
        return torch.cat([centres[k] + spreads[k] * torch.randn(per_class, 8, generator=g)
                          for k in classes])

    train, heldout, tight = draw(300), draw(60), draw(300, [0])
    report = metrics.copy_detection(tight, heldout, train)
    assert report.copy_z > 3 and report.copy_fraction > 5 * report.heldout_fraction
    assert report.meehan_z > -3 and not report.copying
    copied = metrics.copy_detection(train[:300], heldout, train)
    assert copied.copying and copied.meehan_z < -3


def test_one_repeated_image_is_flagged_as_collapsed(features):
    real = features["reference"]
    repeated = features["heldout_a"][:1].expand(N, -1)
    check = metrics.collapse_check(repeated, real)
    assert check["collapsed"] and check["duplicate_fraction"] == 1.0
    assert check["collapse_coverage"] < 0.05
    scores = metrics.density_coverage(repeated, real)
    assert scores["coverage"] == pytest.approx(check["collapse_coverage"])


def test_calibration_sets_and_their_rows(sprites, space):
    train, test = sprites
    M = 250  # sprites have 3 shapes: 279 held-out images of one shape outside the reference
    reference = metrics.real_features(test.images[:N], space)
    sets = metrics.calibration_sets(test.images, train.images, M, test.labels, reference_size=N)
    again = metrics.calibration_sets(test.images, train.images, M, test.labels, reference_size=N)
    assert all(torch.equal(sets[k], again[k]) for k in sets)  # deterministic for a seed
    assert all(x.dtype == torch.uint8 and x.shape == (M, *test.image_shape)
               for x in sets.values())
    labels_of: dict[bytes, set[int]] = {}  # tiny sprites of two shapes can render alike
    for x, y in zip(test.images[N:], test.labels[N:], strict=True):
        labels_of.setdefault(bytes(x.flatten().tolist()), set()).add(int(y))
    assert all(bytes(x.flatten().tolist()) in labels_of for x in sets[HELDOUT])  # not reference
    classes = torch.unique(test.labels).tolist()
    kept = set(classes[:len(classes) // 2])
    assert all(labels_of[bytes(x.flatten().tolist())] & kept for x in sets[HALF_CLASSES])
    features = {name: metrics.extract_features(x, space) for name, x in sets.items()}
    table = {name: {**metrics.metrics_from_features(f, reference),
                    **metrics.density_coverage(f, reference)} for name, f in features.items()}
    blur = [table[f"blur σ={s:g}"]["fid"] for s in BLUR_SIGMAS]
    noise = [table[f"noise σ={s:g}"]["fid"] for s in NOISE_SIGMAS]
    assert blur == sorted(blur) and noise == sorted(noise), (blur, noise)
    # (the slightest disturbances sit within the floor's noise of a 16-step classifier)
    assert table[HELDOUT]["fid"] < min(blur[-1], noise[-1])
    assert table[HALF_CLASSES]["fid"] > table[HELDOUT]["fid"]  # (16 steps: shapes barely told
    # apart, so recall and coverage need a real classifier: measured on MNIST instead)
    assert {"density", "coverage", "kid", "precision"} <= set(table[HELDOUT])


def test_calibration_says_when_the_held_out_split_is_too_small(sprites):
    train, test = sprites
    with pytest.raises(ValueError, match="lower fid_samples"):
        metrics.calibration_sets(test.images, train.images, len(test) // 2 + 1)


def brute_force(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """Naeem et al.'s density and coverage, term by term."""
    def radius(i):
        others = [np.linalg.norm(real[i] - real[j]) for j in range(len(real)) if j != i]
        return np.sort(others)[k - 1]

    radii = [radius(i) for i in range(len(real))]
    inside = [[np.linalg.norm(y - real[i]) <= radii[i] for i in range(len(real))] for y in fake]
    density = sum(map(sum, inside)) / (k * len(fake))
    coverage = np.mean([any(row[i] for row in inside) for i in range(len(real))])
    return density, coverage


def test_density_and_coverage_equal_the_definition_and_prdc():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(60, 8, generator=g), 0.8 * torch.randn(45, 8, generator=g) + 0.3
    scores = metrics.density_coverage(fake, real)
    density, coverage = brute_force(real.double().numpy(), fake.double().numpy(), 5)
    assert scores["density"] == pytest.approx(density, abs=1e-9)
    assert scores["coverage"] == pytest.approx(coverage, abs=1e-9)
    theirs = prdc.compute_prdc(real.numpy(), fake.numpy(), nearest_k=5)
    assert scores["density"] == pytest.approx(theirs["density"], abs=1e-9)
    assert scores["coverage"] == pytest.approx(theirs["coverage"], abs=1e-9)
    collapsed = metrics.density_coverage(real[:1].expand(45, -1), real)
    assert collapsed["coverage"] <= 6 / 60  # one point lies in few balls: its own and near ones
    with pytest.raises(ValueError, match="more than 5 real"):
        metrics.density_coverage(fake, real[:5])


def test_seed_spread_and_rank_agreement():
    spread = metrics.mean_std([1.0, 2.0, 3.0])
    assert spread == {"mean": 2.0, "std": 1.0, "n": 3}  # ddof=1
    assert metrics.mean_std([4.0])["std"] is None
    a = {"vae": 10.0, "gan": 5.0, "diffusion": 2.0, "ae": 20.0}
    assert metrics.rank_agreement(a, {k: v * 3 + 1 for k, v in a.items()}) == pytest.approx(1)
    assert metrics.rank_agreement(a, {k: -v for k, v in a.items()}) == pytest.approx(-1)
    with pytest.raises(ValueError, match="at least 2"):
        metrics.rank_agreement(a, {"vae": 1.0, "other": 2.0})
    with pytest.raises(ValueError, match="no bootstrap"):
        metrics.bootstrap_intervals(torch.zeros(10, 2), torch.zeros(10, 2), ("fd",))
