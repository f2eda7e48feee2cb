"""A second feature space, learnt without labels: a SimCLR encoder (Chen et al., 2020).

The dataset classifier learns what separates classes and can overlook what does
not change the class (Stein et al., 2023). This encoder learns instead to
recognise an image under warps: two augmented views of every image are pulled
together and pushed away from the other images of the batch by the NT-Xent loss,
on a projection head that is dropped afterwards. Its 128-d body features feed
torch-fidelity's FD/KID code exactly as the classifier's do.

Measured on MNIST's and Fashion-MNIST's calibration sets, three things make it a judge:
the body keeps a 7x7 grid before a fully connected feature layer, as the classifier
does (global pooling forgot shape); strong views (zoom, shift, rotation, shear, an
erased patch, stroke dilation or erosion) teach it to ignore handwriting style; and
temperature 1 groups images by what they show (0.2-0.5 told styles apart instead).
MNIST's "half the classes" went from 1.7x its floor to 42x, blur σ=1 is 32x (the shipped
encoder, judge/weights/manifest.json). Blur is never an augmentation and the noise stays
faint (σ ≤ 0.04), so that the features still see the calibration's blur and pixel noise.
Trained once per dataset on a fixed step budget (deterministic; FLOPs: `training_flops`):
shipped for MNIST and Fashion-MNIST (judge/shipped.py), else cached like the classifier.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor
from tqdm.auto import tqdm

from genbench.datasets import ImageData, to_float
from genbench.io import load_checksummed, save_checksummed
from genbench.metrics.classifier import watched
from genbench.metrics.features import FeatureSpace, FidelityError, NetFeatures

log = logging.getLogger(__name__)
FEATURES = 128
ARCHITECTURE = 2  # part of the cache key
GRID = 7  # the feature layer sees a 7x7 grid (28 px after two poolings)
SSL_EXTRACTOR = "genbench-selfsupervised"


class Encoder(nn.Module):
    """uint8 or float images -> features [B, 128]; `project` maps them to the loss's space."""

    def __init__(self, channels: int) -> None:
        super().__init__()

        def block(a: int, b: int) -> list[nn.Module]:
            return [nn.Conv2d(a, b, 3, 1, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU()]

        self.body = nn.Sequential(*block(channels, 32), nn.MaxPool2d(2), *block(32, 64),
                                  nn.MaxPool2d(2), *block(64, 128), nn.AdaptiveAvgPool2d(GRID),
                                  nn.Flatten(), nn.Linear(128 * GRID * GRID, FEATURES, bias=False),
                                  nn.BatchNorm1d(FEATURES), nn.ReLU())
        self.project = nn.Sequential(nn.Linear(FEATURES, FEATURES), nn.ReLU(),
                                     nn.Linear(FEATURES, 64))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(to_float(images) if images.dtype == torch.uint8 else images)

    def for_inference(self) -> Encoder:
        """BatchNorm folded into the layer before it, channels-last (as the classifier does)."""
        net = copy.deepcopy(self).eval()
        layers = list(net.body)
        for i, layer in enumerate(layers):
            if isinstance(layer, nn.BatchNorm2d):
                layers[i - 1], layers[i] = fuse_conv_bn_eval(layers[i - 1], layer), nn.Identity()
            elif isinstance(layer, nn.BatchNorm1d):
                layers[i - 1], layers[i] = fuse_linear_bn_eval(layers[i - 1], layer), nn.Identity()
        net.body = nn.Sequential(*[x for x in layers if not isinstance(x, nn.Identity)])
        return net.requires_grad_(False).to(memory_format=torch.channels_last)


@dataclass
class SelfSupervisedSettings:
    steps: int = 1000  # ~4 min on one CPU thread; 500 steps judge about as well
    batch_size: int = 128  # 2 x 128 views: 254 negatives per image
    lr: float = 2e-3
    temperature: float = 1.0  # 0.2-0.5 separate styles more than classes (see above)
    max_train: int | None = None  # cap on training images, for fast tests


def views(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One random view of each float image: zoom 0.7-1.2, shift up to 12.5% of the side,
    rotation up to 25 degrees, shear/stretch up to 15%, a square of up to half the side
    erased (half the time), stroke dilation or erosion (3x3, a quarter of the time each),
    contrast 0.6-1, Gaussian noise up to σ 0.04. Never blur: the judge must see it."""
    n, side = len(x), x.shape[-1]

    def uniform(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, *shape, generator=generator)

    angle, scale = uniform(-1, 1) * math.radians(25), uniform(0.7, 1.2)
    shift = uniform(-0.25, 0.25, 2)  # affine_grid coordinates span 2: 0.25 is 12.5% of the side
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    rotate = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
    shear = torch.eye(2) + uniform(-0.15, 0.15, 2, 2)
    theta = torch.cat([rotate @ shear, shift.unsqueeze(2)], 2)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    warped = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    half, (cy, cx) = (uniform(0, 0.5) * side).long() // 2, (uniform(0, 1, 2) * side).long().T
    at = torch.arange(side)
    rows = (at.view(1, side) - cy.view(n, 1)).abs() <= half.view(n, 1)
    cols = (at.view(1, side) - cx.view(n, 1)).abs() <= half.view(n, 1)
    erased = rows.view(n, 1, side, 1) & cols.view(n, 1, 1, side) & (uniform(0, 1, 1, 1, 1) < 0.5)
    warped = warped * ~erased
    stroke = uniform(0, 1, 1, 1, 1)
    warped = torch.where(stroke < 0.25, F.max_pool2d(warped, 3, 1, 1),
                         torch.where(stroke > 0.75, -F.max_pool2d(-warped, 3, 1, 1), warped))
    contrast = uniform(0.6, 1.0, 1, 1, 1)
    faint = uniform(0, 0.04, 1, 1, 1) * torch.randn(x.shape, generator=generator)
    return (warped * contrast + faint).clamp(0, 1)


def nt_xent(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's loss on projections [2B, d] of B pairs (row i pairs with row i + B)."""
    z = F.normalize(z, dim=1)
    similarity = z @ z.T / temperature
    similarity.fill_diagonal_(-math.inf)  # an image is not its own negative
    b = len(z) // 2
    partner = torch.cat([torch.arange(b, 2 * b), torch.arange(b)])
    return F.cross_entropy(similarity, partner)


def _step(model: Encoder, images: torch.Tensor, generator: torch.Generator,
          temperature: float) -> torch.Tensor:
    x = to_float(images)
    both = torch.cat([views(x, generator), views(x, generator)])
    return nt_xent(model.project(model(both)), temperature)


def train_encoder(train: ImageData, settings: SelfSupervisedSettings | None = None) -> Encoder:
    """The encoder after `settings.steps` steps on the training images (labels unused)."""
    settings = settings or SelfSupervisedSettings()
    torch.manual_seed(0)
    if settings.max_train:
        train = train.subset(settings.max_train)
    model = Encoder(train.image_shape[0])
    batch_size = min(settings.batch_size, len(train))
    per_epoch = len(train) // batch_size
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, settings.lr,
                                                   total_steps=settings.steps)
    generator = torch.Generator().manual_seed(0)
    model.train()
    # A bar where someone watches, as the classifier's: trained once, then cached.
    name = train.meta.get("name", "dataset")
    bar = tqdm(range(settings.steps), desc=f"training the {name} encoder (once; cached)",
               unit="step", leave=False, disable=not watched())
    for step in bar:
        epoch, b = divmod(step, per_epoch)
        if b == 0:
            order = torch.randperm(len(train), generator=torch.Generator().manual_seed(epoch))
        loss = _step(model, train.images[order[b * batch_size:(b + 1) * batch_size]],
                     generator, settings.temperature)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.eval()


def training_flops(channels: int, size: tuple[int, int],
                   settings: SelfSupervisedSettings | None = None) -> int:
    """Matmul/conv FLOPs (forward and backward) of the whole training, by FlopCounterMode
    on one step (elementwise work and augmentation not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    settings = settings or SelfSupervisedSettings()
    model = Encoder(channels).train()
    images = torch.zeros(settings.batch_size, channels, *size, dtype=torch.uint8)
    with FlopCounterMode(display=False) as counter:
        _step(model, images, torch.Generator().manual_seed(0), settings.temperature).backward()
    return counter.get_total_flops() * settings.steps


def encoder_path(cache: Path, train: ImageData, settings: SelfSupervisedSettings) -> Path:
    dataset = train.meta.get("name", "data")
    key = json.dumps([ARCHITECTURE, dataset, sorted(train.meta.get("options", {}).items()),
                      asdict(settings), len(train)], default=str)
    return cache / "encoders" / f"{dataset}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.pt"


def load_or_train_encoder(cache: Path, train: ImageData,
                          settings: SelfSupervisedSettings | None = None) -> Path:
    """The cached encoder's weights file, training the encoder on a miss."""
    settings = settings or SelfSupervisedSettings()
    path = encoder_path(Path(cache), train, settings)
    if load_checksummed(path) is None:
        log.info("training the self-supervised %s encoder (%d steps; cached at %s)",
                 train.meta.get("name"), settings.steps, path)
        model = train_encoder(train, settings)
        save_checksummed(path, {"state_dict": model.state_dict(),
                                "channels": train.image_shape[0], "settings": asdict(settings)})
    return path


def load_encoder(path: str | Path) -> Encoder:
    blob = load_checksummed(path)
    if blob is None:
        raise FileNotFoundError(f"encoder weights {path} are missing or damaged; rerun to "
                                "retrain them")
    model = Encoder(blob["channels"])
    model.load_state_dict(blob["state_dict"])
    return model.eval()


class EncoderFeatures(NetFeatures):
    """torch-fidelity view of the self-supervised encoder (weights path required)."""

    def __init__(self, name: str, features_list: list[str],
                 feature_extractor_weights_path: str | None = None, **kwargs) -> None:
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise FidelityError("the self-supervised feature extractor needs its weights file")
        self.net = load_encoder(feature_extractor_weights_path).for_inference()

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return ("features",)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (self.net(x),)


if SSL_EXTRACTOR not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor(SSL_EXTRACTOR, EncoderFeatures)


@dataclass(frozen=True)
class SelfSupervisedSpace(FeatureSpace):
    """The encoder's features as a FeatureSpace: extract_features, real_features (cached
    under their own fingerprint) and metrics_from_features work on it unchanged."""

    extractor: str = "selfsupervised"

    @property
    def torch_fidelity_name(self) -> str:
        return SSL_EXTRACTOR

    @property
    def layer(self) -> str:
        return "features"


def selfsupervised_space(cache: Path, train: ImageData,
                         settings: SelfSupervisedSettings | None = None) -> SelfSupervisedSpace:
    """The dataset's self-supervised feature space, training its encoder on a cache miss."""
    return SelfSupervisedSpace(weights=load_or_train_encoder(cache, train, settings))

