"""Output directories checked before any work: a run or a benchmark that can only fail at its
first write (an --out that is a file, that cannot be written, that lies among the data) is
refused at once, with a one-line message, and nothing is written."""

from __future__ import annotations

import tempfile
from pathlib import Path

from genbench.errors import ConfigError


def check_output_dir(path: str | Path, data_root: str | Path | None = None,
                     flag: str = "--out") -> None:
    """Raise ConfigError unless `path` is, or can become, a writable directory outside the
    data root. Creates nothing: an existing ancestor is probed with an anonymous file."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path} is a file, not a directory; choose a directory "
                          "(it is created if missing)")
    existing = _nearest_existing(path)
    if not existing.is_dir():
        raise ConfigError(f"{flag} {path} cannot be created: {existing} is a file, not a "
                          "directory")
    if not _writable(existing):
        raise ConfigError(f"{flag} {path} cannot be written ({existing} is not writable); "
                          "choose a directory you can write to")
    if data_root is not None:
        root = Path(data_root).expanduser().resolve()
        target = path.resolve()
        if target == root or root in target.parents:
            raise ConfigError(f"{flag} {path} is inside the data root {root}; genbench keeps "
                              "its results apart from the data: choose a directory outside it")


def _nearest_existing(path: Path) -> Path:
    """`path` itself or its closest ancestor that exists (a file, possibly)."""
    for candidate in (path, *path.absolute().parents):
        if candidate.exists():
            return candidate
    return Path("/")  # pragma: no cover  (the root always exists)


def _writable(directory: Path) -> bool:
    """Whether a file can be made in `directory`: tried, since permission bits do not tell
    (root ignores them; a read-only mount or /proc refuses even root)."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            return True
    except OSError:
        return False
