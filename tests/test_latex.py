"""tables/NAME.tex beside each tables/NAME.csv: booktabs tables a paper can \\input, with every
cell escaped. Compiled where pdflatex is installed; elsewhere read with a tiny parse."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_report import write_run

from genbench.reports import write_report
from genbench.reports.latex import escape


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> Path:
    """The tables folder of a report of two models, one with LaTeX's specials in its name."""
    out = tmp_path_factory.mktemp("latex")
    for model in ("vae", "gan"):
        write_run(out, model, 0, with_curve=False)
    metrics = out / "runs" / "vae-sprites-s0" / "metrics.json"
    renamed = {**json.loads(metrics.read_text()), "model": "vae_small#1"}
    metrics.write_text(json.dumps(renamed))
    write_report(out)
    return out / "tables"


def balanced(tex: str) -> bool:
    """Whether the unescaped braces nest, and every \\begin{X} has its \\end{X}."""
    depth = 0
    for brace in re.findall(r"(?<!\\)[{}]", tex.replace("\\\\", "")):
        depth += 1 if brace == "{" else -1
        if depth < 0:
            return False
    environments = re.findall(r"\\(begin|end)\{(\w+)\}", tex)
    opened = []
    for kind, name in environments:
        if kind == "begin":
            opened.append(name)
        elif not opened or opened.pop() != name:
            return False
    return depth == 0 and not opened


def test_each_table_csv_has_its_booktabs_tex(tables):
    csvs = sorted(tables.glob("*.csv"))
    assert csvs and sorted(p.with_suffix(".tex") for p in csvs) == sorted(tables.glob("*.tex"))
    for path in sorted(tables.glob("*.tex")):
        tex = path.read_text()
        assert [line for line in tex.splitlines() if line.endswith("rule")] == [
            r"\toprule", r"\midrule", r"\bottomrule"], path.name
        assert re.search(r"\\caption\[.+\]\{\\textbf\{.+ \(sprites\)\.\} .+\}", tex), path.name
        assert rf"\label{{tab:{path.stem}}}" in tex and balanced(tex), path.name
        assert "vae\\_small\\#1" in tex and "vae_small" not in tex, path.name
        # no special character left bare, the column separators aside
        assert not re.search(r"(?<!\\)[%&#_]", tex.replace(" & ", " ")), path.name


def test_cells_and_captions_are_escaped():
    assert escape("a_b 5% & #2 {x} ~^\\") == (r"a\_b 5\% \& \#2 \{x\} \textasciitilde{}"
                                            r"\textasciicircum{}\textbackslash{}")
    assert escape("4.52 ± 0.10 [4.31, 4.77] σ τ 2×") == (
        r"4.52 $\pm$ 0.10 {[}4.31, 4.77{]} $\sigma$ $\tau$ 2$\times$")
    assert escape(3) == "3" and balanced(escape("{{}"))


def test_a_paper_compiles_the_tables(tables, tmp_path):
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed here; the tables are checked by parse above")
    inputs = "\n".join(rf"\input{{{p}}}" for p in sorted(tables.glob("*.tex")))
    (tmp_path / "paper.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
        f"{inputs}\n\\end{{document}}\n")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                           "paper.tex"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
