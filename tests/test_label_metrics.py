"""The classifier's label statistics (metrics/labels.py): exact values on constructed
probabilities; on real MNIST digits through the shipped classifier, what held-out, blurred,
half-class and noise images give; the judge's metrics and calibration rows holding them; and
the judge gate's checks of them."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from genbench.judge import Judge, inputs_for, shipped
from genbench.judge.inputs import held_out_order
from genbench.metrics import calibration_sets, label_metrics, label_statistics
from genbench.metrics.calibration import HALF_CLASSES, HELDOUT, blur
from genbench.metrics.classifier import load_classifier
from genbench.metrics.labels import CONFIDENT, COVERED_SHARE, label_histogram
from genbench.reports import gate
from genbench.settings import RunConfig

N = 1000


# -- the definitions, on constructed probabilities ------------------------------------------

def one_hot_rows(classes: list[int], k: int, top: float = 1.0) -> torch.Tensor:
    """Rows with `top` on each class and the rest spread evenly over the others."""
    rows = torch.full((len(classes), k), (1 - top) / (k - 1), dtype=torch.float64)
    rows[torch.arange(len(classes)), torch.tensor(classes)] = top
    return rows


def test_exact_values_on_constructed_probabilities():
    data = torch.arange(4).repeat(25)  # 4 balanced classes
    # 8 images: 4 of class 0, 4 of class 1; tops 0.95 (4 of them) and 0.5 (4)
    probabilities = torch.cat([one_hot_rows([0, 0, 1, 1], 4, 0.95),
                               one_hot_rows([0, 0, 1, 1], 4, 0.5)])
    stats = label_statistics(probabilities, data, smoothing=0.0)
    assert stats["confident_share"] == 0.5
    assert stats["classes_covered"] == 2 and stats["num_classes"] == 4
    assert stats["label_kl"] == pytest.approx(math.log(2), abs=1e-12)  # 2 of 4 classes
    everything = label_statistics(one_hot_rows([0, 1, 2, 3], 4), data, smoothing=0.0)
    assert everything == {"confident_share": 1.0, "classes_covered": 4, "num_classes": 4,
                          "label_kl": 0.0}
    single = label_statistics(one_hot_rows([2] * 5, 4), data, smoothing=0.0)
    assert single["classes_covered"] == 1
    assert single["label_kl"] == pytest.approx(math.log(4), abs=1e-12)


def test_a_stray_image_does_not_cover_a_class_and_kl_follows_the_data():
    # data: class 0 holds half, classes 1-3 a sixth each
    data = torch.tensor([0] * 3 + [1, 2, 3])
    assert torch.allclose(label_histogram(data, 4),
                          torch.tensor([0.5, 1 / 6, 1 / 6, 1 / 6], dtype=torch.float64))
    # 100 images: 60 of class 0, 39 of class 1, one stray of class 2
    predicted = [0] * 60 + [1] * 39 + [2]
    stats = label_statistics(one_hot_rows(predicted, 4), data, smoothing=0.0)
    # class 2 has 1% against the data's 1/6: below a quarter of it (4.2%)
    assert 0.01 < COVERED_SHARE / 6 and stats["classes_covered"] == 2
    expected = 0.6 * math.log(0.6 / 0.5) + 0.39 * math.log(0.39 * 6) + 0.01 * math.log(0.06)
    assert stats["label_kl"] == pytest.approx(expected, rel=1e-12)


def test_the_label_smoothing_is_undone_before_the_threshold():
    data = torch.arange(10)
    # smoothing 0.1 on 10 classes: a sure classifier says 0.91; 0.9 * 0.9 + 0.01 = 0.82 is
    # the threshold's raw equivalent
    probabilities = torch.cat([one_hot_rows([3], 10, 0.91), one_hot_rows([4], 10, 0.83),
                               one_hot_rows([5], 10, 0.81), one_hot_rows([6], 10, 0.5)])
    assert label_statistics(probabilities, data, smoothing=0.1)["confident_share"] == 0.5
    assert label_statistics(probabilities, data, smoothing=0.0)["confident_share"] == 0.25
    assert CONFIDENT == 0.9


def test_a_class_missing_from_the_data_keeps_the_kl_finite():
    stats = label_statistics(one_hot_rows([0, 1, 2], 3), torch.tensor([0, 0, 1, 1]),
                             smoothing=0.0)
    assert math.isfinite(stats["label_kl"]) and stats["classes_covered"] == 3
    with pytest.raises(ValueError, match="classifier has 3 classes"):
        label_statistics(one_hot_rows([0], 3), torch.tensor([0, 5]))


# -- on real digits, through the shipped MNIST classifier -----------------------------------

@pytest.fixture(scope="module")
def digits(mnist):
    train, test = mnist
    classifier = load_classifier(shipped.shipped_judge("mnist").classifier)
    sets = calibration_sets(held_out_order(test).images, train.images[:N], N,
                            held_out_order(test).labels, reference_size=N, seed=0)
    return classifier, train.labels, sets


def test_real_held_out_digits_are_confident_of_every_class_in_proportion(digits):
    classifier, labels, sets = digits
    stats = label_metrics(classifier, sets[HELDOUT], labels, batch_size=300)
    assert stats["confident_share"] > 0.9
    assert stats["classes_covered"] == stats["num_classes"] == 10
    assert stats["label_kl"] < 0.02


def test_half_the_classes_cover_five_and_cost_log_2(digits):
    classifier, labels, sets = digits
    stats = label_metrics(classifier, sets[HALF_CLASSES], labels)
    assert stats["classes_covered"] == 5
    assert stats["label_kl"] == pytest.approx(math.log(2), abs=0.1)


def test_blur_lowers_the_confident_share_and_noise_is_no_digit(digits):
    classifier, labels, sets = digits
    held = label_metrics(classifier, sets[HELDOUT], labels)["confident_share"]
    blurred = label_metrics(classifier, blur(sets[HELDOUT], 2.0), labels)["confident_share"]
    assert blurred < held - 0.1
    noise = torch.randint(0, 256, (N, 1, 28, 28), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
    stats = label_metrics(classifier, noise, labels)
    assert stats["confident_share"] < 0.5 or stats["classes_covered"] <= 3


def test_the_judge_reports_them_in_the_classifier_space_and_its_calibration_row(
        tmp_path, monkeypatch, mnist):
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path / "cache"))
    run = RunConfig.from_dict({"name": "ae", "model": "ae", "seed": 0, "model_config": {},
                               "data": {"name": "mnist", "max_train": 500, "max_test": 500},
                               "train": {"steps": 1},
                               "eval": {"fid_samples": 200, "copy_train": 500}})
    inputs = inputs_for(run, (mnist[0].subset(500), held_out_order(mnist[1])))
    judge = Judge(inputs, 200, bootstrap_rounds=10)
    images = inputs.test.images[200:400]
    metrics = judge.judge(images, inputs.test.labels[200:400]).metrics
    assert metrics["conditional_accuracy"] > 0.95
    assert metrics["num_classes"] == 10 and metrics["classes_covered"] == 10
    assert metrics["confident_share"] > 0.8 and metrics["label_kl"] < 0.1
    rows = judge.real_rows(images)
    keys = ("confident_share", "classes_covered", "num_classes", "label_kl")
    assert all(rows["classifier"][k] == metrics[k] for k in keys)
    assert not any(k in rows[space] for k in keys for space in rows if space != "classifier")


# -- the judge gate checks them -------------------------------------------------------------

def entry(half: dict, blur_share: float = 0.4, held_share: float = 0.95) -> dict:
    rows = [{"set": HELDOUT, "fid": 0.2, "confident_share": held_share}]
    rows += [{"set": f"blur σ={s:g}", "fid": f, "confident_share": c}
             for s, f, c in ((0.5, 0.5, 0.96), (1, 4.0, 0.85), (2, 60.0, blur_share))]
    rows += [{"set": HALF_CLASSES, "fid": 19.0, "num_classes": 10, **half}]
    return {"dataset": "d", "fid_extractor": "classifier", "fid_samples": 2000, "rows": rows}


PART = pd.DataFrame([{"run": "m-s0", "model": "m", "dataset": "d", "fid_extractor": "classifier",
                      "fid_samples": 2000, "classifier_accuracy": 0.99, "fid": 3.0}])
GOOD = {"classes_covered": 5, "label_kl": 0.66}


def test_the_gate_passes_a_judge_that_sees_half_the_classes_and_blur():
    assert gate.judge_gate(PART, [entry(GOOD)]) == {}
    assert gate.judge_gate(PART, [entry({"classes_covered": 6, "label_kl": 0.557})]) == {}
    # rows without label statistics (an older calibration) are not checked
    old = entry({})
    for row in old["rows"]:
        row.pop("confident_share", None)
    assert gate.judge_gate(PART, [old]) == {}


@pytest.mark.parametrize("half, blur_share, says", [
    ({"classes_covered": 9, "label_kl": 0.05}, 0.4, "9 of 10 classes covered, label KL 0.050"),
    ({"classes_covered": 5, "label_kl": 0.2}, 0.4, "does not show the dropped classes"),
    (GOOD, 0.97, "blur does not lower its confident share (confident ≥0.9: 0.970 at blur "
                 "σ = 2, 0.950 held out)")])
def test_the_gate_fails_a_judge_blind_to_dropped_classes_or_blur(half, blur_share, says):
    gates = gate.judge_gate(PART, [entry(half, blur_share)])
    assert list(gates) == ["classifier"] and says in gates["classifier"][0]
    assert gate.warnings(gates)[0].startswith("Judge gate: the classifier space names no winner")
