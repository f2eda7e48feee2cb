"""The judges genbench ships: each file is what its manifest says (sha256, test accuracy
recomputed), MNIST's runs use them without training anything, and `genbench judge train`
writes a judge that loads the same way and is refused once tampered with."""

from __future__ import annotations

import hashlib

import pytest

from genbench import datasets
from genbench.judge import inputs_for, shipped
from genbench.metrics.classifier import ClassifierSettings, accuracy, load_classifier
from genbench.metrics.selfsupervised import SelfSupervisedSettings, load_encoder
from genbench.settings import RunConfig

SHIPPED = shipped.manifest()["judges"]


def test_both_real_datasets_ship_a_judge():
    assert set(SHIPPED) >= {"mnist", "fashion-mnist"}


@pytest.mark.parametrize("dataset", sorted(SHIPPED))
def test_each_shipped_file_matches_its_manifest(dataset):
    entry = SHIPPED[dataset]
    judge = shipped.shipped_judge(dataset)
    for network, path in (("classifier", judge.classifier), ("encoder", judge.encoder)):
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry[network]["sha256"]
        # the sidecar the cache loader checks says the same
        assert open(f"{path}.sha256").read().strip() == entry[network]["sha256"]
    test = datasets.load(dataset, "test", download=False)
    recomputed = accuracy(load_classifier(judge.classifier).for_inference(), test)
    assert recomputed == pytest.approx(entry["classifier"]["test_accuracy"], abs=5e-4)
    assert load_encoder(judge.encoder) is not None
    assert judge.name.startswith(f"genbench-{dataset}-v{entry['version']} (classifier "
                                 f"{entry['classifier']['sha256'][:8]}")


def test_an_mnist_run_is_judged_by_the_shipped_judge_and_trains_none(tmp_path, monkeypatch):
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path / "cache"))
    run = RunConfig.from_dict({"name": "ae", "model": "ae", "seed": 0, "model_config": {},
                               "data": {"name": "mnist", "max_train": 500, "max_test": 500},
                               "train": {"steps": 1}, "eval": {"fid_samples": 200}})
    inputs = inputs_for(run)
    judge = shipped.shipped_judge("mnist")
    assert inputs.space.weights == judge.classifier and inputs.ssl_space.weights == judge.encoder
    assert inputs.judge_name == judge.name
    assert not (tmp_path / "cache" / "classifiers").exists()
    assert not (tmp_path / "cache" / "encoders").exists()


def test_a_judge_trained_by_the_command_loads_and_a_tampered_one_is_refused(tmp_path):
    train = datasets.load("sprites", "train", size=16)
    test = datasets.load("sprites", "test", size=16)
    entry = shipped.train_judge(train, test, tmp_path, log=lambda _: None,
                                classifier_settings=ClassifierSettings(epochs=1, max_train=256),
                                encoder_settings=SelfSupervisedSettings(steps=3, max_train=256),
                                calibration_samples=100)
    assert set(entry["calibration"]) == {"classifier", "selfsupervised"}
    judge = shipped.shipped_judge("sprites", folder=tmp_path)
    assert judge.test_accuracy == entry["classifier"]["test_accuracy"]
    judge.spaces()  # verified
    assert shipped.shipped_judge("sprites", {"size": 32}, folder=tmp_path) is None  # options
    data = bytearray(judge.encoder.read_bytes())
    data[-1] ^= 1
    judge.encoder.write_bytes(bytes(data))
    with pytest.raises(shipped.JudgeMismatch, match="does not match its manifest"):
        judge.spaces()
