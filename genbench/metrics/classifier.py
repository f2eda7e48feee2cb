"""A dataset's own classifier: a feature extractor for FID where Inception cannot be had.

A small CNN is trained on the dataset's training split, cached with its test
accuracy, and its penultimate features feed torch-fidelity's FID/KID/PR code.
It also scores conditional models: the accuracy of its predictions on samples
generated for each label.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from tqdm.auto import tqdm

from genbench.datasets import ImageData, to_float
from genbench.errors import ConfigError
from genbench.io import load_checksummed, save_checksummed

log = logging.getLogger(__name__)
FEATURES = 128
GRID = 7  # the feature layer sees a 7x7 grid (28 px after two poolings)
ARCHITECTURE = 3  # part of the cache key: cached weights of another architecture never load


class DatasetClassifier(nn.Module):
    """uint8 images -> (features [B, 128], logits): a small VGG-style CNN.

    Three conv blocks, then a fully connected feature layer over a 7x7 grid: where global
    average pooling forgets where things are (a shirt's collar, a sleeve's length, what
    separates Fashion-MNIST's tops), the grid keeps it; and it costs less than a fourth
    conv layer at 7x7 would.
    """

    def __init__(self, channels: int, outputs: int) -> None:
        super().__init__()

        def block(a: int, b: int) -> list[nn.Module]:
            return [nn.Conv2d(a, b, 3, 1, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU()]

        self.body = nn.Sequential(
            *block(channels, 32), nn.MaxPool2d(2),
            *block(32, 64), nn.MaxPool2d(2),
            *block(64, 128), nn.AdaptiveAvgPool2d(GRID), nn.Flatten(),
            nn.Linear(128 * GRID * GRID, FEATURES, bias=False), nn.BatchNorm1d(FEATURES),
            nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURES, outputs))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = to_float(images) if images.dtype == torch.uint8 else images
        features = self.body(x)
        return features, self.head(features)

    def for_inference(self) -> DatasetClassifier:
        """An evaluation copy with every BatchNorm folded into the convolution before it, in
        channels-last layout: the same function in fewer passes over memory, and oneDNN's
        faster convolutions on CPU (feature extraction is hot: 1.6x faster on MNIST)."""
        net = copy.deepcopy(self).eval()
        layers = list(net.body)
        for i, layer in enumerate(layers):
            if isinstance(layer, nn.BatchNorm2d) and isinstance(layers[i - 1], nn.Conv2d):
                layers[i - 1] = fuse_conv_bn_eval(layers[i - 1], layer)
                layers[i] = nn.Identity()
        net.body = nn.Sequential(*[x for x in layers if not isinstance(x, nn.Identity)])
        return net.requires_grad_(False).to(memory_format=torch.channels_last)


@dataclass
class ClassifierSettings:
    # 6 epochs of 468 steps on MNIST and Fashion-MNIST: 92.0% on Fashion's test split (2: 89.2%)
    epochs: int = 6
    max_steps: int = 3000  # caps the cost on large training sets (CelebA)
    batch_size: int = 128
    lr: float = 3e-3
    label_smoothing: float = 0.1  # the judge's features, not its confidence, are what FID uses
    max_train: int | None = None  # cap on training images, for fast tests


def _targets(data: ImageData) -> tuple[torch.Tensor, bool]:
    """Class labels, or CelebA-style binary attributes (multi-label)."""
    if data.labels is not None:
        return data.labels, False
    if data.attributes is not None:
        return data.attributes.float(), True
    raise ConfigError(f"{data.meta.get('name')} has neither labels nor attributes, so genbench "
                      "cannot train a classifier for its FID features; use the Inception "
                      "extractor (--extractor inception, with --fid-weights offline).")


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Small random affine warps per image (rotation, scale, shift): on the batch tensor."""
    n = len(x)
    angle = (torch.rand(n, generator=generator) - 0.5) * math.radians(20)
    scale = 1 + (torch.rand(n, generator=generator) - 0.5) * 0.2
    shift = (torch.rand(n, 2, generator=generator) - 0.5) * (4 / x.shape[-1])  # +-2 px
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def train_classifier(train: ImageData, test: ImageData,
                     settings: ClassifierSettings | None = None) -> tuple[nn.Module, float]:
    """Train the classifier; returns it with its test accuracy.

    From a random stream of its own (seed 0): the global one is left as it was, so a run that
    trains the classifier on a cold cache draws the same numbers as one that finds it cached.
    """
    settings = settings or ClassifierSettings()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the initial weights and dropout
        model = _fit(train, settings)
    return model, accuracy(model, test)


def _fit(train: ImageData, settings: ClassifierSettings) -> DatasetClassifier:
    if settings.max_train:
        train = train.subset(settings.max_train)
    targets, multilabel = _targets(train)
    outputs = targets.shape[1] if multilabel else int(train.meta["num_classes"])
    # Channels-last: oneDNN's faster convolutions, 1.5x faster training steps on CPU.
    model = DatasetClassifier(train.image_shape[0], outputs).to(memory_format=torch.channels_last)
    batch_size = min(settings.batch_size, len(train))
    per_epoch = len(train) // batch_size
    steps = min(settings.epochs * per_epoch, settings.max_steps)  # large sets: a step budget
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, settings.lr, total_steps=steps)
    generator = torch.Generator().manual_seed(0)
    model.train()
    # Minutes on a CPU the first time a dataset is judged (then cached): a bar, so that the
    # wait is seen.
    name = train.meta.get("name", "dataset")
    bar = tqdm(range(steps), desc=f"training the {name} classifier (once; cached)", unit="step",
               leave=False, disable=not watched())
    for step in bar:
        epoch, b = divmod(step, per_epoch)
        if b == 0:
            order = torch.randperm(len(train), generator=torch.Generator().manual_seed(epoch))
        index = order[b * batch_size:(b + 1) * batch_size]
        x = _augment(to_float(train.images[index]), generator)
        x = x.contiguous(memory_format=torch.channels_last)
        logits = model(x)[1]
        y = targets[index]
        loss = (F.binary_cross_entropy_with_logits(logits, y) if multilabel
                else F.cross_entropy(logits, y, label_smoothing=settings.label_smoothing))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.eval()


def watched() -> bool:
    """Whether someone watches this process's progress: a terminal, or a notebook (whose
    stderr is no TTY); logs, pipes and captured output get no bar."""
    return sys.stderr.isatty() or "ipykernel" in sys.modules


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    return torch.cat([model(images[i:i + batch_size])[1] for i in range(0, len(images),
                                                                         batch_size)])


@torch.no_grad()
def accuracy(model: nn.Module, data: ImageData) -> float:
    targets, multilabel = _targets(data)
    logits = predict(model, data.images)
    if multilabel:
        return float(((logits > 0).float() == targets).float().mean())
    return float((logits.argmax(1) == targets).float().mean())


def classifier_path(cache: Path, dataset: str, options: dict, settings: ClassifierSettings,
                    train: ImageData) -> Path:
    key = json.dumps([ARCHITECTURE, dataset, sorted(options.items()), asdict(settings),
                      len(train)], default=str)
    return cache / "classifiers" / f"{dataset}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.pt"


def load_or_train(cache: Path, train: ImageData, test: ImageData,
                  settings: ClassifierSettings | None = None) -> tuple[Path, float]:
    """The cached classifier's weights file and test accuracy, training it on a miss."""
    settings = settings or ClassifierSettings()
    path = classifier_path(cache, train.meta.get("name", "data"), train.meta.get("options", {}),
                           settings, train)
    cached = load_checksummed(path)
    if cached is not None:
        return path, cached["accuracy"]
    log.info("training the %s classifier for FID features (cached at %s)",
             train.meta.get("name"), path)
    model, acc = train_classifier(train, test, settings)
    save_checksummed(path, {"state_dict": model.state_dict(), "channels": train.image_shape[0],
                            "outputs": model.head[-1].out_features, "accuracy": acc})
    return path, acc


def load_classifier(path: str | Path) -> DatasetClassifier:
    blob = load_checksummed(path)
    if blob is None:
        raise FileNotFoundError(f"classifier weights {path} are missing or damaged; rerun to "
                                "retrain them")
    model = DatasetClassifier(blob["channels"], blob["outputs"])
    model.load_state_dict(blob["state_dict"])
    return model.eval()


@torch.no_grad()
def conditional_accuracy(classifier: nn.Module, samples: torch.Tensor,
                         labels: torch.Tensor) -> float:
    """How often the classifier recognises the label a conditional model was asked for."""
    return float((predict(classifier, samples).argmax(1) == labels.cpu()).float().mean())
