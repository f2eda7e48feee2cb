"""The sample-quality tables of one feature space and sample count: the run's own space (FID,
KID, precision, recall, density, coverage, copies) and the second space learnt without labels
(FD, KID), each followed by its calibration, and how far the two spaces agree on the ranking.
"""

from __future__ import annotations

import pandas as pd

from genbench.metrics.uncertainty import rank_agreement
from genbench.reports.calibration import calibration_table
from genbench.reports.metrics import scientific
from genbench.reports.notes import note
from genbench.reports.table import Table, metric_table

SECOND = "selfsupervised"  # the second space's name, as metrics.json's keys end
SCORED_MARK = " (scored)"  # runs.collect's mark on a scored run's model name


def sample_tables(part: pd.DataFrame, space: str, floor: dict | None, spread: str,
                  calibration: list[dict]) -> list[Table]:
    """[run's space, its calibration, second space, its calibration], those that apply."""
    n = note(part, "fid_samples")
    out = [sample_table(part, space, floor, spread),
           calibration_table(calibration, part, note(part, "fid_extractor"), n)]
    if f"fid_{SECOND}" in part and part[f"fid_{SECOND}"].notna().any():
        out += [second_table(part, f"{SECOND}, n={int(n)}", spread, calibration),
                calibration_table(calibration, part, SECOND, n)]
    return [t for t in out if t is not None]


def sample_table(part: pd.DataFrame, space: str, floor: dict | None, spread: str) -> Table:
    subset = note(part, "kid_subset")
    kid_space = f"{space}, subsets of {int(subset)}" if subset else space
    n = note(part, "fid_samples")
    titles = {"fid": f"FID [{space}]", "kid": f"KID [{kid_space}]",
              "fwd": f"FWD [wavelet, n={int(n)}]" if n else "FWD [wavelet]"}
    extractor, reference = note(part, "fid_extractor"), note(part, "fid_reference")
    caption = (f"Generated samples against {int(reference) if reference else 'the'} held-out "
               f"images in {extractor} features: FID and KID, lower is better; precision and "
               "recall, higher is better.")
    if "coverage" in part and part["coverage"].notna().any():
        caption += (" Density and coverage (Naeem et al., 2020, k = 5): density is about 1 for"
                    " real images, coverage higher is better; 'collapsed': at least half the "
                    "samples are near-duplicates of each other, or coverage is below 0.2 with "
                    "precision at least 0.5.")
    if "copy_fraction" in part and part["copy_fraction"].notna().any():
        candidates = note(part, "copy_candidates")
        which = f"the first {int(candidates):,} training images" if candidates else "training"
        percentile = note(part, "copy_percentile") or 1
        caption += (f" Copies: the fraction of samples nearer to one of {which} than "
                    f"{100 - percentile:g}% of the reference images are (about "
                    f"{percentile / 100:g} for a model that does not copy); 'copying': more "
                    "than the reference's own fraction, at z > 3, and nearer the training "
                    "images than held-out images are within k-means cells (Meehan et al.'s "
                    "C_T < −3).")
    if "fwd" in part and part["fwd"].notna().any():
        caption += (" FWD: the Fréchet Wavelet Distance of the same samples (wavelet packets, "
                    "no network), lower is better.")
    if "conditional_accuracy" in part and part["conditional_accuracy"].notna().any():
        caption += " Cond. accuracy: the classifier's accuracy on label-conditioned samples."
    if "label_kl" in part and part["label_kl"].notna().any():
        caption += (" Are these the data's images? 'confident ≥0.9': the share of samples the "
                    "classifier gives one class a probability of at least 0.9; 'classes': the "
                    "classes with at least a quarter of their share of the training data; "
                    "'label KL': KL(predicted labels ‖ training labels), nats, lower is better.")
    if floor:
        real = "training images" if floor.get("floor_set") == "training images" else \
            "held-out images outside the reference"  # results written before calibration.json
        caption += f" Real {real} score FID {floor['fid']:.2f} here (the floor)."
    accuracy = (floor or {}).get("classifier_accuracy") or note(part, "classifier_accuracy")
    if extractor == "classifier" and accuracy:
        caption += f" The feature classifier's test accuracy: {accuracy:.2%}."
    if judge := note(part, "judge"):  # its version and hashes: numbers compare across reports
        caption += f" Judge: {judge}."
    if rounds := note(part, "bootstrap_rounds"):
        caption += f" Intervals: 95%, from {int(rounds)} bootstrap rounds."
    basis = final_basis(part)
    table = metric_table("samples", f"Sample quality [{space}]", part, "samples",
                   caption + (f" Compared at {basis}." if basis else "") + spread, titles)
    table.basis = basis
    return table


def second_table(part: pd.DataFrame, space: str, spread: str,
                 calibration: list[dict]) -> Table:
    """FD and KID of the same samples against the same reference in the second space."""
    titles = {f"fid_{SECOND}": f"FD [{space}]", f"kid_{SECOND}": f"KID [{space}]"}
    caption = ("The same samples against the same reference in a second feature space, learnt"
               " by genbench on the training split without labels (a SimCLR encoder): FD "
               "(FID's Fréchet distance) and KID (the unbiased MMD² on the whole sets), lower "
               "is better. It sees what the classifier may overlook because it does not change "
               "the class.")
    agreement = agreement_sentence(part)
    table = metric_table(f"samples-{SECOND}", f"Sample quality [{space}]", part, "samples",
                   caption + (f" {agreement}" if agreement else "") + spread, titles,
                   space=SECOND)
    table.basis = final_basis(part)
    return table


def agreement_sentence(part: pd.DataFrame) -> str:
    """Kendall's τ between the models' rankings by FID in the run's space and FD in the
    second space; '' with fewer than two models scored in both."""
    by_model = part.drop_duplicates("model").set_index("model")
    if f"fid_{SECOND}" not in by_model or "fid" not in by_model:
        return ""
    both = by_model[["fid", f"fid_{SECOND}"]].dropna()
    if len(both) < 2:
        return ""
    tau = rank_agreement(both["fid"].to_dict(), both[f"fid_{SECOND}"].to_dict())
    n, extractor = int(note(part, "fid_samples")), note(part, "fid_extractor")
    return (f"Rank agreement of the two spaces over {len(both)} models: Kendall's τ = "
            f"{tau:.2f} between FID [{extractor}, n={n}] and FD [{SECOND}, n={n}] (1: the same"
            " order, −1: reversed).")


def flag_sentence(part: pd.DataFrame) -> str:
    """'Flagged: gan has collapsed.' for the models the judge flags; '' for none."""
    by_model = part.drop_duplicates("model").set_index("model")
    said = []
    for flag, text in (("copying", "copies its training images"), ("collapsed",
                                                                   "has collapsed")):
        if flag in by_model:
            models = [m for m, v in by_model[flag].astype(float).items() if v > 0]
            said += [f"{', '.join(models)} {text}"] if models else []
    return f"Flagged: {'; '.join(said)}." if said else ""


def is_scored(model: str) -> bool:
    """Whether a model's row is a scored run's (samples made elsewhere: runs.collect marks
    its name); such a run was not trained here, and nothing says it was."""
    return str(model).endswith(SCORED_MARK)


def final_basis(part: pd.DataFrame) -> str:
    """'final weights after 60 s to 480 s of training, each model's own budget' (the trained
    models), and which rows are scored samples, trained elsewhere."""
    scored = part["model"].map(is_scored)
    trained = part[~scored]
    text = ""
    if "train_seconds" in trained and trained["train_seconds"].notna().any():
        low, high = trained["train_seconds"].min(), trained["train_seconds"].max()
        seconds = (f"{low:,.0f} s" if high <= low * 1.02 else f"{low:,.0f}–{high:,.0f} s")
        flops = trained["train_flops"].dropna() if "train_flops" in trained else []
        if len(flops) == len(trained) and flops.max() <= flops.min() * 1.01:
            # one FLOP budget for every model: that is the basis; seconds are this machine's
            text = (f"final weights after {scientific(flops.min())} training FLOPs each "
                    f"({seconds} of training on this machine)")
        elif high <= low * 1.02:
            text = f"final weights after {seconds} of training each"
        else:
            text = f"final weights after {seconds} of training, each model's own budget"
    if scored.any():
        names = ", ".join(part.loc[scored, "model"].astype(str))
        text += ("; " if text else "") + f"{names}: samples supplied, not trained here"
    return text
