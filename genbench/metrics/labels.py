"""Are these digits? The dataset classifier's verdict on a set of images, as label statistics:
how sure it is of each image's class, and whether the classes come in the data's proportions.

    confident_share  the share of images whose top class probability is at least CONFIDENT
                     (0.9): the classifier's analogue of the Inception Score's sharpness term
    classes_covered  how many classes appear among the images, of num_classes
    label_kl         KL(images' predicted-label histogram ‖ the data's label histogram), nats

The classifier learnt smoothed targets (ClassifierSettings.label_smoothing ε = 0.1: the true
class 1 − ε + ε/K = 0.91), so a digit it has no doubt about gets 0.91, not 1: its
probabilities are mapped back through the smoothing, p' = (p − ε/K) / (1 − ε), before the
0.9 threshold (a raw top probability of 0.82 on 10 classes). Without that, 0.9 sits on the
ceiling, and MNIST's own held-out digits would score 0.73 (0.96 with it).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genbench.metrics.classifier import ClassifierSettings, predict

CONFIDENT = 0.9  # a top (unsmoothed) class probability at least this: "sure of the class"
# A class appears among the images when they give it at least this fraction of the share the
# data gives it (MNIST: 2.5% of the images for a class with 10%, 50 of 2,000): one stray image
# is 1/n of the set, far below; a class the images really hold, even at half the data's
# share, is far above. A bare count (one image or more) would call a model that makes only
# ones and a few smudges "all 10 classes".
COVERED_SHARE = 0.25
LABEL_SMOOTHING = ClassifierSettings.label_smoothing  # what the classifiers were trained with
LABEL_KEYS = ("confident_share", "classes_covered", "num_classes", "label_kl")


def label_histogram(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The share of each class among `labels` (float64, sums to 1). A class without any
    image gets half an image's share (then renormalised), so that KL against it is finite."""
    counts = torch.bincount(labels.long().cpu(), minlength=num_classes).double()
    if len(counts) > num_classes:
        raise ValueError(f"labels reach {len(counts) - 1}, the classifier has {num_classes} "
                         "classes")
    counts = counts.clamp(min=0.5)
    return counts / counts.sum()


def label_statistics(probabilities: torch.Tensor, data_labels: torch.Tensor,
                     smoothing: float = LABEL_SMOOTHING) -> dict[str, float | int]:
    """confident_share, classes_covered (of num_classes) and label_kl of images whose class
    probabilities (softmax, [N, K]) are `probabilities`, against the label histogram of
    `data_labels` (the training split's).

    label_kl is KL(q ‖ p), q the images' predicted labels (argmax), p the data's: a sum over
    the classes the images have, so it stays finite when they miss classes (the reverse,
    KL(p ‖ q), is infinite as soon as one class is missing, and would say nothing about how
    many), and it is log 2 for images of half the classes of a balanced dataset in their
    proportions: −log of the data's share of the classes the images keep.
    """
    probabilities = probabilities.double().cpu()
    n, k = probabilities.shape
    if n == 0:
        raise ValueError("label statistics need at least one image")
    top, predicted = probabilities.max(1)
    unsmoothed = (top - smoothing / k) / (1 - smoothing)  # the smoothed targets undone
    p = label_histogram(data_labels, k)
    q = torch.bincount(predicted, minlength=k).double() / n
    held = q > 0
    return {"confident_share": float((unsmoothed >= CONFIDENT).double().mean()),
            "classes_covered": int((q >= COVERED_SHARE * p).sum()),
            "num_classes": k,
            "label_kl": max(0.0, float((q[held] * (q[held] / p[held]).log()).sum()))}


@torch.no_grad()
def label_metrics(classifier: nn.Module, images: torch.Tensor, data_labels: torch.Tensor,
                  batch_size: int = 1000,
                  smoothing: float = LABEL_SMOOTHING) -> dict[str, float | int]:
    """label_statistics of uint8 `images` through `classifier`, `batch_size` at a time."""
    logits = predict(classifier, images, batch_size)
    return label_statistics(logits.softmax(1), data_labels, smoothing)


def half_classes_kl(num_classes: int) -> float:
    """label_kl of images of the first max(1, K // 2) classes (the calibration's 'half the
    classes') of a balanced dataset, classified without error: log(K / kept)."""
    return math.log(num_classes / max(1, num_classes // 2))
