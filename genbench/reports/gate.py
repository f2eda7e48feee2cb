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
  from every real image, so it cannot tell a good model from a bad one;
- (the classifier's space, where its calibration rows hold its label statistics,
  metrics/labels.py) its half-classes row does not show the dropped classes: classes covered
  more than HALF_CLASS_SLACK from the kept max(1, K // 2), or label KL more than
  HALF_KL_TOLERANCE (relative) from log(K / kept), log 2 for 10 classes; or blur does not
  lower its confident share (the strongest blur's at least the held-out images'). A
  classifier that cannot see a missing half of the classes, or is as sure of a smudge as of
  a digit, cannot judge whether samples are digits.
"""

from __future__ import annotations

import re

import pandas as pd

from genbench.metrics.calibration import HALF_CLASSES, HELDOUT
from genbench.metrics.labels import half_classes_kl
from genbench.reports.calibration import WAVELET, entry_for
from genbench.reports.notes import note
from genbench.reports.samples import SECOND
from genbench.reports.table import Table

ACCURACY = 0.85  # the least test accuracy of a classifier whose features judge samples
DAMAGE = ("blur", "noise")  # calibration rows that must grow with their σ
Gates = dict[str, list[str]]  # failing space -> why, in words
# The half-classes row's label statistics: within one class of the kept half, and label KL
# within 30% of log(K / kept) (MNIST's shipped judge: 5 classes, 0.659 against log 2 = 0.693,
# -5%: its training data gives the kept digits 51%, not 50%; Fashion-MNIST's: 6 classes,
# 0.557, -20%: shirts taken for the tops and coats kept; n = 2,000).
HALF_CLASS_SLACK = 1
HALF_KL_TOLERANCE = 0.3


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


def _labels(entry: dict | None) -> list[str]:
    """Why the classifier's label statistics fail the calibration's half-classes and blur
    rows ([] where they pass, or where the rows have none: calibrations of an older genbench,
    spaces other than the classifier's)."""
    rows = {str(r.get("set")): r for r in (entry or {}).get("rows") or []}
    out = []
    half = rows.get(HALF_CLASSES) or {}
    k = int(half.get("num_classes") or 0)
    if k >= 2 and half.get("label_kl") is not None and half.get("classes_covered") is not None:
        kept, want = max(1, k // 2), half_classes_kl(k)
        covered, kl = int(half["classes_covered"]), float(half["label_kl"])
        if abs(covered - kept) > HALF_CLASS_SLACK or abs(kl - want) > HALF_KL_TOLERANCE * want:
            out.append(f"its half-classes calibration row does not show the dropped classes "
                       f"({covered} of {k} classes covered, label KL {kl:.3f}; real images of "
                       f"{kept} classes need {kept} ± {HALF_CLASS_SLACK} and about "
                       f"log({k}/{kept}) = {want:.3f})")
    held = (rows.get(HELDOUT) or {}).get("confident_share")
    blurs = sorted((float(m.group(1)), r["confident_share"]) for name, r in rows.items()
                   if r.get("confident_share") is not None
                   and (m := re.fullmatch(r"blur σ=([\d.]+)", name)))
    if held is not None and blurs and blurs[-1][1] >= held:
        sigma, share = blurs[-1]
        out.append(f"blur does not lower its confident share (confident ≥0.9: {share:.3f} at "
                   f"blur σ = {sigma:g}, {held:.3f} held out)")
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
        reasons += _monotone(entry, space) + _labels(entry) + _blind(part, space)
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
