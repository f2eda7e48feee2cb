"""The Fréchet Wavelet Distance (metrics/wavelet.py): zero against itself, pytorchfwd's own
numbers, rising with blur and noise on real MNIST, and in the judge's metrics, calibration rows
and calibration table."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pandas as pd
import pytest
import torch
from conftest import load_or_skip

from genbench.judge import Judge
from genbench.judge.inputs import RunInputs
from genbench.metrics import (
    FeatureSpace,
    WaveletUnavailable,
    frechet_wavelet_distance,
    fwd,
    packet_level,
    packet_statistics,
)
from genbench.metrics import wavelet as wavelet_module
from genbench.metrics.calibration import blur, noise
from genbench.metrics.classifier import ClassifierSettings, load_or_train
from genbench.reports.calibration import calibration_table


def random_images(n: int, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *shape), generator=generator, dtype=torch.uint8)


def test_the_level_keeps_packets_at_least_4_px_and_at_most_the_papers_4():
    assert [packet_level(s, s) for s in (8, 16, 28, 32, 64, 256)] == [1, 2, 2, 3, 4, 4]
    stats = packet_statistics(random_images(10, (1, 28, 28), 0))
    assert stats.level == 2 and stats.mean.shape == (16, 49) and stats.cov.shape == (16, 49, 49)
    assert stats.cov.dtype == torch.float64


def test_a_set_against_itself_is_zero_and_another_is_not():
    images = random_images(200, (1, 28, 28), 0)
    stats = packet_statistics(images)
    assert abs(fwd(stats, stats)) < 1e-6
    assert frechet_wavelet_distance(images, random_images(200, (1, 28, 28), 1)) > 0.01


def test_batches_give_the_statistics_of_the_whole_set(monkeypatch):
    images = random_images(50, (3, 16, 16), 2)
    whole = packet_statistics(images)
    monkeypatch.setattr(wavelet_module, "BATCH_VALUES", 7 * 3 * 16 * 16)  # batches of 7
    batched = packet_statistics(images)
    assert torch.allclose(whole.mean, batched.mean, atol=1e-12)
    assert torch.allclose(whole.cov, batched.cov, atol=1e-12)


# pytorchfwd's own path (fwd.py's compute_packet_statistics and _compute_avg_frechet_distance)
# in a process of its own: importing fwd.py makes float64 torch's default dtype.
REFERENCE = """
import sys, warnings, contextlib, io
import torch
warnings.simplefilter("ignore")
import pytorchfwd.fwd as F
def stats(u8, level):
    x = u8.to(torch.float64) / 255  # ToTensor's scaling under fwd.py's float64 default
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=16)
    return F.compute_packet_statistics(loader, "haar", level, False)
for fake, real, level in torch.load(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        (m1, s1), (m2, s2) = stats(fake, level), stats(real, level)
        value = F._compute_avg_frechet_distance(m1, m2, s1, s2)
    print(repr(float(value)))
"""


def test_equals_pytorchfwd_on_the_same_tensors(tmp_path):
    pytest.importorskip("pytorchfwd.freq_math")
    cases = []
    for seed, shape in enumerate([(1, 28, 28), (3, 32, 32)]):
        fake, real = random_images(60, shape, seed), random_images(70, shape, seed + 10)
        fake[:, :, :4] = 0  # constant coefficients: singular covariances, as on MNIST
        cases.append((fake, real, packet_level(*shape[1:])))
    torch.save(cases, tmp_path / "sets.pt")
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(REFERENCE),
                           str(tmp_path / "sets.pt")], capture_output=True, text=True,
                          check=True, timeout=120)
    expected = [float(line) for line in done.stdout.split()]
    assert len(expected) == len(cases)
    for (fake, real, _), value in zip(cases, expected, strict=True):
        assert frechet_wavelet_distance(fake, real) == pytest.approx(value, rel=1e-9)
    assert torch.get_default_dtype() == torch.float32  # fwd.py never imported here


def test_rises_with_blur_and_noise_on_mnist():
    test = load_or_skip("mnist", "test")
    # the reference and the held-out set from the same writers (MNIST's test split's first
    # 5,000 images): the floor is sampling noise only
    reference, held_out = test.images[:300], test.images[300:600]
    real = packet_statistics(reference)
    score = lambda images: fwd(packet_statistics(images), real)  # noqa: E731
    generator = torch.Generator().manual_seed(0)
    floor = score(held_out)
    blurred = [score(blur(held_out, s)) for s in (1.0, 2.0)]
    noised = [score(noise(held_out, s, generator)) for s in (0.15, 0.3)]
    assert floor < blurred[0] < blurred[1]
    assert floor < noised[0] < noised[1]
    assert blurred[0] > 2 * floor and noised[0] > 2 * floor


def test_without_pytorchfwd_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pytorchfwd", None)
    with pytest.raises(WaveletUnavailable, match="make setup"):
        packet_statistics(random_images(4, (1, 8, 8), 0))


@pytest.fixture(scope="module")
def judge(sprites, tmp_path_factory) -> Judge:
    """A judge on sprites with a classifier trained for a few steps (its features do not
    matter here) and no second space."""
    train, test = sprites
    cache = tmp_path_factory.mktemp("wavelet-judge")
    path, accuracy = load_or_train(cache, train, test,
                                   ClassifierSettings(epochs=1, max_steps=5, max_train=256))
    inputs = RunInputs("k", train, test, test, FeatureSpace("classifier", path, accuracy),
                       test.images[:100], None, cache, copy_train=256)
    return Judge(inputs, batch_size=100, bootstrap_rounds=10)


def test_the_judge_reports_fwd_and_a_wavelet_calibration_row(judge):
    images = judge.inputs.test.images[100:200]
    metrics = judge.judge(images).metrics
    assert metrics["fwd_level"] == 2 and metrics["fwd_wavelet"] == "haar"
    real = judge._wavelet_reference
    assert metrics["fwd"] == pytest.approx(frechet_wavelet_distance(images,
                                                                    judge.inputs.reference))
    rows = judge.real_rows(images)
    assert judge._wavelet_reference is real  # the reference's statistics: once per judge
    assert set(rows) == {"classifier", "wavelet"}
    assert rows["wavelet"] == {"fid": metrics["fwd"], "wavelet": "haar", "level": 2}
    assert not any(k.startswith("fwd") for k in rows["classifier"])
    assert rows["classifier"]["fid"] == metrics["fid"]


def test_the_calibration_table_shows_fwd_beside_the_runs_space():
    common = {"dataset": "mnist", "fid_samples": 200}
    sets = ("held-out", "blur σ=1", "training images")
    entries = [
        {**common, "fid_extractor": "classifier",
         "rows": [{"set": s, "fid": f, "kid": 0.01} for s, f in zip(sets, (1, 9, 1), strict=True)]},
        {**common, "fid_extractor": "selfsupervised",
         "rows": [{"set": s, "fid": 2.0, "kid": 0.02} for s in sets]},
        {**common, "fid_extractor": "wavelet",
         "rows": [{"set": s, "fid": f, "wavelet": "haar", "level": 2}
                  for s, f in zip(sets, (0.1, 0.6, 0.11), strict=True)]}]
    part = pd.DataFrame({"dataset": ["mnist"], "fid_extractor": ["classifier"]})
    table = calibration_table(entries, part, "classifier", 200)
    column = "FWD [wavelet, n=200]"
    assert list(table.values.columns) == ["FID [classifier, n=200]", "KID [classifier, n=200]",
                                          column]
    assert table.values[column].tolist() == [0.1, 0.6, 0.11]
    assert table.cells.loc["blur σ=1", column] == "0.600"
    assert "Fréchet Wavelet Distance" in table.caption and "16 packets" in table.caption
    second = calibration_table(entries, part, "selfsupervised", 200)
    assert column not in second.values and "Wavelet" not in second.caption
    alone = calibration_table(entries, part, "wavelet", 200)
    assert list(alone.values.columns) == [column]
