"""The self-supervised feature space: NT-Xent, training on a step budget, the cache, and FD in
it ranking disturbed sprites by strength."""

from __future__ import annotations

import pytest
import torch

from genbench import metrics
from genbench.metrics import selfsupervised
from genbench.metrics.calibration import BLUR_SIGMAS, HELDOUT, NOISE_SIGMAS

TINY = metrics.SelfSupervisedSettings(steps=40, batch_size=64, max_train=1024)
N = 300


@pytest.fixture(scope="module")
def space(sprites, tmp_path_factory) -> metrics.SelfSupervisedSpace:
    return metrics.selfsupervised_space(tmp_path_factory.mktemp("ssl"), sprites[0], TINY)


def test_nt_xent_prefers_matching_views():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(16, 8, generator=g)
    matched = selfsupervised.nt_xent(torch.cat([z, z + 0.01 * torch.randn(16, 8, generator=g)]),
                                     0.5)
    unmatched = selfsupervised.nt_xent(torch.randn(32, 8, generator=g), 0.5)
    assert matched < unmatched
    assert matched > 0  # the other images still take some probability


def test_views_are_random_warps_in_range(sprites):
    x = sprites[1].images[:8].float() / 255
    a, b = (selfsupervised.views(x, torch.Generator().manual_seed(s)) for s in (0, 1))
    assert a.shape == x.shape and 0 <= a.min() and a.max() <= 1
    assert not torch.allclose(a, b) and not torch.allclose(a, x)


def test_the_encoder_is_cached_and_is_a_feature_space(sprites, space, monkeypatch, tmp_path):
    train, test = sprites
    cache = space.weights.parent.parent
    monkeypatch.setattr(selfsupervised, "train_encoder", lambda *a: pytest.fail("retrained"))
    assert metrics.selfsupervised_space(cache, train, TINY) == space  # loaded, not retrained
    other = metrics.SelfSupervisedSettings(steps=41, batch_size=64, max_train=1024)
    assert selfsupervised.encoder_path(cache, train, other) != space.weights  # own key
    features = metrics.real_features(test.images[:50], space, "sprites-test", tmp_path)
    assert features.shape == (50, selfsupervised.FEATURES)
    assert torch.equal(metrics.real_features(test.images[:50], space, "sprites-test", tmp_path),
                       features)
    assert space.fingerprint.startswith("selfsupervised-")


def test_training_changes_the_encoder_deterministically(sprites):
    train = sprites[0]
    settings = metrics.SelfSupervisedSettings(steps=3, batch_size=32, max_train=256)
    a, b = (selfsupervised.train_encoder(train, settings) for _ in range(2))
    untrained = selfsupervised.Encoder(1)
    x = train.images[:20]
    with torch.no_grad():
        assert torch.equal(a(x), b(x))
        assert not torch.allclose(a(x), untrained.eval()(x))
    assert selfsupervised.training_flops(1, (28, 28), settings) > 0


def test_fd_in_the_space_rises_with_blur_and_noise(sprites, space):
    train, test = sprites
    reference = metrics.real_features(test.images[:N], space)
    sets = metrics.calibration_sets(test.images, train.images, N, reference_size=N)
    table = {name: metrics.metrics_from_features(metrics.extract_features(x, space), reference)
             for name, x in sets.items()}
    blur = [table[f"blur σ={s:g}"]["fid"] for s in BLUR_SIGMAS]
    noise = [table[f"noise σ={s:g}"]["fid"] for s in NOISE_SIGMAS]
    assert blur == sorted(blur) and noise == sorted(noise), (blur, noise)
    assert table[HELDOUT]["fid"] < min(blur[0], noise[0])
