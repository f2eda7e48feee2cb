"""The judge through the pipeline and in the report: intervals, density/coverage, the copy and
collapse flags, the self-supervised space with the rank agreement, the calibration table with
the training-copy row flagged. One tiny suite on generated sprites, shared by the module."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import TINY_SETTINGS

from genbench.benchmarks import store
from genbench.benchmarks.score import score
from genbench.cli import main
from genbench.judge import Judge, inputs_for, inputs_key
from genbench.metrics import calibration_sets
from genbench.settings import load_suite

SUITE = """
name = "judged"
models = ["ae", "vae"]
datasets = ["sprites"]
seeds = [0]
""" + TINY_SETTINGS
N = 200  # fid_samples of TINY_SETTINGS


@pytest.fixture(scope="module")
def judged(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("judged")
    suite = tmp / "judged.toml"
    suite.write_text(SUITE.format(device="cpu"))
    assert main(["benchmark", "--suite", str(suite), "--out", str(tmp / "out"), "--quiet"]) == 0
    return suite, tmp / "out"


@pytest.fixture(scope="module")
def inputs(judged):
    return inputs_for(load_suite(judged[0]).runs()[0])


def judge_samples(images: torch.Tensor, inputs, batch_size: int):
    return Judge(inputs, batch_size).judge(images)


def test_every_run_has_intervals_density_copies_and_the_second_space(judged):
    _, out = judged
    for run in ("ae-sprites-s0", "vae-sprites-s0"):
        m = json.loads((store.run_dir(out, run) / store.METRICS).read_text())
        for key in ("fid", "kid", "precision", "recall", "density", "coverage",
                    "fid_selfsupervised", "kid_selfsupervised"):
            assert m[f"{key}_lo"] <= m[key] <= m[f"{key}_hi"], (run, key)
        assert m["bootstrap_rounds"] == 100 and m["copy_candidates"] == 512
        assert not m["copying"] and m["copy_fraction"] < 0.05
        assert {"collapsed", "duplicate_fraction", "copy_threshold"} <= set(m)
        visuals = torch.load(store.run_dir(out, run) / store.VISUALS, weights_only=False)
        assert visuals["gallery"].shape == (8, 4, 1, 28, 28)
        assert visuals["gallery"].dtype == torch.uint8
        assert visuals["copy_distances"].shape == (N,)
        # the gallery's sample column holds the samples nearest to a training image
        nearest = visuals["copy_distances"].sort().values[:8]
        assert torch.equal(visuals["copy_distances"][visuals["copy_gallery_index"]], nearest)


def test_calibration_holds_the_judge_and_its_rows_in_both_spaces(judged):
    _, out = judged
    reference = json.loads((out / store.CALIBRATION).read_text())
    assert [j["fid_extractor"] for j in reference["judges"]] == ["classifier"]
    assert not (out / store.OLD_REFERENCE).exists()
    entries = {e["fid_extractor"]: e for e in reference["calibration"]}
    assert set(entries) == {"classifier", "selfsupervised", "wavelet"}
    rows = {r["set"]: r for r in entries["classifier"]["rows"]}
    assert list(rows) == ["held-out", "blur σ=0.5", "blur σ=1", "blur σ=2", "noise σ=0.05",
                          "noise σ=0.15", "noise σ=0.3", "half the classes", "training images"]
    assert rows["training images"]["copying"] and rows["training images"]["copy_fraction"] == 1
    assert not any(r["copying"] for name, r in rows.items() if name != "training images")
    noise = [rows[f"noise σ={s}"]["fid"] for s in ("0.05", "0.15", "0.3")]
    assert noise == sorted(noise)
    assert all(r["fid_samples"] == N for r in entries.values())


def test_report_shows_intervals_calibration_copies_and_rank_agreement(judged):
    _, out = judged
    text = (out / "report.md").read_text()
    for heading in ("### Sample quality [classifier, n=200]", "### Calibration [classifier, "
                    "n=200]", "### Sample quality [selfsupervised, n=200]",
                    "### Calibration [selfsupervised, n=200]"):
        assert heading in text, heading
    samples = text[text.index("### Sample quality [classifier"):text.index("### Calibration")]
    header = next(line for line in samples.splitlines() if line.startswith("| model"))
    assert all(c in header for c in ("FID [classifier, n=200]", "density", "coverage",
                                     "copies"))
    vae = next(line for line in samples.splitlines() if line.startswith("| vae"))
    assert vae.count("[") >= 6  # an interval on FID, KID, precision, recall, density, coverage
    assert "(copying)" not in samples
    calibration = text[text.index("### Calibration [classifier"):
                       text.index("### Sample quality [selfsupervised")]
    rows = {line.split("|")[1].strip(): line for line in calibration.splitlines()
            if line.startswith("| ")}
    assert "(copying)" in rows["training images (copying)"].split("|")[-2]
    assert "(copying)" not in rows["held-out (the floor)"]
    assert "Kendall's τ" in text
    for figure in ("memorization", "gallery", "calibration-classifier"):
        assert (out / "figures" / f"sprites-{figure}.png").stat().st_size > 0, figure
    long = pd.read_csv(out / "results-long.csv")
    assert set(long.loc[long["metric"] == "fid_selfsupervised", "extractor"]) == \
        {"selfsupervised"}
    assert set(long.loc[long["metric"] == "density", "extractor"]) == {"classifier"}


def test_sample_quality_flags_copies_and_collapse_and_passes_held_out_images(inputs):
    copies = judge_samples(inputs.train.images[:N], inputs, 100).metrics
    assert copies["copying"] and copies["copy_fraction"] == 1.0
    assert copies["fid"] <= copies["fid_hi"]  # FID cannot see it: only the copy test does
    one_image = inputs.test.images[N + 7:N + 8].expand(N, -1, -1, -1)
    repeated = judge_samples(one_image, inputs, 100).metrics
    assert repeated["collapsed"] and repeated["duplicate_fraction"] == 1.0
    assert repeated["coverage"] < 0.05
    held_out = judge_samples(inputs.test.images[N:2 * N], inputs, 100).metrics
    assert not held_out["copying"] and not held_out["collapsed"]
    assert held_out["coverage"] > repeated["coverage"] + 0.5


def test_shared_cache_files_suffice_for_a_worker(judged, tmp_path, monkeypatch):
    """A worker holding only the shipped cache files judges samples without training or
    extracting anything again (the encoder and every real feature come with it)."""
    from genbench.benchmarks.runner import prepare_shared

    run = load_suite(judged[0]).runs()[0]
    shared = prepare_shared([run])
    names = set(shared.files)
    assert any(n.startswith("encoders/") for n in names)
    worker = tmp_path / "worker-cache"
    for name, path in shared.files.items():
        (worker / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, worker / name)
    monkeypatch.setenv("GENBENCH_CACHE", str(worker))
    splits = shared.splits[inputs_key(run)]
    worker_inputs = inputs_for(run, splits)
    judge_samples(splits[1].images[N:2 * N], worker_inputs, 100)
    assert {str(p.relative_to(worker)) for p in worker.rglob("*") if p.is_file()} == names


def test_the_same_samples_give_the_same_numbers_on_every_path(judged, inputs, tmp_path):
    """A quality-curve point, a calibration row, final evaluation and `genbench score` all
    measure through the one judge: the same images get the same numbers."""
    suite, out = judged
    run = load_suite(suite).runs()[0]
    judge = Judge(inputs, run.eval.batch_size, run.eval.bootstrap_rounds)
    images = inputs.test.images[N:2 * N]
    final = judge.judge(images).metrics
    point = judge.curve_point(images)
    rows = judge.real_rows(images)
    row, second = rows["classifier"], rows["selfsupervised"]
    shutil.copyfile(out / store.SUITE, tmp_path / store.SUITE)  # the suite's settings
    scored = score(images, "sprites", tmp_path, name="same")
    for key in ("fid", "fid_lo", "fid_hi"):
        assert point[key] == final[key] == row[key] == scored[key], key
    # A curve point's KID is the bootstrap's whole-set unbiased MMD² (float64), the others'
    # torch-fidelity's mean over subsets (float32): at n below the subset size both are the
    # whole set's, apart by float32's cancellation only.
    assert point["kid"] == pytest.approx(final["kid"], abs=1e-6)
    for key in ("kid", "precision", "recall", "density", "coverage", "copy_fraction",
                "kid_hi"):
        assert final[key] == row[key] == scored[key], key
    assert second["fid"] == final["fid_selfsupervised"] == scored["fid_selfsupervised"]
    # The suite's calibration rows are the judge's numbers for its held-out set.
    test = inputs.test
    sets = calibration_sets(test.images, inputs.copy_candidates, N, test.labels,
                            reference_size=N, seed=0)
    calibration = json.loads((out / store.CALIBRATION).read_text())["calibration"]
    stored = next(r for e in calibration if e["fid_extractor"] == "classifier"
                  for r in e["rows"] if r["set"] == "held-out")
    again = judge.real_rows(sets["held-out"])["classifier"]
    assert stored["fid"] == pytest.approx(again["fid"], rel=1e-9)
    assert stored["coverage"] == pytest.approx(again["coverage"], rel=1e-9)
