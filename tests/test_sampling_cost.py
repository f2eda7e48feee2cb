"""Sampling cost as an axis, end to end on sprites: the NFE sweep of diffusion (DDIM) and flow
matching (Euler, Heun) in nfe.csv, sampling FLOPs counted per image, the report's table,
sentence and figure; and latent samplers run from a suite as their own rows."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import TINY_SETTINGS

from genbench.cli import main
from genbench.reports import nfe

SUITE = """
name = "cost"
models = ["diffusion", "flow", "ae", "ae+gmm", "vae+two-stage"]
datasets = ["sprites"]
seeds = [0]
""" + TINY_SETTINGS + """
[model.diffusion]
config = {{ width = 8, timesteps = 100, sampling_steps = 4 }}

[model.flow]
config = {{ width = 8, sampling_steps = 4 }}

[model."ae+gmm"]
model = "ae"
config = {{ sampler = "gmm", gmm_components = 3 }}

[model."vae+two-stage"]
model = "vae"
config = {{ sampler = "two-stage", second_stage_steps = 50 }}
"""


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("cost")
    suite = tmp / "cost.toml"
    text = SUITE.format(device="cpu").replace("[eval]\n", "[eval]\nnfe = [1, 2, 4]\n"
                                                       "nfe_samples = 60\n")
    suite.write_text(text)
    assert main(["benchmark", "--suite", str(suite), "--out", str(tmp / "out"), "--quiet"]) == 0
    return tmp / "out"


def test_denoising_runs_sweep_every_nfe_their_solvers_can_spend(out):
    sweeps = {m: pd.read_csv(out / "runs" / f"{m}-sprites-s0" / "nfe.csv")
              for m in ("diffusion", "flow")}
    assert sweeps["diffusion"][["solver", "nfe"]].values.tolist() == [
        ["ddim", 1], ["ddim", 2], ["ddim", 4]]
    assert sweeps["flow"][["solver", "nfe", "steps"]].values.tolist() == [
        ["euler", 1, 1], ["euler", 2, 2], ["euler", 4, 4], ["heun", 2, 1], ["heun", 4, 2]]
    for sweep in sweeps.values():
        assert sweep["fid"].notna().all() and (sweep["n"] == 60).all()
        assert (sweep["fid_lo"] <= sweep["fid"]).all() and (sweep["fid"] <= sweep["fid_hi"]).all()
        # Sampling FLOPs grow with the network evaluations, exactly: one U-Net pass each.
        per_nfe = sweep["sample_flops"] / sweep["nfe"]
        assert per_nfe.max() / per_nfe.min() == pytest.approx(1, rel=1e-6)
    # The same U-Net: the same FLOPs per evaluation whichever the objective.
    assert (sweeps["flow"]["sample_flops"] / sweeps["flow"]["nfe"]).iloc[0] == pytest.approx(
        (sweeps["diffusion"]["sample_flops"] / sweeps["diffusion"]["nfe"]).iloc[0], rel=1e-6)
    assert not (out / "runs" / "ae-sprites-s0" / "nfe.csv").exists()


def test_report_shows_sampling_cost_table_figure_and_flops(out):
    frame = pd.read_csv(out / "results.csv").set_index("model")
    assert (frame["sample_flops"] > 0).all()
    # diffusion's final samples: 4 DDIM steps, four passes of its U-Net
    sweep = pd.read_csv(out / "runs" / "diffusion-sprites-s0" / "nfe.csv").set_index("nfe")
    assert frame.loc["diffusion", "sample_flops"] == pytest.approx(sweep.loc[4, "sample_flops"])
    table = pd.read_csv(out / "tables" / "sprites-sample-quality-against-sampling-cost"
                                         "-classifier-n-60.csv", index_col=0)
    assert list(table.index) == ["diffusion (DDIM)", "flow (Euler)", "flow (Heun)"]
    assert list(table.columns) == ["NFE 1", "NFE 2", "NFE 4", "FLOPs/img per NFE"]
    assert table.loc["flow (Heun)", "NFE 1"] == "–"  # Heun cannot spend one evaluation
    assert (out / "figures" / "sprites-quality-vs-nfe.png").stat().st_size > 0
    html = (out / "report.html").read_text()
    assert "Sample quality against sampling cost" in html
    assert "Lowest FID per sampling cost" in html
    assert "sample FLOPs/img" in html


def test_latent_samplers_are_their_own_rows_with_their_fitting_cost(out):
    frame = pd.read_csv(out / "results.csv").set_index("model")
    assert {"ae", "ae+gmm", "vae+two-stage"} <= set(frame.index)
    assert frame.loc["ae+gmm", "family"] == "ae"
    # The same training (same seed and steps): the same reconstructions, other samples.
    assert frame.loc["ae+gmm", "mse"] == frame.loc["ae", "mse"]
    assert frame.loc["ae+gmm", "fid"] != frame.loc["ae", "fid"]
    assert frame.loc["ae+gmm", "sampler_fit_seconds"] > 0
    # Every fit of the run (each curve point's and the final one) is the sampler's, not the
    # evaluation's: at least the final fit and its encoding.
    final_fit = frame.loc["ae+gmm", ["sampler_fit_seconds", "sampler_encode_seconds"]].sum()
    assert frame.loc["ae+gmm", "sampler_prepare_seconds"] >= final_fit
    assert frame.loc["vae+two-stage", "sampler_fit_flops"] > 0
    # Its samples no longer come from the prior the likelihood bound measures.
    assert not frame.loc["vae+two-stage", "can_likelihood"]
    assert pd.isna(frame.get("nll_k1", pd.Series(dtype=float)).get("vae+two-stage"))
    cost = pd.read_csv(out / "tables" / "sprites-cost.csv", index_col=0)
    assert float(cost.loc["ae+gmm", "sampler fit s"]) > 0  # the report gives the fit's cost
    assert cost.loc["diffusion", "sampler fit s"] == "–"
    config = json.loads((out / "runs" / "ae+gmm-sprites-s0" / "config.json").read_text())
    assert config["model_config"]["sampler"] == "gmm"


def _sweeps(flow_interval: tuple[float, float]) -> pd.DataFrame:
    rows = [("diffusion", "ddim", 8, 4.0, 3.8, 4.2), ("flow", "euler", 8, 3.5, *flow_interval),
            ("flow", "heun", 8, 3.6, 3.4, 3.8)]
    return pd.DataFrame([dict(model=m, solver=s, nfe=n, fid=f, fid_lo=lo, fid_hi=hi,
                              dataset="d", seed=0, n=1000, extractor="classifier",
                              sample_flops=n * 1e6) for m, s, n, f, lo, hi in rows])


def test_families_are_compared_at_the_largest_nfe_beyond_the_noise_only():
    apart = nfe.nfe_sentence(nfe.nfe_table(_sweeps((3.3, 3.7)), "d"))
    assert ("At NFE 8 and the common training budget: flow (Euler) 3.50 [3.30, 3.70] against "
            "diffusion (DDIM) 4.00 [3.80, 4.20]: flow is better beyond the evaluation noise."
            ) in apart
    overlapping = nfe.nfe_sentence(nfe.nfe_table(_sweeps((3.3, 3.9)), "d"))
    assert "no family is better beyond the evaluation noise" in overlapping
