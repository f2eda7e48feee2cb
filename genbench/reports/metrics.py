"""What a number in the report is: one registry entry per metric (its title, which way is
better, its decimals, the question it answers, its unit, how it is derived where it is not
stored), read by every table, caption, headline and CSV. A new metric is one entry here.

Families of keys (nll_k1, nll_k100, bpd_k1 ...) are one pattern entry: `{k}` in the title
stands for the number after the prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pandas as pd

QUESTIONS = ("samples", "reconstruction", "likelihood", "cost")  # the tables, in order


@dataclass(frozen=True)
class Metric:
    key: str  # the metrics.json key (a pattern's prefix, e.g. "nll_k")
    title: str  # column heading
    question: str  # one of QUESTIONS: the table it is shown in, results-long.csv's `question`
    better: str | None = None  # "low" | "high" | None (no ranking)
    decimals: int = 2
    unit: str = ""  # how the headline says a value: "3.2 ms per image"; "" -> "FID 3.20"
    headline: str | None = None  # the headline's question when this metric answers it
    per_seed: bool = True  # False: a constant of the model (params): no spread over seeds
    in_table: bool = True  # False: in the CSVs only
    derive: Callable[[pd.DataFrame], pd.Series] | None = None  # from stored keys
    needs: tuple[str, ...] = ()  # the stored keys `derive` reads
    pattern: bool = False  # key is a prefix, followed by an integer k
    scientific: bool = False  # '1.6e13' (FLOPs), with `decimals` significant digits
    space: str | None = None  # measured in this feature space, not the run's (own table)
    flag: str | None = None  # a boolean key whose truth is written beside the value
    beside: str | None = None  # another metric the headline says beside this one's value

    def number(self, value: float) -> str:
        return (scientific(value, self.decimals) if self.scientific
                else f"{value:,.{self.decimals}f}")

    def text(self, value: float) -> str:
        """The value as the headline says it: 'FID 3.13', '1,010 images/s'."""
        number = self.number(value)
        return f"{number} {self.unit}" if self.unit else f"{self.title} {number}"


def scientific(value: float, digits: int = 2) -> str:
    """'1.6e13': `digits` significant digits and a plain exponent ('40' below 1e3)."""
    text = f"{value:.{digits}g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


REGISTRY: tuple[Metric, ...] = (
    Metric("fid", "FID", "samples", "low", 2, headline="Best samples"),
    Metric("kid", "KID", "samples", "low", 4),
    # the Fréchet Wavelet Distance: wavelet packets, no network (judge.py's third space)
    Metric("fwd", "FWD [wavelet]", "samples", "low", 3),
    Metric("precision", "precision", "samples", "high", 3),
    Metric("recall", "recall", "samples", "high", 3),
    Metric("density", "density", "samples", None, 3),  # ~1 for real images: no direction
    Metric("coverage", "coverage", "samples", "high", 3, flag="collapsed"),
    Metric("conditional_accuracy", "cond. accuracy", "samples", "high", 3),
    # the dataset classifier's label statistics (metrics/labels.py): are these digits, of
    # every class, in the data's proportions?
    Metric("confident_share", "confident ≥0.9", "samples", "high", 3),
    Metric("classes_covered", "classes", "samples", "high", 0),
    Metric("label_kl", "label KL", "samples", "low", 3),
    Metric("copy_fraction", "copies", "samples", None, 3, flag="copying"),
    Metric("duplicate_fraction", "duplicates", "samples", None, 3, in_table=False),
    Metric("copy_meehan_z", "copy z (Meehan)", "samples", None, 1, in_table=False),
    Metric("fid_selfsupervised", "FD", "samples", "low", 2, space="selfsupervised"),
    Metric("kid_selfsupervised", "KID", "samples", "low", 4, space="selfsupervised"),
    # the k-NN fidelity and diversity of the label-free space, beside its FD
    Metric("precision_selfsupervised", "precision", "samples", "high", 3,
           space="selfsupervised"),
    Metric("recall_selfsupervised", "recall", "samples", "high", 3, space="selfsupervised"),
    Metric("mse", "MSE", "reconstruction", "low", 4, headline="Best reconstructions"),
    Metric("bce", "BCE (nats)", "reconstruction", "low", 1),
    Metric("psnr", "PSNR (dB)", "reconstruction", "high", 2),
    Metric("ssim", "SSIM", "reconstruction", "high", 3),
    Metric("nll_k", "NLL k={k} (nats)", "likelihood", "low", 2, unit="nats",
           headline="Best likelihood", pattern=True),
    Metric("bpd_k", "bits/dim k={k}", "likelihood", "low", 4, unit="bits/dim", pattern=True),
    Metric("params", "params", "cost", None, 0, per_seed=False),
    Metric("train_seconds", "train s", "cost", None, 1, unit="s"),
    Metric("train_images_per_second", "train img/s", "cost", "high", 0, unit="images/s",
           headline="Fastest training"),
    Metric("sample_ms_per_image", "sample ms/img", "cost", "low", 3, unit="ms per image",
           headline="Fastest sampling", derive=lambda f: 1000 / f["sample_images_per_second"],
           needs=("sample_images_per_second",), beside="sample_flops"),
    # network FLOPs of one sample, counted like training FLOPs: the machine-free cost
    Metric("sample_flops", "sample FLOPs/img", "cost", "low", 2, unit="sampling FLOPs per image",
           scientific=True),
    Metric("peak_memory_mb", "peak MB", "cost", "low", 1, unit="MB", headline="Least memory"),
    # a latent sampler's fits to the training codes (models/latent.py), their encoding
    # included, at every curve point and at the end: what sampling through it costs
    Metric("sampler_seconds", "sampler fit s", "cost", None, 2, unit="s",
           derive=lambda f: f["sampler_prepare_seconds"].where(f["sampler_fit_seconds"].notna()),
           needs=("sampler_prepare_seconds", "sampler_fit_seconds")),
    Metric("eval_seconds", "curve eval s", "cost", None, 1, unit="s"),
    # the run's whole evaluation (curve points and the final one) against its training time:
    # budget a user does not get (the NFE sweep, a study of its own, is not counted, nor the
    # latent sampler's fits, in sampler fit s)
    Metric("eval_share", "eval % of train", "cost", None, 0, unit="%",
           derive=lambda f: 100 * (f["eval_seconds"] + f["final_eval_seconds"])
           / f["train_seconds"], needs=("eval_seconds", "final_eval_seconds", "train_seconds")),
    Metric("train_flops", "train FLOPs", "cost", None, 2, unit="FLOPs", scientific=True),
    Metric("flops_per_step", "FLOPs/step", "cost", None, 3, unit="FLOPs", per_seed=False,
           in_table=False, scientific=True),
)


FLAGS = tuple(m.flag for m in REGISTRY if m.flag)  # "collapsed", "copying"


def _k(key: str, prefix: str) -> int | None:
    rest = key[len(prefix):]
    return int(rest) if key.startswith(prefix) and rest.isdigit() else None


def metric(key: str) -> Metric | None:
    """The entry of a metrics.json key (a pattern's member gets its own key and title)."""
    for entry in REGISTRY:
        if entry.key == key and not entry.pattern:
            return entry
    for entry in REGISTRY:
        if entry.pattern and (k := _k(key, entry.key)) is not None:
            return replace(entry, key=key, title=entry.title.format(k=k), pattern=False)
    return None


def k_of(key: str) -> int | None:
    """100 for 'nll_k100': the number of a pattern member, None for plain keys."""
    entry = next((e for e in REGISTRY if e.pattern and _k(key, e.key) is not None), None)
    return _k(key, entry.key) if entry else None


def present(frame: pd.DataFrame, question: str | None = None,
            tables_only: bool = False) -> list[Metric]:
    """The metrics with a column in `frame`, in registry order (a pattern's members by k),
    optionally of one question, optionally only those shown in tables."""
    out = []
    for entry in REGISTRY:
        if entry.pattern:
            keys = sorted((c for c in frame.columns if _k(c, entry.key) is not None),
                          key=lambda c: _k(c, entry.key))
            out += [metric(c) for c in keys]
        elif entry.key in frame.columns:
            out.append(entry)
    return [m for m in out if (question is None or m.question == question)
            and (m.in_table or not tables_only)]


def with_derived(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every derivable metric computed from its stored keys (once, here)."""
    frame = frame.copy()
    for entry in REGISTRY:
        if entry.derive is not None and all(k in frame for k in entry.needs):
            frame[entry.key] = entry.derive(frame)
    return frame


def question_of(key: str) -> str | None:
    """'samples', 'reconstruction', 'likelihood' or 'cost' (None: not a registered metric)."""
    entry = metric(key)
    return entry.question if entry else None
