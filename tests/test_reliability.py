"""Results that depend only on a run's configuration and seed (not on what the cache held),
and a completion mark that is always the last file a driver receives."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import torch

from genbench import metrics
from genbench.benchmarks import store
from genbench.benchmarks.executors.ray_job import Mailbox, Shipper
from genbench.cli import main
from genbench.io import atomic_write_bytes, atomic_write_json
from genbench.metrics import classifier

TINY = metrics.ClassifierSettings(epochs=1, batch_size=64, max_train=256)


def test_the_classifier_and_its_features_leave_the_global_random_stream_alone(sprites,
                                                                              tmp_path):
    train, test = sprites
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    path, accuracy = metrics.load_or_train(tmp_path, train, test.subset(200), TINY)
    space = metrics.FeatureSpace("classifier", path, accuracy)
    features = metrics.extract_features(test.images[:100], space, batch_size=50)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert features.shape == (100, classifier.FEATURES)
    # ... and it is still trained the same way every time: its own seeded stream
    torch.manual_seed(7)
    again, accuracy_again = classifier.train_classifier(train, test.subset(200), TINY)
    assert accuracy_again == accuracy
    saved = metrics.load_classifier(path).state_dict()
    assert all(torch.equal(saved[k], v) for k, v in again.state_dict().items())


def _train(out: Path, cache: Path, monkeypatch) -> dict:
    monkeypatch.setenv("GENBENCH_CACHE", str(cache))
    argv = ["train", "--model", "vae", "--dataset", "sprites", "--option", "size=28",
            "--max-train", "512", "--steps", "20", "--batch-size", "32", "--quiet",
            "--out", str(out)]  # the classifier trains on the 512 images too: 24 steps
    assert main(argv) == 0
    return {name: (out / name).read_text() for name in ("quality.csv", "loss.csv")}


def test_train_gives_the_same_results_with_a_cold_and_a_warm_cache(tmp_path, monkeypatch,
                                                                    capsys):
    cache = tmp_path / "cache"
    cold = _train(tmp_path / "cold", cache, monkeypatch)  # trains the classifier, extracts
    assert list(cache.glob("classifiers/*.pt"))  # the reference features
    warm = _train(tmp_path / "warm", cache, monkeypatch)  # finds both cached
    capsys.readouterr()
    assert len(cold["quality.csv"].splitlines()) >= 2  # a curve point was measured
    assert _without_timing(cold["quality.csv"]) == _without_timing(warm["quality.csv"])
    assert _without_timing(cold["loss.csv"]) == _without_timing(warm["loss.csv"])
    weights = [torch.load(d / "checkpoint.pt", weights_only=False)["model"]
               for d in (tmp_path / "cold", tmp_path / "warm")]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def _without_timing(csv_text: str) -> list[dict]:
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(csv_text)))
    return [{k: v for k, v in row.items() if "second" not in k and k != "time"} for row in rows]


class SlowJob:
    """A job's file writes in the order evaluation makes them, with pauses between them long
    enough for periodic ships: a logger's subfolder, then metrics.json, then more of the
    logger's files before the job returns."""

    def __init__(self, directory: Path, pause: float) -> None:
        self.directory, self.pause = directory, pause

    def __call__(self) -> None:
        write = atomic_write_bytes
        write(self.directory / "loss.csv", b"step,loss\n1,0.5\n")
        write(self.directory / "logs" / "events.1", b"first")
        time.sleep(self.pause)
        write(self.directory / "train.json", b"{}")
        write(self.directory / "logs" / "events.2", b"second")
        atomic_write_json(self.directory / store.METRICS, {"fid": 1.0})
        time.sleep(self.pause)  # periodic ships happen while metrics.json exists
        write(self.directory / "logs" / "deep" / "events.3", b"third")
        time.sleep(self.pause)


def test_the_completion_mark_is_the_last_file_the_driver_receives(tmp_path):
    directory = tmp_path / "run"
    directory.mkdir()
    mailbox = Mailbox()  # the actor's class, here a plain object in this process
    job = threading.Thread(target=SlowJob(directory, pause=0.2))
    with Shipper(directory, "run-0", mailbox.put, interval=0.02):
        job.start()
        job.join()
    _, arrivals = mailbox.drain()
    assert len(arrivals) >= 3  # periodic ships did happen while the job ran
    received = [name for _, files in arrivals for name in files]
    assert received[-1] == store.METRICS and received.count(store.METRICS) == 1
    assert list(arrivals[-1][1]) == [store.METRICS]  # alone in its put
    assert set(received) == {"loss.csv", "train.json", "logs/events.1", "logs/events.2",
                             "logs/deep/events.3", store.METRICS}
    assert mailbox.newest["run-0"]["logs/deep/events.3"] == b"third"
