"""examples/seed_talk.ipynb runs end to end in a real kernel (nbclient + ipykernel), at its
tiny budget on generated sprites, so that the teaching notebook cannot rot."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "seed_talk.ipynb"
MODELS = ["vae-2d", "vae", "gan", "diffusion", "cvae", "beta-vae", "vqvae"]


@pytest.mark.slow
def test_the_seed_talk_notebook_runs_through_the_api(tmp_path, monkeypatch):
    monkeypatch.setenv("GENBENCH_NOTEBOOK_BUDGET", "tiny")
    monkeypatch.setenv("GENBENCH_NOTEBOOK_DATASET", "sprites")
    monkeypatch.setenv("GENBENCH_NOTEBOOK_OUT", str(tmp_path / "talk"))
    # the kernel imports this checkout's genbench (and the test session's caches, from env)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT),
                                                                   os.environ.get("PYTHONPATH")])))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=1200, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    frame = pd.read_csv(tmp_path / "talk" / "results" / "results.csv")
    assert sorted(frame["model"]) == sorted(MODELS)
    assert (frame["status"] == "done").all(), frame[["run", "status"]]
    results = tmp_path / "talk" / "results"
    assert (results / "runs" / "real-images-sprites-scored" / "metrics.json").exists()
    assert (results / "figures" / "sprites-denoising.png").exists()  # diffusion's own figure
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 8  # the report's 7 figures the story shows, and the decoded grid
