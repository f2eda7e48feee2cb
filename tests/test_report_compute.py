"""The report on both axes of compute (training seconds and training FLOPs), the machine beside
every time, the stop reason of every run, and old runs without FLOPs. Run directories are
written by hand (metrics.json, quality.csv as the job writes them): nothing trains."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from genbench.reports import write_report

MACHINE = "Intel Xeon Gold 6338, 2 threads"
# model -> (seconds, FLOPs, FID) of its curve points, its stop reason. `fast` leads early on
# the clock but is FLOP-hungry and stops flat at 15 s; `slow` trains to the cap. FLOPs on the
# curves' grid (EvalConfig.curve_start_flops = 1.25e11, doubling).
RUNS = {
    "fast": ([3.8, 7.6, 15.1], [1.25e11, 2.5e11, 5e11], [50.0, 20.0, 12.0], "flat since 7.5 s"),
    "slow": ([3.8, 7.6, 15.1, 30.2, 60.1], [1.5625e10, 3.125e10, 6.25e10, 1.25e11, 2.5e11],
             [60.0, 30.0, 15.0, 8.0, 4.0], "cap"),
}


def write_run(out: Path, model: str, flops: bool = True) -> None:
    seconds, counted, fid, stopped = RUNS[model]
    directory = out / "runs" / f"{model}-sprites-s0"
    directory.mkdir(parents=True)
    metrics = {"run": directory.name, "model": model, "family": model, "dataset": "sprites",
               "seed": 0, "fid": fid[-1], "kid": fid[-1] / 1000, "fid_extractor": "classifier",
               "fid_samples": 2000, "fid_reference": 2000, "params": 1000,
               "train_seconds": seconds[-1], "train_images_per_second": 500.0,
               "sample_images_per_second": 1000.0, "device": "cpu"}
    curve = pd.DataFrame({"step": [100 * 2 ** i for i in range(len(seconds))], "epoch": 0,
                          "images": [6400 * 2 ** i for i in range(len(seconds))],
                          "seconds": seconds, "eval_seconds": 0.5, "n": 1000,
                          "kid": [f / 1000 for f in fid], "fid": fid, "extractor": "classifier"})
    if flops:  # what runs record since training FLOPs are counted
        metrics.update(train_flops=counted[-1], flops_per_step=counted[0] / 100, threads=2,
                       machine=MACHINE, stopped=stopped)
        curve["flops"] = counted
    (directory / "metrics.json").write_text(json.dumps(metrics))
    curve.to_csv(directory / "quality.csv", index=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench-q")
    for model in RUNS:
        write_run(out, model)
    (out / "suite.json").write_text(json.dumps({"suite": "tiny", "order": [
        f"{m}-sprites-s0" for m in RUNS], "runs": {}}))
    write_report(out)
    return out


def test_rankings_on_both_axes_hold_every_model(report):
    md = (report / "report.md").read_text()
    # seconds: fast leads at 7.5 s and 15 s; from 30 s on slow, while fast counts with its
    # final point (it stopped flat at 15 s)
    assert ("From 7.5 s to 15 s, fast leads (FID 12.00 at 15 s); from 30 s on, slow (FID 4.00 "
            "at 60 s).") in md
    assert "12.00 (#2, ended 15 s)" in md
    # FLOPs: budgets double on the curves' grid; fast has no point before 1.25e11 FLOPs, slow
    # leads at every budget both have reached; slow's cap ended it at 2.5e11: no value past it
    assert "### Ranking at common FLOP budgets [FID, classifier, n=1000]" in md
    assert "| 1.6e10 FLOPs " in md and "| 5e11 FLOPs " in md
    assert "– (trained to 2.5e11 FLOPs)" in md and "12.00 (#1, ended 5e11 FLOPs)" not in md
    assert ("In training FLOPs: from 1.2e11 FLOPs to 2.5e11 FLOPs, slow leads (FID 4.00 at "
            "2.5e11 FLOPs).") in md
    assert "### FLOPs to quality [classifier, n=1000]" in md
    flops_to_quality = md.split("### FLOPs to quality")[1].split("###")[0]
    assert "| fast    | 2.5e11 FLOPs (12,800 img)" in flops_to_quality


def test_the_headline_compares_at_the_common_flop_budget_once(report):
    md = (report / "report.md").read_text()
    top = md.split("\n## sprites")[0]
    # the largest FLOP budget both models reach (fast: 2.5e11 at 7.6 s; slow: at 60.1 s),
    # named in FLOPs and in this machine's seconds
    assert re.search(r"\*\*Best after 2\.5e11 training FLOPs\*\*: slow \(FID 4\.00; the "
                     r"largest FLOP budget every model reaches, 7\.6–60 s of training on this "
                     r"machine\)", top)
    # one verdict: the seconds ranking stays a table, not a second 'Best after N s'
    assert "Best after 60 s" not in md and "of training**" not in top
    assert "on this machine's clock: From 7.5 s to 15 s, fast leads" in md
    assert "From 7.5 s" not in top
    # who would gain from more compute: FID over each model's last doubling of FLOPs
    assert "last doubling of training FLOPs: slow −50%, fast −40%" in top
    # the same training speed (500 images/s each): within 5%, no winner
    assert "**Fastest training**: no winner (all 2 tied" in top


def test_machine_beside_every_time_and_the_stop_reason(report):
    md = (report / "report.md").read_text()
    for title in ("Time to quality", "Ranking at common training budgets", "Cost"):
        section = md.split(f"### {title}")[1].split("###")[0]
        assert f"Times measured on {MACHINE}." in section, title
    cost = pd.read_csv(report / "tables" / "sprites-cost.csv", index_col="model", dtype=str)
    assert cost.loc["fast", "stopped"] == "flat since 7.5 s"
    assert cost.loc["slow", "stopped"] == "cap"
    assert cost.loc["slow", "train FLOPs"] == "2.5e11"
    figures = {p.name for p in (report / "figures").glob("*.png")}
    assert {"sprites-quality-vs-time.png", "sprites-quality-vs-flops.png",
            "sprites-ranking-flops.png"} <= figures
    html = (report / "report.html").read_text()
    assert "Sample quality against training FLOPs" not in html  # a caption, not a slide title
    assert "against training FLOPs (log scale)" in html


def test_title_names_the_suite_the_data_and_the_date(report, tmp_path):
    md = (report / "report.md").read_text()
    assert re.match(r"# genbench report: suite tiny on sprites \(\d{4}-\d{2}-\d{2}\)\n", md)
    assert "<h1>genbench report: suite tiny on sprites (" in (report / "report.html").read_text()
    write_run(tmp_path, "fast", flops=False)  # no suite.json: the folder names it
    write_report(tmp_path)
    assert (tmp_path / "report.md").read_text().startswith(
        f"# genbench report: {tmp_path.name} on sprites (")


def test_old_runs_without_flops_leave_the_flop_parts_out(tmp_path):
    write_run(tmp_path, "fast", flops=False)
    write_run(tmp_path, "slow")  # one run with FLOPs is not an axis for all of them
    write_report(tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "### Ranking at common training budgets" in md and "FLOP budgets" not in md
    assert "FLOPs to quality" not in md and "In training FLOPs" not in md
    assert not (tmp_path / "figures" / "sprites-quality-vs-flops.png").exists()
    assert (tmp_path / "figures" / "sprites-quality-vs-time.png").exists()
    cost = pd.read_csv(tmp_path / "tables" / "sprites-cost.csv", index_col="model")
    assert cost.loc["fast", "stopped"] == "–" and cost.loc["slow", "stopped"] == "cap"
    assert f"Times measured on: cpu (fast); {MACHINE} (slow)." in md
