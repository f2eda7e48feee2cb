"""The judge calibrated, once per shared setting of a dataset: real images, held out, blurred,
noised, of half the classes, and training images (a model that copies), measured by the one
Judge exactly as a model's samples are (metrics/calibration.py draws the sets): the same n,
reference, feature spaces and copy test. The held-out row is the floor: what a perfect model
scores at this n. The classifier space's rows also hold its label statistics (confident share,
classes covered, label KL), which the report's judge gate checks on the half-classes and
blurred rows. calibration.json keeps the rows; the report shows one table per dataset and
feature space.

Cost (counted, not timed) on the quick suite (n = 2,000, two 128-d spaces): 8 sets of 2,000
images through both networks (0.7 TFLOP), torch-fidelity's KID of each in the run's space (100
subsets of 1,000: 0.6 TFLOP in all), the bootstrap and copy test of each (8 x 35 GFLOP).
Cached in the data cache under the spaces' and sets' names: a rerun of a suite reads it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from genbench.io import load_checksummed, save_checksummed
from genbench.judge.judge import Judge
from genbench.metrics import calibration_sets
from genbench.metrics.calibration import HELDOUT

log = logging.getLogger(__name__)
VERSION = 6  # part of the cache key: rows of an earlier definition are measured again
# (5: the classifier space's rows hold its label statistics, metrics/labels.py)
SEED = 0


def calibration_rows(judge: Judge) -> dict[str, list[dict[str, Any]]] | str:
    """{feature space: [row per set]}: each row the set's name ("set") and what the judge
    says of it. A str says why there is none (a held-out split too small for sets of n images
    outside the reference)."""
    inputs = judge.inputs
    n = len(inputs.reference)
    path = inputs.cache / f"genbench-calibration-{_key(judge)}.pt"
    if (cached := load_checksummed(path)) is not None:
        return cached
    test = inputs.test
    try:
        sets = calibration_sets(test.images, inputs.copy_candidates, n, test.labels,
                                reference_size=n, seed=SEED)
    except ValueError as error:
        log.warning("no calibration of %s: %s", test.meta.get("name"), error)
        return str(error)
    rows: dict[str, list[dict[str, Any]]] = {}
    for name, images in sets.items():
        for space, row in judge.real_rows(images).items():
            rows.setdefault(space, []).append({"set": name, **row})
    save_checksummed(path, rows)
    return rows


def _key(judge: Judge) -> str:
    inputs = judge.inputs
    spaces = [s for s in (inputs.space, inputs.ssl_space) if s is not None]
    blob = json.dumps([VERSION, SEED, inputs.reference_name, len(inputs.reference),
                       inputs.train_name, judge.bootstrap_rounds,
                       [s.fingerprint for s in spaces]])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def calibration_entry(judge: Judge, identity: dict[str, Any]) -> list[dict[str, Any]]:
    """calibration.json's entries of one shared setting: one per feature space, `identity`
    (dataset, options, max_train, the judge ...) in each, and the floor (the held-out row's
    numbers) where there are rows."""
    inputs = judge.inputs
    rows = calibration_rows(judge)
    common = {**identity, "fid_samples": len(inputs.reference),
              "copy_candidates": len(inputs.copy_candidates)}
    if isinstance(rows, str):
        return [{**common, "fid_extractor": inputs.space.extractor, "rows": [], "note": rows}]
    return [{**common, "fid_extractor": space, "rows": table} for space, table in rows.items()]


def floor(entry: dict[str, Any]) -> dict[str, Any] | None:
    """The floor of a calibration entry: its held-out row (None where it has none)."""
    return next((row for row in entry.get("rows", []) if row.get("set") == HELDOUT), None)
