"""Atomic file writes and checksummed tensor caches.

Every file genbench produces is written to a temporary name in the same
directory and renamed, so a reader never sees a half-written file, whatever
moment the process is killed at. Files get the mode an ordinary `open` would give
them (0644 under the usual umask 022), so that colleagues and web servers can read them.

Results folders and caches are shared between people, so every torch file is read back with
weights_only=True: tensors and plain Python values only, never code a crafted pickle holds.
Writers must therefore store plain types (tensors, numbers, str, lists, dicts, None).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import pickle
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

from genbench.errors import ConfigError, GenbenchError


class CorruptFileError(GenbenchError, RuntimeError):
    """A file genbench wrote earlier cannot be read back."""


class UnsafeFileError(GenbenchError, RuntimeError):
    """A file holds objects genbench never writes (possibly code), so it was not loaded.

    Not a CorruptFileError on purpose: readers that skip or rebuild a damaged file must not
    quietly pass over a crafted one; the command stops and names it.
    """


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
    except OSError as error:  # a failed write names no file, or the temporary one: name ours
        Path(tmp).unlink(missing_ok=True)
        error.filename = str(path)
        raise
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


# How weights_only words a refused function or class; its other errors (an unknown opcode,
# a short read) mean damaged bytes, which loaded nothing either.
REFUSED = re.compile(r"GLOBAL|allowlist|unrecognized function|persistent_load")


def _reason(error: BaseException) -> str:
    """The first line of what went wrong: torch wraps a weights_only error in paragraphs of
    advice (the original stays as its context) and a command prints one line."""
    if isinstance(error, pickle.UnpicklingError) and error.__context__ is not None:
        error = error.__context__
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def refused(error: pickle.UnpicklingError) -> bool:
    """Whether weights_only refused a function or class, rather than met damaged bytes."""
    return REFUSED.search(_reason(error)) is not None


def damaged_file(path: Path, what: str, error: BaseException) -> CorruptFileError:
    return CorruptFileError(f"{what} {path} cannot be read ({_reason(error)}); it is truncated "
                            "or damaged. Delete it and rerun to rebuild it.")


def unsafe_file(path: Path, what: str, error: pickle.UnpicklingError) -> UnsafeFileError:
    """The one-line error for a file weights_only refused, naming the refused global."""
    found = re.search(r"GLOBAL (\S+)", _reason(error))
    refers = f" (it refers to {found.group(1)})" if found else ""
    return UnsafeFileError(
        f"{what} {path} holds objects genbench does not write{refers}, possibly code, and "
        "was not loaded; delete it and rerun to rebuild it, and do not open it elsewhere "
        "unless you trust whoever wrote it.")


def torch_load(path: str | Path, what: str = "file") -> Any:
    """torch.load of tensors and plain values only, with errors that name the file."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if refused(e):  # a global genbench never writes: a crafted pickle
            raise unsafe_file(path, what, e) from None
        raise damaged_file(path, what, e) from e
    except Exception as e:  # torch raises several unrelated types for damaged files
        raise damaged_file(path, what, e) from e


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
    # The checksum catches damage, not a crafted file saved with its own matching sidecar.
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if refused(e):
            raise unsafe_file(path, "cache", e) from None
        raise damaged_file(path, "cache", e) from e


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
    """$GENBENCH_CACHE, else ~/.cache/genbench, created if missing."""
    setting = os.environ.get("GENBENCH_CACHE")
    path = Path(setting or Path.home() / ".cache" / "genbench").expanduser()
    named = f"GENBENCH_CACHE={setting}" if setting else f"the cache directory {path}"
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{named} names a file; it must name a directory (created if "
                          "missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # no permission, a read-only disk, a file as a parent, ...
        raise ConfigError(f"{named} cannot be created ({e.strerror}); point GENBENCH_CACHE "
                          "at a directory you can write") from e
    return path
