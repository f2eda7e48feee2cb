"""The dataset layer: real sets when present, generated sprites, folders, caches, errors."""

from __future__ import annotations

import gzip
import struct

import pytest
import torch
from conftest import load_or_skip
from PIL import Image

from genbench import datasets
from genbench.datasets import sprites as sprites_module


def test_registry_lists_every_dataset():
    assert {"mnist", "fashion-mnist", "celeba", "folder", "sprites"} <= set(datasets.available())


def test_unknown_dataset_names_the_choices():
    with pytest.raises(KeyError, match="unknown dataset 'mnsit'.*mnist"):
        datasets.load("mnsit")


def test_unknown_split_and_option_are_refused():
    with pytest.raises(ValueError, match="unknown split 'valid'"):
        datasets.load("sprites", "valid")
    with pytest.raises(ValueError, match="has no option"):
        datasets.load("sprites", colour=True)


def test_sprites_shapes_labels_and_factors():
    train = datasets.load("sprites", "train", size=32)
    test = datasets.load("sprites", "test", size=32)
    assert train.images.dtype == torch.uint8 and train.images.shape[1:] == (1, 32, 32)
    assert len(train) + len(test) == 3 * 6 * 10 * 8 * 8 and len(test) == len(train) // 9
    assert set(train.labels.unique().tolist()) == {0, 1, 2}
    assert torch.equal(train.labels, train.attributes[:, 0])
    # The same factors always render the same image, and different shapes differ.
    again = sprites_module.render(train.attributes[:5], size=32)
    assert torch.equal(again.view(5, 1, 32, 32), train.images[:5])
    assert int(train.images.max()) == 255 and int(train.images.min()) == 0


def test_mnist_real_files(mnist):
    train, test = mnist
    assert train.images.shape[1:] == (1, 28, 28) and train.images.dtype == torch.uint8
    assert len(test) == 10_000 and test.num_classes == 10
    assert train.labels.dtype == torch.int64 and set(train.labels.unique().tolist()) == set(
        range(10))
    # The count comes from the IDX header (this workplace ships 10,000 training digits).
    assert len(train) == train.meta["num_images"]
    counts = torch.bincount(test.labels, minlength=10)
    assert counts.min() > 800


def test_fashion_mnist_system_copy():
    train, test = load_or_skip("fashion-mnist"), load_or_skip("fashion-mnist", "test")
    assert (len(train), len(test)) == (60_000, 10_000)
    assert train.meta["class_names"][0] == "T-shirt/top"


def _write_idx(path, images: torch.Tensor | None = None, labels: torch.Tensor | None = None,
               truncate: int = 0):
    if images is not None:
        n, h, w = images.shape
        blob = struct.pack(">IIII", 0x0803, n, h, w) + images.numpy().tobytes()
    else:
        blob = struct.pack(">II", 0x0801, len(labels)) + labels.numpy().astype("uint8").tobytes()
    path.write_bytes(gzip.compress(blob[:len(blob) - truncate]))


def _fake_mnist(root, n=20, truncate=0):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    g = torch.Generator().manual_seed(0)
    for prefix in ("train", "t10k"):
        images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=g)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", images=images, truncate=truncate)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", labels=torch.arange(n) % 10)
    return raw


def test_cache_round_trip_and_corrupt_cache_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path / "cache"))
    _fake_mnist(tmp_path / "root")
    with pytest.warns(UserWarning, match="holds 20 images"):
        first = datasets.load("mnist", root=tmp_path / "root", download=False)
    cached = list((tmp_path / "cache").glob("mnist-train-*.pt"))
    assert len(cached) == 1
    second = datasets.load("mnist", root=tmp_path / "root", download=False)  # from the cache
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    cached[0].write_bytes(cached[0].read_bytes()[:100])  # damage it: detected and rebuilt
    third = datasets.load("mnist", root=tmp_path / "root", download=False)
    assert torch.equal(first.images, third.images)


def test_missing_root_names_the_files(tmp_path):
    with pytest.raises(datasets.DatasetUnavailable) as error:
        datasets.load("mnist", root=tmp_path / "nothing", download=False)
    message = str(error.value)
    assert "train-images-idx3-ubyte" in message and "sprites" in message


def test_truncated_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path / "cache"))
    _fake_mnist(tmp_path / "root", truncate=50)
    with pytest.raises(datasets.DatasetCorrupt, match="train-images-idx3-ubyte"):
        datasets.load("mnist", root=tmp_path / "root", download=False)


def _save(path, size=(16, 16), mode="L", colour=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)


def test_folder_with_class_subfolders(tmp_path):
    for label in ("cats", "dogs"):
        for i in range(30):
            _save(tmp_path / "imgs" / label / f"{i}.png", colour=10 * i)
    train = datasets.load("folder", root=tmp_path / "imgs", size=8)
    test = datasets.load("folder", root=tmp_path / "imgs", size=8, split="test")
    assert train.images.shape[1:] == (1, 8, 8) and len(train) + len(test) == 60
    assert train.meta["class_names"] == ["cats", "dogs"] and train.num_classes == 2


@pytest.mark.parametrize("case, match", [
    ("empty", "contains no images"),
    ("missing", "does not exist"),
    ("unreadable", "cannot be read"),
    ("mixed sizes", "different sizes"),
    ("mixed modes", "mixes grey and colour"),
])
def test_folder_errors(tmp_path, case, match):
    folder = tmp_path / "imgs"
    folder.mkdir()
    if case == "missing":
        folder = tmp_path / "absent"
    for i in range(40):
        if case == "mixed sizes":
            _save(folder / f"{i}.png", size=(16, 16) if i % 2 else (20, 20))
        elif case == "mixed modes":
            _save(folder / f"{i}.png", mode="L" if i % 2 else "RGB",
                  colour=3 if i % 2 else (1, 2, 3))
        elif case == "unreadable":
            _save(folder / f"{i}.png")
            (folder / f"bad{i}.png").write_bytes(b"not a png")
    with pytest.raises((datasets.DatasetUnavailable, datasets.DatasetCorrupt), match=match):
        datasets.load("folder", root=folder)


def test_batches_are_deterministic_floats(sprites):
    train, _ = sprites
    a = [x for x, _ in datasets.Batches(train, 100, seed=3).epoch(1)]
    b = [x for x, _ in datasets.Batches(train, 100, seed=3).epoch(1)]
    c = [x for x, _ in datasets.Batches(train, 100, seed=4).epoch(1)]
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])
    assert a[0].dtype == torch.float32 and 0 <= float(a[0].min()) and float(a[0].max()) <= 1
    resumed = [x for x, _ in datasets.Batches(train, 100, seed=3).epoch(1, start=5)]
    assert torch.equal(resumed[0], a[5])
    with pytest.raises(ValueError, match="larger than"):
        datasets.Batches(train, len(train) + 1)
