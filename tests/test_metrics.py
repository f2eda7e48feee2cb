"""Metrics against independent computations: FID, KID and precision/recall by numpy/scipy,
SSIM by scikit-image, reconstruction formulas; the Inception path offline; the classifier
cache. Likelihoods: test_likelihood.py."""

from __future__ import annotations

import math
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from genbench import metrics, models
from genbench.datasets import to_float, to_uint8
from genbench.io import CorruptFileError
from genbench.metrics import classifier as classifier_module
from genbench.metrics.features import CLASSIFIER_EXTRACTOR, FeatureSpace, FidelityError

FAST = metrics.ClassifierSettings(epochs=6, batch_size=64)


@pytest.fixture(scope="session")
def classifier_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clf")


@pytest.fixture(scope="session")
def space(sprites, classifier_dir) -> FeatureSpace:
    train, test = sprites
    path, accuracy = metrics.load_or_train(classifier_dir, train, test, FAST)
    return FeatureSpace("classifier", path, accuracy)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """FID from its definition, independently of torch-fidelity."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def noisy(images: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = to_float(images)
    return to_uint8(x + sigma * torch.randn(x.shape, generator=g))


def kid(a: np.ndarray, b: np.ndarray, subset: int, subsets: int = 100,
        seed: int = 2020) -> tuple[float, float]:
    """Unbiased MMD^2 with the cubic polynomial kernel (Binkowski et al., 2018), mean and std
    over random subsets drawn as torch-fidelity draws them (its default seed)."""
    def kernel(x, y):
        return (x @ y.T / x.shape[1] + 1) ** 3

    def mmd(x, y):
        m = len(x)
        within = [(k.sum() - np.trace(k)) / (m * (m - 1)) for k in (kernel(x, x), kernel(y, y))]
        return sum(within) - 2 * kernel(x, y).mean()

    rng = np.random.RandomState(seed)
    mmds = [mmd(a[rng.choice(len(a), subset, replace=False)],
                b[rng.choice(len(b), subset, replace=False)]) for _ in range(subsets)]
    return float(np.mean(mmds)), float(np.std(mmds))


def precision_recall(fake: np.ndarray, real: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Kynkaanniemi et al. (2019): a sample is covered when it lies within the distance of
    some point of the other set to that point's k-th nearest neighbour in its own set."""
    def distances(x, y):
        return np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))

    def covered(points, others):
        radius = np.sort(distances(others, others), axis=1)[:, k]  # column 0 is the point
        return (distances(points, others) <= radius[None, :]).any(1).mean()

    return float(covered(fake, real)), float(covered(real, fake))


@pytest.fixture(scope="module")
def fidelity_pair(sprites, space):
    """Metrics of noisy sprites against clean ones, and the features they were computed on."""
    _, test = sprites
    real, fake = test.images[:500], noisy(test.images[500:1000], 0.05)
    features = [metrics.extract_features(x, space).double().numpy() for x in (fake, real)]
    return metrics.fidelity_metrics(fake, real, space), features


def test_fid_kid_precision_recall_match_independent_computations(fidelity_pair):
    ours, (fake, real) = fidelity_pair
    assert ours["fid"] == pytest.approx(frechet(fake, real), rel=1e-6)
    assert ours["kid_subset"] == 250  # half the samples: subsets differ, the std is real
    mean, std = kid(fake, real, ours["kid_subset"])
    assert (ours["kid"], ours["kid_std"]) == pytest.approx((mean, std), rel=1e-6) and std > 0
    precision, recall = precision_recall(fake, real)
    assert 0 < precision < 1 and 0 < recall < 1  # neither trivially 0 nor 1
    assert (ours["precision"], ours["recall"]) == pytest.approx((precision, recall), rel=1e-6)


def test_fid_of_a_set_against_itself_is_zero(sprites, space):
    _, test = sprites
    result = metrics.fidelity_metrics(test.images[:500], test.images[:500], space)
    assert abs(result["fid"]) < 1e-3
    assert result["precision"] == pytest.approx(1.0) and result["recall"] == pytest.approx(1.0)


def test_fid_grows_with_noise(sprites, space, tmp_path):
    _, test = sprites
    real = test.images[:500]
    fids = [metrics.fidelity_metrics(noisy(test.images[500:1000], s), real, space,
                                     real_cache_name="sprites-test", cache_root=tmp_path)["fid"]
            for s in (0.0, 0.03, 0.08)]
    assert fids[0] < fids[1] < fids[2], fids
    assert list(tmp_path.glob("genbench-sprites-test-*")), "real features were not cached"


def test_damaged_real_feature_cache_is_recomputed(sprites, space, tmp_path):
    _, test = sprites
    args = (test.images[500:700], test.images[:200], space, "sprites-cut", tmp_path)
    first = metrics.fidelity_metrics(*args)
    for path in tmp_path.glob("genbench-sprites-cut-*"):
        path.write_bytes(path.read_bytes()[:20])
    assert metrics.fidelity_metrics(*args)["fid"] == pytest.approx(first["fid"])


@pytest.fixture(scope="session")
def random_inception_weights(tmp_path_factory) -> str:
    """Inception-v3 with random weights in torch-fidelity's own format, saved to a file."""
    import torch_fidelity.feature_extractor_inceptionv3 as inception

    patch = pytest.MonkeyPatch()
    patch.setattr(inception, "load_state_dict_from_url", lambda *a, **k: {})
    patch.setattr(inception.FeatureExtractorInceptionV3, "load_state_dict",
                  lambda self, state, strict=True: None)
    net = inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    patch.undo()
    path = tmp_path_factory.mktemp("inception") / "weights.pth"
    torch.save(net.state_dict(), path)
    return str(path)


def test_inception_path_offline_with_local_weights(sprites, random_inception_weights,
                                                   monkeypatch):
    _, test = sprites
    monkeypatch.setenv("GENBENCH_FID_WEIGHTS", random_inception_weights)
    space = metrics.inception_space()  # from the environment, as --fid-weights would give
    assert space.extractor == "inception"
    result = metrics.fidelity_metrics(noisy(test.images[:16], 0.2), test.images[16:32], space)
    assert math.isfinite(result["fid"]) and result["fid"] > 0
    features = metrics.extract_features(test.images[:4], space)
    assert features.shape == (4, 2048)


def test_inception_errors_are_clear(tmp_path, monkeypatch):
    monkeypatch.delenv("GENBENCH_FID_WEIGHTS", raising=False)
    with pytest.raises(FidelityError, match="does not exist"):
        metrics.inception_space(tmp_path / "missing.pth")
    (tmp_path / "cut.pth").write_bytes(b"\x80\x02garbage")
    with pytest.raises(CorruptFileError, match="cut.pth"):
        metrics.inception_space(tmp_path / "cut.pth")
    import torch_fidelity.feature_extractor_inceptionv3 as inception

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(inception, "load_state_dict_from_url", offline)
    images = torch.zeros(4, 1, 28, 28, dtype=torch.uint8)
    with pytest.raises(FidelityError, match="--fid-weights"):
        metrics.fidelity_metrics(images, images, metrics.inception_space())


def test_classifier_cache_is_reused(sprites, classifier_dir, space, monkeypatch):
    train, test = sprites
    path, accuracy = space.weights, space.classifier_accuracy
    assert accuracy > 0.5  # three shapes: well above chance after a short training

    def no_training(*args, **kwargs):
        raise AssertionError("the cached classifier was retrained")

    monkeypatch.setattr(classifier_module, "train_classifier", no_training)
    assert metrics.load_or_train(classifier_dir, train, test, FAST) == (path, accuracy)


def test_a_moved_classifier_extractor_leaves_later_ones_where_they_run(sprites, space):
    # torch-fidelity moves its extractor to the GPU in place (.cuda()) for a CUDA evaluation;
    # a later CPU extraction must not find the classifier there. "meta" stands in for CUDA.
    from torch_fidelity.utils import create_feature_extractor

    first = create_feature_extractor(CLASSIFIER_EXTRACTOR, ["features"], cuda=False,
                                     feature_extractor_weights_path=str(space.weights),
                                     verbose=False)
    first.to("meta")
    features = metrics.extract_features(sprites[1].images[:8], space)
    assert features.device.type == "cpu" and torch.isfinite(features).all()


def test_conditional_accuracy_on_real_images_is_the_test_accuracy(sprites, space):
    _, test = sprites
    net = metrics.load_classifier(space.weights)
    assert metrics.conditional_accuracy(net, test.images, test.labels) == pytest.approx(
        space.classifier_accuracy)


def test_reconstruction_errors_match_their_formulas():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 1, 16, 16, generator=g)
    r = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    out = metrics.reconstruction_errors(x, r)
    per_image = ((x - r) ** 2).flatten(1).mean(1)
    assert out["mse"] == pytest.approx(float(per_image.mean()), rel=1e-5)
    assert out["psnr"] == pytest.approx(float((10 * torch.log10(1 / per_image)).mean()), rel=1e-4)
    bce = -(x * torch.log(r.clamp(1e-6, 1 - 1e-6)) + (1 - x) * torch.log(
        (1 - r).clamp(1e-6, 1 - 1e-6)))
    assert out["bce"] == pytest.approx(float(bce.flatten(1).sum(1).mean()), rel=1e-4)
    same = metrics.reconstruction_errors(x, x)
    assert same["ssim"] == pytest.approx(1.0, abs=1e-4) and out["ssim"] < 1


@pytest.mark.parametrize("shape", [(16, 1, 28, 28), (4, 3, 32, 32)])
def test_ssim_equals_scikit_image(shape):
    from skimage.metrics import structural_similarity

    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.avg_pool2d(torch.rand(shape, generator=g), 3, 1, 1)  # some structure
    r = (x + 0.1 * torch.randn(shape, generator=g)).clamp(0, 1)
    theirs = np.mean([structural_similarity(
        a.double().numpy(), b.double().numpy(), channel_axis=0, gaussian_weights=True,
        sigma=1.5, use_sample_covariance=False, data_range=1.0) for a, b in zip(r, x, strict=True)])
    assert metrics.reconstruction_errors(x, r)["ssim"] == pytest.approx(theirs, abs=1e-4)


def test_generate_returns_uint8_images_and_a_rate(sprites):
    train, _ = sprites
    model = models.create("cvae", train.image_shape, train.num_classes).eval()
    images, rate = metrics.generate(model, 10, batch_size=4)
    assert images.shape == (10, *train.image_shape) and images.dtype == torch.uint8
    assert rate > 0 and metrics.parameter_count(model) > 0


def test_step_memory_on_cpu_differs_between_models_and_leaves_the_model_alone(sprites):
    train, _ = sprites
    cpu = torch.device("cpu")

    def memory(model):
        before = {k: v.clone() for k, v in model.state_dict().items()}
        state = torch.get_rng_state()
        measured = metrics.timing.step_memory(cpu, model, train, 32)
        assert torch.equal(torch.get_rng_state(), state)  # the run's random stream is untouched
        after = model.state_dict()
        assert all(torch.equal(before[k], after[k]) for k in before)  # weights, buffers
        assert all(p.grad is None for p in model.parameters())
        return measured

    small = memory(models.create("vae", train.image_shape, train.num_classes, latent_dim=2))
    large = memory(models.create("gan", train.image_shape, train.num_classes, width=8))
    assert small["peak_memory_measure"] == "CPU, live tensors in a training step"
    # An MLP VAE's weights alone (x3 with Adam's two moments, +1 for gradients) set a floor.
    weights = metrics.parameter_count(models.create("vae", train.image_shape, latent_dim=2))
    assert small["peak_memory_mb"] > 4 * weights * 4 / 2**20
    assert large["peak_memory_mb"] != small["peak_memory_mb"]
