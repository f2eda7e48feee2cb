"""The judge gate: a feature space whose judge is weak names no winner.

A ranking in a feature space is only as good as the space. A space fails the gate, and the
report says so at the top and names no best model in it (its numbers are still shown), when:

- its classifier's test accuracy is below ACCURACY (the run's own space, when it is the
  dataset classifier's: Fashion-MNIST's has 91.9%, MNIST's 99.6%; a 3-class classifier that
  learnt nothing has 33%);
- its calibration is not monotone: real images blurred more (σ 0.5 < 1 < 2 pixels) or noised
  more (σ 0.05 < 0.15 < 0.3) must be further from the reference, or the distance does not
  measure damage;
- every model has precision and recall 0 in it: its neighbourhoods separate every sample
  from every real image, so it cannot tell a good model from a bad one.
"""

from __future__ import annotations

import re

import pandas as pd

from genbench.reports.calibration import WAVELET, entry_for
from genbench.reports.notes import note
from genbench.reports.samples import SECOND
from genbench.reports.table import Table

ACCURACY = 0.85  # the least test accuracy of a classifier whose features judge samples
DAMAGE = ("blur", "noise")  # calibration rows that must grow with their σ
Gates = dict[str, list[str]]  # failing space -> why, in words


def space_name(space: str) -> str:
    """'classifier' -> 'classifier space'; the label-free and wavelet spaces by what they are."""
    return {SECOND: "label-free (self-supervised) space", WAVELET: "wavelet (FWD) space"}.get(
        space, f"{space} space")


def _distance(space: str) -> str:
    return {SECOND: "FD", WAVELET: "FWD"}.get(space, "FID")


def _monotone(entry: dict | None, space: str) -> list[str]:
    """Why the calibration's damaged rows do not grow with their σ ([] where they do, or
    where there is no calibration to check)."""
    rows = (entry or {}).get("rows") or []
    out = []
    for damage in DAMAGE:
        found = sorted((float(m.group(1)), float(r["fid"])) for r in rows if r.get("fid")
                       is not None and (m := re.fullmatch(rf"{damage} σ=([\d.]+)",
                                                         str(r.get("set")))))
        values = [v for _, v in found]
        if any(b <= a for a, b in zip(values, values[1:], strict=False)):
            sigmas = ", ".join(f"{s:g}" for s, _ in found)
            shown = ", ".join(f"{v:.3g}" for v in values)
            out.append(f"its calibration is not monotone ({_distance(space)} at {damage} "
                       f"σ = {sigmas}: {shown}; it must grow with the damage)")
    return out


def _blind(part: pd.DataFrame, space: str) -> list[str]:
    """Why precision and recall cannot rank models here: 0 for every model."""
    suffix = f"_{SECOND}" if space == SECOND else ""
    keys = [f"precision{suffix}", f"recall{suffix}"]
    if space == WAVELET or not all(k in part for k in keys):
        return []
    both = part[keys].astype(float).dropna()
    if both.empty or (both != 0).any().any():
        return []
    return ["every model has precision and recall 0 in it"]


def judge_gate(part: pd.DataFrame, calibration: list[dict]) -> Gates:
    """The failing spaces of one dataset's models (summary rows of its compared sample
    count), each with its reasons; {} where every space passes."""
    if part.empty:
        return {}
    dataset, own = str(part["dataset"].iloc[0]), note(part, "fid_extractor")
    n = note(part, "fid_samples")
    spaces = [own] + [s for s, key in ((SECOND, f"fid_{SECOND}"), (WAVELET, "fwd"))
                      if key in part and part[key].notna().any()]
    gates: Gates = {}
    for space in spaces:
        reasons = []
        accuracy = note(part, "classifier_accuracy")
        if space == own == "classifier" and accuracy is not None and accuracy < ACCURACY:
            reasons.append(f"its classifier's test accuracy is {accuracy:.1%}, below the "
                           f"bound of {ACCURACY:.0%}")
        entry = entry_for(calibration, dataset, space, None if n is None else int(n)) \
            or entry_for(calibration, dataset, space, None)
        reasons += _monotone(entry, space) + _blind(part, space)
        if reasons:
            gates[space] = reasons
    return gates


def reason(gates: Gates, space: str) -> str:
    """'' where `space` passes, else the words a table or finding says instead of a winner
    (why in full: the headline's warning, and the space's sample table)."""
    if space not in gates:
        return ""
    return f"judge not trusted: the {space_name(space)} fails the judge gate"


def warnings(gates: Gates) -> list[str]:
    """The sentences at the top of the dataset's headline, one per failing space."""
    return [f"Judge gate: the {space_name(s)} names no winner here: {'; '.join(why)}."
            for s, why in gates.items()]


def apply(tables: list[Table], gates: Gates, own: str | None) -> None:
    """Every column measured in a failing space keeps its numbers but names no best: the run's
    own sample table (FWD, its wavelet column, goes by the wavelet space) and the label-free
    one."""
    for table in tables:
        if table.key == "samples":
            spaces = {c: WAVELET if c.startswith("FWD") else own for c in table.values}
        elif table.key == f"samples-{SECOND}":
            spaces = dict.fromkeys(table.values.columns, SECOND)
        else:
            continue
        for column, space in spaces.items():
            if why := reason(gates, space):
                table.unranked.setdefault(column, why)
        failed = [s for s in dict.fromkeys(spaces.values()) if s in gates]
        if failed:
            said = "; ".join(f"the {space_name(s)}: {'; '.join(gates[s])}" for s in failed)
            table.caption = f"Not ranked (judge not trusted: {said}). " + table.caption
