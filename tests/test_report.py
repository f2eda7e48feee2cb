"""The report: tables by question, the headline, quality curves, slides, files readable by
others, and report.html in a real browser. Run directories are written by hand (metrics.json,
quality.csv, visuals.pt as the job writes them), so no test here trains anything."""

from __future__ import annotations

import json
import os
import re
import stat
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from genbench.io import atomic_write_text, file_mode
from genbench.reports import write_report
from genbench.reports.budgets import ended_before
from genbench.reports.charts import latent_maps
from genbench.reports.quality import mean_curves, time_to_quality, values_at_budgets
from genbench.reports.runs import load_reference
from genbench.reports.style import theme

# model -> (family, final FID, MSE or None, NLL or None, sample ms per image, seconds budget)
MODELS = {
    "ae": ("ae", 14.0, 0.010, None, 0.02, 60),
    "vae": ("vae", 9.0, 0.012, 88.0, 0.03, 60),
    "vae-conv": ("vae", 11.0, 0.006, 84.5, 0.05, 120),
    "beta-vae": ("vae", 19.0, 0.020, 92.0, 0.05, 120),
    "cvae": ("vae", 5.5, 0.008, 86.0, 0.01, 60),
    "vqvae": ("vqvae", 12.0, 0.004, None, 4.00, 120),
    "gan": ("gan", 7.0, None, None, 0.04, 240),
    "diffusion": ("diffusion", 3.1, None, None, 30.0, 480),
}
SEEDS = (0, 1)
CLASSES = ["circle", "square", "heart"]


def curve(final: float, budget: float, seed: int) -> pd.DataFrame:
    seconds = [t for t in 5 * 2.0 ** np.arange(8) if t < budget] + [budget + 0.01]
    fid = [final + 300 * np.exp(-4 * t / budget) * (1 + 0.05 * seed) for t in seconds]
    return pd.DataFrame({"step": range(10, 10 * len(seconds) + 1, 10), "epoch": 0,
                         "images": [256 * 40 * t for t in seconds], "seconds": seconds,
                         "eval_seconds": 0.4, "n": 1000, "kid": [f / 1000 for f in fid],
                         "kid_std": 1e-4, "kid_subset": 500, "fid": fid,
                         "extractor": "classifier", "loss": 1.0})


def visuals(model: str, points: int, generator: torch.Generator) -> dict:
    def images(*shape):
        return torch.randint(0, 256, (*shape, 1, 28, 28), dtype=torch.uint8,
                             generator=generator)

    out = {"samples": images(64), "progress": images(points, 4),
           "progress_seconds": [5.0 * 2 ** i for i in range(points)]}
    if MODELS[model][2] is not None:
        out.update(originals=images(16), reconstructions=images(16), latent_dim=8,
                   latent_method="t-SNE", latent_points=torch.randn(90, 2, generator=generator),
                   latent_labels=torch.arange(90) % 3, latent_label_names=CLASSES,
                   latent_label_title="class")
    return out


def write_run(out: Path, model: str, seed: int, with_curve: bool = True) -> None:
    family, fid, mse, nll, ms, budget = MODELS[model]
    directory = out / "runs" / f"{model}-sprites-s{seed}"
    directory.mkdir(parents=True)
    jitter = 1 + 0.02 * seed
    metrics = {"run": directory.name, "model": model, "family": family, "dataset": "sprites",
               "seed": seed, "fid": fid * jitter, "kid": fid / 1000, "kid_std": 1e-4,
               "kid_subset": 1000, "precision": 0.6, "recall": 0.5, "fid_extractor":
               "classifier", "fid_samples": 2000, "fid_reference": 2000,
               "classifier_accuracy": 0.991, "params": 100_000 + len(model),
               "train_seconds": budget, "train_images_per_second": 1000 + 10 * len(model),
               "sample_images_per_second": 1000 / ms, "peak_memory_mb": 10 * len(model),
               "peak_memory_measure": "CPU, live tensors in a training step",
               "eval_seconds": 5.0, "device": "cpu",
               # the shorter runs were ended by a stop rule: they count at longer budgets
               "stopped": "flat since 15 s" if budget < 480 else "budget",
               "capabilities": {"reconstructs": mse is not None}}
    if mse is not None:
        metrics.update(mse=mse * jitter, bce=70.0, psnr=20.0, ssim=0.8)
    if nll is not None:
        # seeds 0.2 nats apart: the models' NLLs differ by more than their spread (no tie)
        metrics.update(nll_k1=nll + 2, nll_k100=nll + 0.2 * seed, bpd_k1=0.2, bpd_k100=0.15,
                       likelihood_convention="binarized pixels (dynamic, seed 0)",
                       likelihood_reference="86.76 nats: VAE (Burda et al., 2016)")
    (directory / "metrics.json").write_text(json.dumps(metrics))
    if with_curve:
        points = curve(fid, budget, seed)
        points.to_csv(directory / "quality.csv", index=False)
        generator = torch.Generator().manual_seed(seed)
        torch.save(visuals(model, len(points), generator), directory / "visuals.pt")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """One report of 8 models x 2 seeds under the usual umask."""
    out = tmp_path_factory.mktemp("report")
    for model in MODELS:
        for seed in SEEDS:
            write_run(out, model, seed)
    (out / "reference.json").write_text(json.dumps([{  # the new shape: a list of entries
        "dataset": "sprites", "options": {}, "fid_extractor": "classifier",
        "fid_samples": 2000, "fid": 0.42, "classifier_accuracy": 0.991}]))
    previous = os.umask(0o022)
    try:
        write_report(out)
    finally:
        os.umask(previous)
    return out


def headline(out: Path) -> dict[str, str]:
    """'Best samples' -> 'diffusion', from report.md's headline bullets."""
    md = (out / "report.md").read_text()
    return dict(re.findall(r"^- \*\*(.+?)\*\*: (.+?) \(", md, re.M))


def test_headline_names_the_model_with_the_best_value_in_each_table(report):
    def best(index: int, low: bool = True) -> str:
        values = {m: v[index] for m, v in MODELS.items() if v[index] is not None}
        return (min if low else max)(values, key=values.get)

    found = headline(report)
    assert found["Best samples (classifier FID)"] == best(1)
    assert found["Best reconstructions"] == best(2)
    assert found["Best likelihood"] == best(3)
    assert found["Fastest sampling"] == best(4)
    assert found["Least memory"] == min(MODELS, key=len)  # peak MB: 10 per letter
    html = (report / "report.html").read_text()
    for model in found.values():  # the same names in the HTML headline
        assert f"</b>: {model} (" in html
    md = (report / "report.md").read_text()
    assert f"**{MODELS[best(1)][1] * 1.01:.2f} ± " in md  # its FID is the bold one
    assert "KID [classifier, n=2000, subsets of 1000]" in md
    assert "binarized pixels (dynamic, seed 0)" in md and "Burda et al., 2016" in md
    assert "Real training images score FID 0.42" in md  # reference.json, new shape
    tables = re.findall(r"^\| model .*$", md, re.M)
    assert len(tables) >= 6 and all(line.count("|") - 1 <= 8 for line in tables)


def test_quality_tables_and_verdict_come_from_the_curves(report):
    md = (report / "report.md").read_text()
    found = headline(report)
    assert "### Time to quality [classifier, n=1000]" in md
    assert "### Ranking at common training budgets [FID, classifier, n=1000]" in md
    # Mean of the two seeds' curves (see `curve`): at 7.5 s each model's point at 5 s, where
    # cvae is among the leaders; a run that ended before a budget counts at it with its final
    # point (marked), so from 60 s to 240 s cvae's final point (60.01 s) leads, and at 480 s
    # diffusion's final point (480.01 s), which beats cvae's.
    cvae = 5.5 + 300 * np.exp(-4 * 5 / 60) * 1.025
    cvae_end = 5.5 + 300 * np.exp(-4 * 60.01 / 60) * 1.025
    diffusion = 3.1 + 300 * np.exp(-4 * 480.01 / 480) * 1.025
    assert found["Best after 480 s of training"] == "diffusion"
    assert f"{cvae:.2f} (#1)" in md and f"{cvae_end:.2f} (#1, ended 60 s)" in md
    assert (f"from 60 s to 240 s, cvae (vae family) (FID {cvae_end:.2f} at 240 s); from 480 s "
            f"on, diffusion (FID {diffusion:.2f}).") in md
    ranking = pd.read_csv(next((report / "tables").glob("sprites-ranking-at-common-training*")),
                          index_col="model")
    assert len(ranking) == len(MODELS) and (ranking != "–").all().all()  # every model, budget
    long = pd.read_csv(report / "results-long.csv")
    assert set(long["question"]) == {"samples", "reconstruction", "likelihood", "cost"}
    assert len(pd.read_csv(report / "quality-curves.csv")) > len(MODELS) * len(SEEDS) * 5


def test_ranking_uses_only_points_at_or_before_each_budget():
    quality = pd.DataFrame({
        "run": ["a"] * 3 + ["b"] * 3 + ["short"] * 2,
        "model": ["a"] * 3 + ["b"] * 3 + ["short"] * 2, "family": "f", "dataset": "d",
        "seconds": [10, 31, 70, 20, 29, 70, 5, 40], "images": 0,
        # a is best just after 30 s, short is best of all but its run ends at 40 s
        "fid": [100, 2, 1, 50, 40, 30, 90, 0.5]})
    values = values_at_budgets(mean_curves(quality, "fid"), [30.0, 60.0])
    assert values.loc["a", 30.0] == 100 and values.loc["b", 30.0] == 40
    assert values[30.0].idxmin() == "b"  # not a: its 2 comes at 31 s
    assert values.loc["a", 60.0] == 2 and values.loc["short", 30.0] == 90
    # A shorter run its budget (or cap) ended has no value at a longer budget: it was stopped,
    # not finished. Before its first point a model has no value.
    assert np.isnan(values.loc["short", 60.0])
    capped = ended_before(mean_curves(quality, "fid"), [30.0, 60.0], flat=False)
    assert capped.loc["short", 60.0] == 40 and capped.drop("short").isna().all().all()
    assert np.isnan(values_at_budgets(mean_curves(quality, "fid"), [7.0]).loc["a", 7.0])
    # A shorter run its stop rule ended (its curve flat) counts at a longer budget with its
    # final point (less training is allowed within a budget; never extrapolated), marked.
    quality["flat"] = quality["model"] == "short"
    values = values_at_budgets(mean_curves(quality, "fid"), [30.0, 60.0])
    assert values.loc["short", 60.0] == 0.5
    ended = ended_before(mean_curves(quality, "fid"), [30.0, 60.0])
    assert ended.loc["short", 60.0] == 40 and ended.drop("short").isna().all().all()
    assert np.isnan(ended.loc["short", 30.0])


def test_a_run_of_the_budget_itself_is_ranked_at_it_by_its_final_point():
    # A 60 s run ends at the first step past 60 s: its final point (60.05 s) stands for 60 s.
    quality = pd.DataFrame({"run": "r", "model": "m", "family": "f", "dataset": "d",
                            "seconds": [20, 40, 60.05], "images": 0, "fid": [30, 20, 3]})
    values = values_at_budgets(mean_curves(quality, "fid"), [30.0, 60.0])
    assert values.loc["m", 60.0] == 3 and values.loc["m", 30.0] == 30


def test_time_to_quality_picks_the_first_crossing():
    quality = pd.DataFrame({"run": "r", "model": "m", "family": "f", "dataset": "d",
                            "seconds": [1.0, 2, 4, 8, 16], "images": [10, 20, 40, 80, 160],
                            "fid": [30, 15, 25, 8, 4]})
    reached = time_to_quality(mean_curves(quality, "fid"), (20, 10, 5, 1))
    assert reached[20].loc["m"].tolist() == [2, 20]
    assert reached[10].loc["m", "seconds"] == 8 and reached[5].loc["m", "seconds"] == 16
    assert np.isnan(reached[1].loc["m", "seconds"])


def test_report_without_curves_and_with_old_reference(tmp_path):
    for model in ("vae", "gan"):
        write_run(tmp_path, model, 0, with_curve=False)
    (tmp_path / "reference.json").write_text(json.dumps({"sprites": {
        "fid": 0.5, "fid_extractor": "classifier", "fid_samples": 2000}}))
    assert load_reference(tmp_path)[0]["dataset"] == "sprites"
    write_report(tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "Time to quality" not in md and "Real training images score FID 0.50" in md
    assert headline(tmp_path)["Best samples (classifier FID)"] == "gan"


def test_files_are_readable_by_others(report, tmp_path):
    written = [p for p in report.rglob("*") if p.is_file() and "runs" not in p.parts]
    assert len(written) > 20
    assert {stat.S_IMODE(p.stat().st_mode) for p in written} == {0o644}
    previous = os.umask(0o027)
    file_mode.cache_clear()
    try:
        atomic_write_text(tmp_path / "private.txt", "x")
    finally:
        os.umask(previous)
        file_mode.cache_clear()
    assert stat.S_IMODE((tmp_path / "private.txt").stat().st_mode) == 0o640


def pdf_pages(path: Path) -> list[str]:
    """The content stream of each page of a matplotlib PDF (the streams that set a font)."""
    pages = []
    # matplotlib writes b"stream\n" ... b"\nendstream": a compressed stream may itself end in
    # b"\r", so the delimiters are matched exactly
    for stream in re.findall(rb"stream\n(.*?)\nendstream", path.read_bytes(), re.S):
        try:
            content = zlib.decompress(stream).decode("latin-1")
        except zlib.error:
            continue
        if " Tf" in content:
            pages.append(content)
    return pages


def test_slides_have_one_titled_16x9_page_per_figure(report):
    data = (report / "slides.pdf").read_bytes()
    boxes = re.findall(rb"/MediaBox \[ 0 0 ([\d.]+) ([\d.]+) \]", data)
    figures = sorted((report / "figures").glob("*.png"))
    assert len(boxes) == len(figures) >= 8
    assert all(abs(float(w) / float(h) - 16 / 9) < 0.01 for w, h in boxes)
    pages = pdf_pages(report / "slides.pdf")
    assert len(pages) == len(boxes)
    assert all(len(re.findall(r"/F\d+ 28 Tf", page)) == 1 for page in pages)  # one title
    text = "".join(re.findall(r"\((.*?)(?<!\\)\)", "".join(pages)))  # kerning dropped
    for title in ("The best model per question", "Samples from every model",
                  "Sample quality against training time", "How samples improve with compute"):
        assert f"sprites: {title}" in text
    assert {p.name for p in figures} >= {"sprites-samples.png", "sprites-progress.png",
                                         "sprites-quality-vs-time.png",
                                         "sprites-latent-map.png"}


def test_latent_map_has_a_legend_of_class_names():
    runs = pd.DataFrame({"run": ["vae-s0"], "model": ["vae"]})
    shown = visuals("vae", 2, torch.Generator().manual_seed(0))
    with theme():
        fig = latent_maps(runs, {"vae-s0": shown})
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == CLASSES
    assert legend.get_title().get_text() == "class"


CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_report_html_in_a_real_browser(report):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not Path(CHROMIUM).exists():
        message = f"needs playwright and {CHROMIUM} (make setup installs both where apt exists)"
        if os.environ.get("GENBENCH_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((report / "report.html").as_uri(), wait_until="load")
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        loaded = page.evaluate("Array.from(document.images, i => i.complete && "
                               "i.naturalWidth > 0)")
        browser.close()
    assert width[0] <= width[1], f"horizontal overflow: {width[0]} px in a {width[1]} px window"
    assert len(loaded) >= 6 and all(loaded)
    assert errors == []
