"""examples/seed_talk.ipynb runs end to end in a real kernel, as a reader runs it
(`jupyter nbconvert --to notebook --execute`), at its tiny budget on generated sprites, so
that the teaching notebook cannot rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbconvert")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "seed_talk.ipynb"
JUPYTER = Path(sys.executable).parent / "jupyter"  # this environment's, with its kernel
MODELS = ["vae-2d", "vae", "gan", "diffusion", "cvae", "beta-vae", "vqvae"]


def execute(notebook: Path, output: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The notebook executed by nbconvert into `output` (the shipped file is left as it is)."""
    return subprocess.run(
        [str(JUPYTER), "nbconvert", "--to", "notebook", "--execute",
         "--ExecutePreprocessor.timeout=1200", "--ExecutePreprocessor.kernel_name=python3",
         "--output-dir", str(output.parent), "--output", output.name, str(notebook)],
        env=env, capture_output=True, text=True, timeout=1500)


@pytest.mark.slow
def test_the_seed_talk_notebook_runs_through_the_api(tmp_path):
    # the kernel imports this checkout's genbench (and the test session's caches, from env)
    env = {**os.environ, "GENBENCH_NOTEBOOK_BUDGET": "tiny",
           "GENBENCH_NOTEBOOK_DATASET": "sprites", "GENBENCH_NOTEBOOK_OUT": str(tmp_path / "talk"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    executed = tmp_path / "executed.ipynb"
    done = execute(NOTEBOOK, executed, env)
    assert done.returncode == 0, done.stderr[-3000:]
    notebook = nbformat.read(executed, as_version=4)
    frame = pd.read_csv(tmp_path / "talk" / "results" / "results.csv")
    assert sorted(frame["model"]) == sorted(MODELS)
    assert (frame["status"] == "done").all(), frame[["run", "status"]]
    results = tmp_path / "talk" / "results"
    assert (results / "runs" / "real-images-sprites-scored" / "metrics.json").exists()
    assert (results / "figures" / "sprites-denoising.png").exists()  # diffusion's own figure
    sources = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "from genbench." not in sources  # the public API only: `import genbench`
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 8  # the report's 7 figures the story shows, and the decoded grid
