"""Plug-ins: models and datasets registered outside genbench, in the same registries.

Two ways in, both ending in an import that runs `@register_model` / `register_dataset`:

  - an installed package names a module (or an object in one) in the entry-point group
    `genbench.models` or `genbench.datasets`; the registry imports it the first time it is
    asked (`models.available()`, `create`, ...; `datasets.available()`, `get_spec`, ...);
  - a suite's `plugins = ["my_module", "path/to/my_model.py"]` or `--plugin` names a module
    or a .py file: `load(specs, where, base)` imports each once.

The plug-ins a process loaded are written to $GENBENCH_PLUGINS, so that the jobs it spawns
(local worker processes, a local Ray instance) load them before their registries answer.
This module imports nothing of genbench: both registries use it, so it sits below them.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import re
import sys
import traceback
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

from genbench.errors import GenbenchError

ENV = "GENBENCH_PLUGINS"  # JSON list of the plug-ins loaded by the process that spawned us
GROUPS = ("genbench.models", "genbench.datasets")

_files: dict[Path, str] = {}  # plug-in file -> the name of its module in sys.modules
_loaded: list[str] = []  # what `load` imported, as module names and absolute paths
_installed: set[str] = set()  # entry-point groups loaded in this process
_loading: set[str] = set()  # groups being loaded now (a plug-in may ask the registry)


class PluginError(GenbenchError, ValueError):
    """A plug-in cannot be imported, or registers something wrong; the message names it and
    the suite file, flag or entry point that asked for it."""


def load(specs: list[str], where: str, base: Path | None = None) -> list[str]:
    """Import plug-ins, each once: a module name (`my_module`, `pkg.models`) or a path to a
    .py file, relative to `base` (the suite file's folder; default: the current directory).

    where: who named them, for error messages ("suite file x.toml", "--plugin").
    Returns the plug-ins as loaded: module names, and files as absolute paths.
    """
    for group in GROUPS:  # installed plug-ins first, whoever asks: one order in every listing
        load_installed(group)
    resolved = [_load_one(spec, where, base) for spec in specs]
    _remember(resolved)
    return resolved


def loaded() -> list[str]:
    """The plug-ins `load` imported in this process (and its parent), in order."""
    return list(_loaded)


def load_installed(group: str) -> None:
    """Import the plug-ins installed for the entry-point `group` and those inherited from the
    parent process, once; the registries call this before they answer."""
    if group in _installed or group in _loading:
        return
    _loading.add(group)
    try:
        for point in entry_points(group=group):
            dist = f" of {point.dist.name} {point.dist.version}" if point.dist else ""
            where = f"entry point {point.name!r} in group {group}{dist}"
            hint = f"fix or uninstall {point.dist.name}" if point.dist else ""
            with _importing(point.value, where, hint):
                point.load()
        inherited = os.environ.get(ENV)
        if inherited:
            load(json.loads(inherited), f"${ENV}")
        _installed.add(group)
    finally:
        _loading.discard(group)


def origin(module: str) -> str:
    """Where a registered class came from: its module, or the file of a file plug-in."""
    files = {name: path for path, name in _files.items()}
    return str(files.get(module, module))


def is_path(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or os.sep in spec


def _load_one(spec: str, where: str, base: Path | None) -> str:
    if not isinstance(spec, str) or not spec.strip():
        raise PluginError(f"{where}: a plug-in is a module name or a path to a .py file, "
                          f"got {spec!r}")
    if not is_path(spec):
        with _importing(spec, where, "is it installed, or on PYTHONPATH? A file is named by "
                        "its path, e.g. 'path/to/my_model.py'", only_if_missing=True):
            importlib.import_module(spec)
        return spec
    path = Path(spec).expanduser()
    path = (path if path.is_absolute() else (base or Path.cwd()) / path).resolve()
    if not path.is_file():
        relative = f" (relative paths start at {base})" if base else ""
        raise PluginError(f"plug-in {spec!r} ({where}): no such file {path}{relative}")
    with _importing(spec, where):
        _import_file(path)
    return str(path)


def _import_file(path: Path) -> None:
    if path in _files:
        return
    # A unique module name per file: two plug-ins both called model.py do not collide.
    stem = re.sub(r"\W", "_", path.stem)
    name = f"genbench_plugin_{stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # In sys.modules before it runs: dataclasses and pickle look classes up there.
    sys.modules[name], _files[path] = module, name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name], _files[path]
        raise


@contextlib.contextmanager
def _importing(spec: str, where: str, hint: str = "",
               only_if_missing: bool = False) -> Iterator[None]:
    """Any failure of a plug-in's import as one PluginError naming the plug-in and who asked
    for it; the original error stays chained (its traceback) for the plug-in's author.
    only_if_missing: give the hint only when the plug-in's own module is not found."""
    try:
        yield
    except PluginError as error:  # a registration check failed inside the plug-in
        raise PluginError(f"plug-in {spec!r} ({where}): {error}") from error
    except Exception as error:  # ImportError, SyntaxError, or whatever its code raised
        name = getattr(error, "name", None) or "-"
        missing = isinstance(error, ModuleNotFoundError) and f"{spec}.".startswith(f"{name}.")
        tip = f"; {hint}" if hint and (missing or not only_if_missing) else ""
        raise PluginError(f"plug-in {spec!r} ({where}) cannot be imported: "
                          f"{_describe(error)}{tip}") from error


def _describe(error: Exception) -> str:
    if isinstance(error, (ImportError, SyntaxError)):
        return str(error)
    frames = traceback.extract_tb(error.__traceback__)
    at = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(error).__name__}: {error}{at}"


def _remember(specs: list[str]) -> None:
    _loaded.extend(s for s in dict.fromkeys(specs) if s not in _loaded)
    if _loaded:
        os.environ[ENV] = json.dumps(_loaded)
