"""Atomic file writes and checksummed tensor caches.

Every file genbench produces is written to a temporary name in the same
directory and renamed, so a reader never sees a half-written file, whatever
moment the process is killed at. Files get the mode an ordinary `open` would give
them (0644 under the usual umask 022), so that colleagues and web servers can read them.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from genbench.errors import GenbenchError


class CorruptFileError(GenbenchError, RuntimeError):
    """A file genbench wrote earlier cannot be read back."""


@functools.cache
def file_mode() -> int:
    """0666 less the umask: what `open(path, "w")` gives a new file.

    Read once: os.umask can only be read by setting it, which is not thread-safe.
    """
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, file_mode())  # mkstemp creates 0600; the renamed file keeps its mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_torch_save(path: str | Path, obj: Any) -> None:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorruptFileError(
            f"{path} is not valid JSON ({e}); it was damaged or edited by hand. "
            "Delete it to have genbench recompute it."
        ) from e


def torch_load(path: str | Path, what: str = "file") -> Any:
    """torch.load with an error that names the file instead of a pickle traceback."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # torch raises several unrelated types for damaged files
        raise CorruptFileError(
            f"{what} {path} cannot be read ({type(e).__name__}: {e}); it is truncated or "
            "damaged. Delete it and rerun to rebuild it."
        ) from e


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_checksummed(path: str | Path, obj: Any) -> None:
    """Save a torch object with a sha256 sidecar so a damaged cache is detected, not trusted."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    data = buffer.getvalue()
    atomic_write_bytes(path, data)
    atomic_write_text(Path(str(path) + ".sha256"), sha256_bytes(data) + "\n")


def load_checksummed(path: str | Path) -> Any | None:
    """The cached object, or None when it is missing or fails its checksum."""
    path, sidecar = Path(path), Path(str(path) + ".sha256")
    if not path.exists() or not sidecar.exists():
        return None
    data = path.read_bytes()
    if sha256_bytes(data) != sidecar.read_text().strip():
        return None
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)


def cache_dir(data_root: Path) -> Path:
    """Where decoded tensors go: $GENBENCH_CACHE, else the data root, else the user cache.

    Shared data roots are often read-only; caching must not fail because of it.
    """
    if os.environ.get("GENBENCH_CACHE"):
        return user_cache_dir()
    preferred = data_root / "genbench_cache"
    try:
        preferred.mkdir(parents=True, exist_ok=True)
        probe = preferred / ".write-test"
        probe.touch()
        probe.unlink()
        return preferred
    except OSError:
        return user_cache_dir()


def user_cache_dir() -> Path:
    path = Path(os.environ.get("GENBENCH_CACHE") or Path.home() / ".cache" / "genbench")
    path.mkdir(parents=True, exist_ok=True)
    return path
