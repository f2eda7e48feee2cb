"""The calibration table of a dataset and feature space: real images (held out, blurred,
noised, of half the classes, training copies) measured exactly as the models' samples are
(calibration.json's `calibration`, written by judge/calibration.py), so that a reader can
place a model's FID between "slight" and "visible" damage. No value is bold: these are
reference points, not entries of a ranking. FWD (the judge's third space, wavelet packets, no
network) is a column of the run's own space's table, as it is of its sample-quality table: its
rows (entries of fid_extractor "wavelet", FWD stored as "fid") join the run's space's rows. In
the classifier's space, its label statistics (confident share, classes covered, label KL:
metrics/labels.py) are columns too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genbench.reports.metrics import metric
from genbench.reports.notes import note
from genbench.reports.table import Table, format_value

COLUMNS = ("fid", "kid", "fwd", "precision", "recall", "density", "coverage",
           "confident_share", "classes_covered", "label_kl",  # the classifier's label stats
           "copy_fraction")  # the registry's order, as the sample-quality table's
WAVELET = "wavelet"  # judge.py's WAVELET_SPACE: the calibration entries of FWD
SETS = {"held-out": "held-out (the floor)", "training images": "training images (copying)"}


def entry_for(entries: list[dict], dataset: str, extractor: str | None,
              n: int | None) -> dict | None:
    """The calibration entry of a dataset in a feature space at n samples."""
    return next((e for e in entries if e.get("dataset") == dataset
                 and e.get("fid_extractor") == extractor
                 and (n is None or e.get("fid_samples") == n)), None)


def calibration_table(entries: list[dict], part: pd.DataFrame, extractor: str | None,
                      n: float | None) -> Table | None:
    """The table of the calibration entry matching `part`'s dataset, `extractor` and n; None
    without one (runs of an older genbench, or a held-out split too small)."""
    if part.empty or n is None:
        return None
    entry = entry_for(entries, str(part["dataset"].iloc[0]), extractor, int(n))
    if entry is None or not entry.get("rows"):
        return None
    rows = pd.DataFrame(entry["rows"]).set_index("set")
    wavelet = None  # FWD's rows: a column of the run's own space's table
    if extractor == note(part, "fid_extractor"):
        wavelet = entry_for(entries, str(part["dataset"].iloc[0]), WAVELET, int(n))
    if wavelet is not None and wavelet.get("rows"):
        rows = rows.join(pd.DataFrame(wavelet["rows"]).set_index("set")["fid"].rename("fwd"))
    rows.index = pd.Index([SETS.get(s, s) for s in rows.index], name="real images")
    space = f"{extractor}, n={int(n)}"
    cells, values = pd.DataFrame(index=rows.index), pd.DataFrame(index=rows.index)
    for key in COLUMNS:
        if key not in rows or rows[key].isna().all():
            continue
        entry_ = metric(key)
        title = f"{entry_.title} [{space}]" if key in ("fid", "kid") else entry_.title
        if key == "fid" and extractor == "selfsupervised":
            title = f"FD [{space}]"
        if key == "fwd" or (key == "fid" and extractor == WAVELET):
            title = f"FWD [{WAVELET}, n={int(n)}]"
        if key == "classes_covered" and "num_classes" in rows:
            title = f"{entry_.title} (of {int(rows['num_classes'].max())})"
        values[title] = rows[key].astype(float)
        cells[title] = [format_value(v, decimals=entry_.decimals) for v in values[title]]
        if entry_.flag in rows:
            flagged = rows[entry_.flag].fillna(False).astype(bool)
            cells.loc[flagged, title] = cells.loc[flagged, title] + f" ({entry_.flag})"
    return Table("calibration", f"Calibration [{space}]",
                 caption(entry, extractor, n, wavelet if "fwd" in rows else None),
                 cells, values.replace({None: np.nan}))


def caption(entry: dict, extractor: str | None, n: float, wavelet: dict | None = None) -> str:
    text = (f"What the numbers mean: {int(n):,} real images measured exactly as the samples "
            f"are (against the same reference, in {extractor} features): held-out images "
            "outside the reference (the floor a perfect model reaches at this n), blurred "
            "(Gaussian σ in pixels), noised (Gaussian σ as a fraction of the pixel range), "
            "of half the classes (dropped modes: recall and coverage fall), and training "
            "images (a model that copies: FID cannot tell).")
    if "copy_fraction" in {k for row in entry["rows"] for k in row}:
        text += (" Copies: as in the sample-quality table, against the first "
                 f"{int(entry.get('copy_candidates', 0)):,} training images; only the training"
                 " images are to be flagged 'copying'.")
    if "label_kl" in {k for row in entry["rows"] for k in row}:
        text += (" Label statistics of the classifier's predictions: 'confident ≥0.9', the "
                 "share of images whose top class probability is at least 0.9 (the "
                 "classifier's label smoothing undone; blur must lower it); 'classes', the "
                 "classes that get at least a quarter of the share the training data gives "
                 "them; 'label KL', KL(predicted labels ‖ training labels) in nats (half the "
                 "classes: about log 2).")
    if extractor == WAVELET:
        wavelet = entry
    if wavelet is not None and wavelet.get("rows"):
        first = wavelet["rows"][0]
        packets = f"{4 ** int(first['level'])} packets" if "level" in first else "packets"
        text += (" FWD: the Fréchet Wavelet Distance (Veeramacheneni et al., 2023), the mean "
                 f"over the {packets} of a {first.get('wavelet', 'haar')} wavelet packet "
                 "transform of the Fréchet distance of their coefficients: no network, lower "
                 "is better.")
    if extractor == "selfsupervised" and entry.get("selfsupervised_steps"):
        text += f" The encoder trained for {int(entry['selfsupervised_steps'])} steps."
    return text
