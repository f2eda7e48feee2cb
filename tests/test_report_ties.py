"""Ties and intervals in the report's tables, headline and verdict, and the metric registry
that every table and CSV follows. Frames are built by hand: nothing trains or draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genbench.reports import metrics
from genbench.reports.headline import findings
from genbench.reports.quality import Curves, mean_curves
from genbench.reports.tables import question_tables, summary
from genbench.reports.writer import tidy


def runs(rows: dict[str, list[dict]]) -> pd.DataFrame:
    """model -> one dict of metrics per seed, as collect() gives them."""
    return metrics.with_derived(pd.DataFrame([
        {"run": f"{model}-s{seed}", "model": model, "family": model, "dataset": "d",
         "seed": seed, "fid_extractor": "classifier", "fid_samples": 2000, "params": 10,
         "sample_images_per_second": 2000.0, **values}
        for model, seeds in rows.items() for seed, values in enumerate(seeds)]))


def best_samples(frame: pd.DataFrame) -> tuple[str, pd.Series]:
    """The headline's 'Best samples' model(s), and which FID cells are bold."""
    tables = question_tables(summary(frame), "d")
    found = {f.question: f for f in findings(tables)}
    samples = next(t for t in tables if t.key == "samples")
    return found["Best samples (classifier FID)"].model, samples.best["FID [classifier, n=2000]"]


def test_equal_values_are_tied_and_both_marked():
    model, bold = best_samples(runs({"a": [{"fid": 4.5}], "b": [{"fid": 4.5}],
                                     "c": [{"fid": 9.0}]}))
    assert model == "a and b (tied)"
    assert bold.to_dict() == {"a": True, "b": True, "c": False}


@pytest.mark.parametrize("b_interval, expected", [
    ((4.40, 4.90), "no winner"),  # overlaps a's [4.31, 4.77]: every model tied
    ((5.80, 6.20), "a"),  # clearly apart: a single winner
])
def test_overlapping_intervals_are_tied_separated_ones_are_not(b_interval, expected):
    lo, hi = b_interval
    frame = runs({"a": [{"fid": 4.52, "fid_lo": 4.31, "fid_hi": 4.77}],
                  "b": [{"fid": (lo + hi) / 2, "fid_lo": lo, "fid_hi": hi}]})
    model, _ = best_samples(frame)
    assert model == expected
    samples = next(t for t in question_tables(summary(frame), "d") if t.key == "samples")
    assert samples.cells.loc["a", "FID [classifier, n=2000]"] == "4.52 [4.31, 4.77]"
    assert "interval of the evaluation" in samples.caption


def test_seeds_give_the_sample_std_and_the_count():
    frame = runs({"a": [{"fid": 4.0}, {"fid": 6.0}], "b": [{"fid": 20.0}, {"fid": 21.0},
                                                          {"fid": 22.0}]})
    table = next(t for t in question_tables(summary(frame), "d") if t.key == "samples")
    column = "FID [classifier, n=2000]"
    assert table.cells.loc["a", column] == f"5.00 ± {np.sqrt(2):.2f} (2)"  # ddof=1, not 1.00
    assert table.cells.loc["b", column] == "21.00 ± 1.00 (3)"
    assert "over 2 to 3 seeds" in table.caption
    cost = next(t for t in question_tables(summary(frame), "d") if t.key == "cost")
    assert cost.cells.loc["a", "params"] == "10"  # a constant: no spread, whatever the seeds


def test_ranking_and_verdict_name_ties_never_one_winner():
    points = []
    for model, fid in (("a", [50, 10]), ("b", [50, 10]), ("c", [80, 30])):
        for seed in (0, 1):
            points += [{"run": f"{model}{seed}", "model": model, "family": model, "dataset": "d",
                        "seconds": s, "images": 0, "fid": f + seed} for s, f in
                       zip((7.6, 15.1), fid, strict=True)]
    curves = Curves(mean_curves(pd.DataFrame(points), "fid"), "fid", "classifier, n=1000")
    ranking = curves.ranking()
    assert ranking.cells.loc["a", "15 s"].endswith("(#1)")
    assert ranking.cells.loc["b", "15 s"].endswith("(#1)")  # tied: the same rank
    assert ranking.cells.loc["c", "15 s"].endswith("(#3)")
    assert curves.verdict() == "At 15 s, a and b lead (tied; best FID 10.50)."
    found = {f.question: f.model for f in findings(curves.tables, curves)}
    assert found["Best after 15 s of training"] == "a and b (tied)"


def test_registry_decides_titles_questions_and_derived_values():
    assert metrics.metric("bpd_k5").title == "bits/dim k=5"
    assert metrics.question_of("nll_k100") == "likelihood"
    assert metrics.question_of("sample_ms_per_image") == "cost"
    assert metrics.question_of("no_such_key") is None
    frame = runs({"a": [{"fid": 4.0, "nll_k100": 85.0, "nll_k1": 87.0}]})
    assert frame.loc[0, "sample_ms_per_image"] == 0.5  # 1000 / 2000 images per second
    keys = [m.key for m in metrics.present(frame)]
    assert keys.index("nll_k1") < keys.index("nll_k100") < keys.index("params")


def test_a_new_metric_is_one_entry(monkeypatch):
    entry = metrics.Metric("sharpness", "sharpness", "samples", "high", 3, headline="Sharpest")
    monkeypatch.setattr(metrics, "REGISTRY", (*metrics.REGISTRY, entry))
    frame = runs({"a": [{"fid": 4.0, "sharpness": 0.9}], "b": [{"fid": 5.0, "sharpness": 1.1}]})
    tables = question_tables(summary(frame), "d")
    samples = next(t for t in tables if t.key == "samples")
    assert samples.cells.loc["b", "sharpness"] == "1.100" and samples.best.loc["b", "sharpness"]
    assert {f.question: f.model for f in findings(tables)}["Sharpest"] == "b"
    long = tidy(frame)
    assert set(long.loc[long["metric"] == "sharpness", "question"]) == {"samples"}
    assert long.loc[long["metric"] == "sharpness", "n"].notna().all()  # a sample metric: its n
