"""Faults of the machine, not of the model: a disk full, a quota, a read-only or unwritable
folder, an I/O error. A run they stop is no result: nothing is recorded (a failed.json would
make a rerun skip a run the model never failed), the command stops with one line, and the
next run with space resumes it."""

from __future__ import annotations

import errno
from pathlib import Path

from genbench.errors import GenbenchError


class MachineFault(GenbenchError, RuntimeError):
    """The machine, not the model, stopped a run (disk full, quota, read-only, permissions,
    I/O error): nothing is recorded, so that the run stays unfinished and a rerun resumes it."""


# OSError numbers that say the machine cannot store a run's files, whatever the model does.
MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                            errno.EIO})


def machine_fault(error: BaseException) -> OSError | None:
    """The OSError of a machine fault behind `error`: the error itself, or one it was raised
    from or while handling (a wrapper must not turn a full disk into a model's failure)."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, OSError) and cause.errno in MACHINE_ERRNOS:
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def raise_machine_fault(run_id: str, directory: Path, error: BaseException) -> None:
    """Raise MachineFault when a machine fault is behind `error`; otherwise return."""
    fault = machine_fault(error)
    if fault is None:
        return
    where = fault.filename or directory
    raise MachineFault(f"run {run_id} could not write its files ({fault.strerror}: {where}); "
                       "free space or fix permissions and rerun: the run resumes") from error
