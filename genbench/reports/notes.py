"""What the numbers were measured on, as the captions say it: the machine beside every time,
what peak memory measures, and the per-run notes a table shows once."""

from __future__ import annotations

import pandas as pd


def machine_note(frame: pd.DataFrame) -> str:
    """' Times measured on Intel Xeon ..., 2 threads.' (per model where machines differ);
    runs written before the machine was recorded: their device."""
    empty = pd.Series(None, index=frame.index, dtype=object)
    machine, device = frame.get("machine", empty), frame.get("device", empty)
    if machine.isna().all() and device.isna().all():
        return ""
    names = machine.astype(object).where(machine.notna(), device).astype(str)
    if "threads" in frame:  # a machine named without its threads: add them
        extra = machine.notna() & frame["threads"].notna() & ~names.str.contains("thread")
        names = names.where(~extra, names + ", " + frame["threads"].map(
            lambda t: f"{t:.0f} threads" if pd.notna(t) else ""))
    distinct = list(dict.fromkeys(names))
    if len(distinct) == 1:
        return f" Times measured on {distinct[0]}."
    per = "; ".join(f"{name} ({', '.join(frame['model'][names == name])})" for name in distinct)
    return f" Times measured on: {per}."


def memory_measure(frame: pd.DataFrame) -> str:
    """What the peak memory column measures (runs written before it was recorded: their
    device says it; on a CPU that was the process's resident size, the same for every run)."""
    if measure := note(frame, "peak_memory_measure"):
        return str(measure)
    device = str(note(frame, "device") or "cpu")
    return "CUDA, peak allocated" if device.startswith("cuda") else "process peak RSS"


def note(frame: pd.DataFrame, key: str):
    values = frame[key].dropna() if key in frame else pd.Series(dtype=object)
    return values.iloc[0] if len(values) else None
