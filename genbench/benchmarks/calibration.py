"""The judge calibrated, once per shared setting of a dataset: real images, held out, blurred,
noised, of half the classes, and training images (a model that copies), measured exactly as
a model's samples are (metrics/calibration.py draws the sets): the same n, reference, feature
spaces and copy test. reference.json keeps the rows beside the FID floors; the report shows
one table per dataset and feature space.

Cost (counted, not timed) on the quick suite (n = 2,000, two 128-d spaces): 8 sets of 2,000
images through both networks (0.7 TFLOP), torch-fidelity's KID of each in the run's space (100
subsets of 1,000: 0.6 TFLOP in all), the copy test of each (8 x 10 GFLOP). Cached in the
data cache under the spaces' and sets' names: a rerun of a suite reads it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import torch

from genbench.benchmarks.inputs import RunInputs
from genbench.benchmarks.judge import whole_set_scores
from genbench.io import load_checksummed, save_checksummed
from genbench.metrics import (
    FeatureSpace,
    calibration_sets,
    collapse_check,
    copy_detection,
    density_coverage,
    extract_features,
    metrics_from_features,
)

log = logging.getLogger(__name__)
VERSION = 2  # part of the cache key: rows of an earlier definition are measured again
SEED = 0


def calibration_rows(inputs: RunInputs, batch_size: int = 500
                     ) -> dict[str, list[dict[str, Any]]] | str:
    """{feature space: [row per set]}: each row the set's name ("set") and its metrics; in
    the run's space also the copy test and collapse check. A str says why there is none
    (a held-out split too small for sets of n images outside the reference)."""
    n = len(inputs.reference)
    spaces = [s for s in (inputs.space, inputs.ssl_space) if s is not None]
    path = inputs.cache / f"genbench-calibration-{_key(inputs, spaces)}.pt"
    if (cached := load_checksummed(path)) is not None:
        return cached
    test = inputs.test
    try:
        sets = calibration_sets(test.images, inputs.copy_candidates, n, test.labels,
                                reference_size=n, seed=SEED)
    except ValueError as error:
        log.warning("no calibration of %s: %s", test.meta.get("name"), error)
        return str(error)
    train = inputs.train_features(batch_size)
    rows = {space.extractor: _measure(sets, inputs.reference_features(batch_size, space),
                                      space, train if space == inputs.space else None,
                                      batch_size)
            for space in spaces}
    save_checksummed(path, rows)
    return rows


def _measure(sets: dict[str, torch.Tensor], reference: torch.Tensor, space: FeatureSpace,
             train: torch.Tensor | None, batch_size: int) -> list[dict[str, Any]]:
    rows = []
    for name, images in sets.items():
        features = extract_features(images, space, batch_size)
        # The run's space: its numbers as the runs' (torch-fidelity); the second: as there.
        scores = (metrics_from_features(features, reference) if train is not None
                  else whole_set_scores(features, reference))
        row = {"set": name, **scores, **density_coverage(features, reference)}
        if train is not None:
            row.update(copy_detection(features, reference, train).summary())
            row.update(collapse_check(features, reference))
        rows.append(row)
    return rows


def _key(inputs: RunInputs, spaces: list[FeatureSpace]) -> str:
    blob = json.dumps([VERSION, SEED, inputs.reference_name, len(inputs.reference),
                       inputs.train_name, [s.fingerprint for s in spaces]])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def calibration_entry(inputs: RunInputs, identity: dict[str, Any],
                      batch_size: int = 500) -> list[dict[str, Any]]:
    """reference.json's calibration entries of one shared setting: one per feature space,
    `identity` (dataset, options, max_train ...) in each."""
    rows = calibration_rows(inputs, batch_size)
    common = {**identity, "fid_samples": len(inputs.reference),
              "copy_candidates": len(inputs.copy_candidates)}
    if isinstance(rows, str):
        return [{**common, "fid_extractor": inputs.space.extractor, "rows": [], "note": rows}]
    return [{**common, "fid_extractor": space, "rows": table} for space, table in rows.items()]
