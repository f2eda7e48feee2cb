"""Imports flow one way: datasets -> models -> training -> metrics -> settings -> judge ->
benchmarks -> reports -> api -> cli, with no cycle between modules. Read from the source with
`ast` (nothing is imported), so a lazy import inside a function counts like any other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "genbench"
# Lowest first. The foundations (errors, io, paths, validation) import nothing above them;
# plugins load the models and datasets that outside modules register.
LAYERS = [
    {"errors", "validation", "io", "paths", "plugins"},
    {"datasets"}, {"models"}, {"training"}, {"metrics"}, {"settings", "config"}, {"judge"},
    {"benchmarks"}, {"reports"}, {"api", "__init__"}, {"cli"},
]


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = PACKAGE) -> set[str]:
    """The genbench modules `path` imports (a `from genbench.x import y` names x.y when y is a
    module, else x)."""
    found, package = set(), module_name(path, root)
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("genbench")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parts = package.split(".")[:len(package.split(".")) - node.level + is_package]
                base = ".".join(parts + ([base] if base else []))
            if not base.startswith("genbench"):
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _is_module(candidate, root) else base)
    return {m for m in found if m != "genbench"}


def _is_module(name: str, root: Path = PACKAGE) -> bool:
    relative = Path(*name.split(".")[1:])
    return (root / relative).with_suffix(".py").exists() or (root / relative).is_dir()


def layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    for rank, names in enumerate(LAYERS):
        if top in names:
            return rank
    raise AssertionError(f"{module} belongs to no layer: add its package to LAYERS")


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}


def upward(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{m} -> {d}" for m, deps in graph.items() for d in deps
                  if layer(d) > layer(m))


def test_no_import_runs_up_the_layers(graph: dict[str, set[str]]) -> None:
    assert not upward(graph), "imports that run up the layers:\n" + "\n".join(upward(graph))


def test_no_import_cycle(graph: dict[str, set[str]]) -> None:
    def owner(name: str) -> str:  # `genbench.x.y` where y is a name in x.py
        while name not in graph and "." in name:
            name = name.rsplit(".", 1)[0]
        return name

    edges = {m: {owner(d) for d in deps} - {m} for m, deps in graph.items()}
    # A package's __init__ re-exports its modules; an edge into the package is an edge to it.
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open" and not _reexport(node, nxt):
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def _reexport(module: str, package: str) -> bool:
    """A module importing its own package's __init__ (which imports it back to re-export it)
    is how a package exposes its names, not a cycle of logic."""
    return module.startswith(package + ".")


def test_the_checker_sees_lazy_relative_and_upward_imports(tmp_path: Path) -> None:
    root = tmp_path / "genbench"
    for name in ("datasets", "reports"):
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_text("")
    (root / "reports" / "tables.py").write_text("")
    probe = root / "datasets" / "probe.py"
    probe.write_text("def f():\n    from genbench.reports import tables\n"
                     "    from ..reports import write_report\n")
    found = imports_of(probe, root)
    assert found == {"genbench.reports.tables", "genbench.reports"}
    assert upward({module_name(probe, root): found}) == [
        "genbench.datasets.probe -> genbench.reports",
        "genbench.datasets.probe -> genbench.reports.tables"]
