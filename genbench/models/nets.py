"""Backbones shared by every model: MLPs, conv encoders/decoders, and a small U-Net.

Models compose these; none of them defines its own copy of a layer stack.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from genbench.errors import ConfigError


def mlp(sizes: Sequence[int], *, final_activation: bool = False) -> nn.Sequential:
    """Linear layers with ReLU between them (and after the last when asked)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if final_activation or i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def downsamplings(size: int, limit: int = 4) -> int:
    """How many stride-2 stages take `size` down to a small base (28->7, 32->4, 64->4)."""
    n = 0
    while size % 2 == 0 and size > 4 and n < limit:
        size //= 2
        n += 1
    return n


def stage_widths(width: int, stages: int) -> list[int]:
    return [width * min(2**i, 8) for i in range(stages + 1)]


class ConvEncoder(nn.Module):
    """Image [B, C, H, W] -> feature map, halving the resolution at each stage."""

    def __init__(self, channels: int, size: int, width: int = 32, stages: int | None = None,
                 norm: bool = True, activation: type[nn.Module] = nn.ReLU,
                 first_norm: bool = True) -> None:
        super().__init__()
        self.stages = downsamplings(size) if stages is None else stages
        if self.stages < 1:
            raise ConfigError(f"a conv backbone needs an even image size, got {size}")
        widths = stage_widths(width, self.stages)
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 3, padding=1), activation()]
        for i in range(self.stages):
            layers.append(nn.Conv2d(widths[i], widths[i + 1], 4, stride=2, padding=1))
            if norm and (first_norm or i > 0):
                layers.append(nn.BatchNorm2d(widths[i + 1]))
            layers.append(activation())
        self.net = nn.Sequential(*layers)
        self.out_channels = widths[-1]
        self.out_size = size // 2**self.stages

    @property
    def out_features(self) -> int:
        return self.out_channels * self.out_size**2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """Feature map -> image logits, doubling the resolution per stage (ConvEncoder's mirror)."""

    def __init__(self, channels: int, size: int, width: int = 32, stages: int | None = None,
                 norm: bool = True) -> None:
        super().__init__()
        self.stages = downsamplings(size) if stages is None else stages
        widths = stage_widths(width, self.stages)[::-1]
        layers: list[nn.Module] = []
        for i in range(self.stages):
            layers.append(nn.ConvTranspose2d(widths[i], widths[i + 1], 4, stride=2, padding=1))
            if norm:
                layers.append(nn.BatchNorm2d(widths[i + 1]))
            layers.append(nn.ReLU())
        layers.append(nn.Conv2d(widths[-1], channels, 3, padding=1))
        self.net = nn.Sequential(*layers)
        self.in_channels = widths[0]
        self.in_size = size // 2**self.stages

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


class VectorToMap(nn.Module):
    """A vector [B, D] -> the decoder's input map [B, C, s, s]."""

    def __init__(self, in_dim: int, channels: int, size: int) -> None:
        super().__init__()
        self.shape = (channels, size, size)
        self.linear = nn.Linear(in_dim, channels * size * size)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.relu(self.linear(z)).view(-1, *self.shape)


def vector_encoder(backbone: str, image_shape: tuple[int, int, int], hidden: Sequence[int],
                   width: int) -> tuple[nn.Module, int]:
    """Image -> flat features, and the feature size. `mlp` is the seed's encoder."""
    c, h, w = image_shape
    if backbone == "mlp":
        sizes = [c * h * w, *hidden]
        return nn.Sequential(nn.Flatten(), mlp(sizes, final_activation=True)), sizes[-1]
    if backbone == "conv":
        conv = ConvEncoder(c, h, width)
        return nn.Sequential(conv, nn.Flatten()), conv.out_features
    raise ConfigError(f"unknown backbone {backbone!r}; choose 'mlp' or 'conv'")


def vector_decoder(backbone: str, image_shape: tuple[int, int, int], in_dim: int,
                   hidden: Sequence[int], width: int) -> nn.Module:
    """Vector -> image logits [B, C, H, W]. `mlp` is the seed's decoder (without its sigmoid)."""
    c, h, w = image_shape
    if backbone == "mlp":
        return nn.Sequential(mlp([in_dim, *reversed(hidden), c * h * w]),
                             nn.Unflatten(1, image_shape))
    if backbone == "conv":
        conv = ConvDecoder(c, h, width)
        return nn.Sequential(VectorToMap(in_dim, conv.in_channels, conv.in_size), conv)
    raise ConfigError(f"unknown backbone {backbone!r}; choose 'mlp' or 'conv'")


# --- U-Net for diffusion (Ho et al., 2020, scaled down) ---------------------------------------

def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of timesteps, as in the Transformer: integers in [0, T) for
    diffusion, or continuous floats (flow matching's t * 1000), embedded as they are."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], dim=1)


class ResBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, time_dim: int, groups: int = 8) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, in_ch), in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.time = nn.Linear(time_dim, out_ch)
        self.norm2 = nn.GroupNorm(min(groups, out_ch), out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(temb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class Attention(nn.Module):
    """Self-attention over the positions of a feature map (used at the lowest resolution)."""

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(min(8, channels), channels)
        self.attention = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor, temb: torch.Tensor | None = None) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)
        out, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        return x + out.transpose(1, 2).reshape(b, c, h, w)


class UNet(nn.Module):
    """Noise (or v, or x0) predictor f(x_t, t): residual blocks, skip connections, timestep
    embedding. `patch` > 1 folds patch x patch pixels into channels first (space-to-depth),
    so that every layer runs at a patch^2 smaller resolution: the cheap way to small images."""

    def __init__(self, channels: int, size: int, width: int = 32,
                 mults: Sequence[int] | None = None, blocks: int = 1,
                 attention: bool = False, patch: int = 1) -> None:
        super().__init__()
        if size % patch:
            raise ConfigError(f"image size {size} is not divisible by the patch size {patch}")
        size, inner = size // patch, channels * patch**2
        if mults is None:
            mults = [1] + [2] * min(downsamplings(size), 3)
        if size % 2 ** (len(mults) - 1):
            raise ConfigError(f"image size {size * patch} (patch {patch}) is not divisible by "
                              f"2^{len(mults) - 1}; choose fewer U-Net levels (mults)")
        time_dim = width * 4
        self.width, self.patch = width, patch
        self.time_mlp = nn.Sequential(nn.Linear(width, time_dim), nn.SiLU(),
                                      nn.Linear(time_dim, time_dim))
        self.stem = nn.Conv2d(inner, width, 3, padding=1)
        widths = [width * m for m in mults]
        self.down = nn.ModuleList()
        ch = width
        skips = [ch]
        for i, w in enumerate(widths):
            for _ in range(blocks):
                self.down.append(ResBlock(ch, w, time_dim))
                ch = w
                skips.append(ch)
            if i < len(widths) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        middle = [ResBlock(ch, ch, time_dim), ResBlock(ch, ch, time_dim)]
        if attention:
            middle.insert(1, Attention(ch))
        self.mid = nn.ModuleList(middle)
        self.up = nn.ModuleList()
        for i, w in reversed(list(enumerate(widths))):
            for _ in range(blocks + 1):
                self.up.append(ResBlock(ch + skips.pop(), w, time_dim))
                ch = w
            if i > 0:
                self.up.append(nn.Upsample(scale_factor=2, mode="nearest"))
        self.out = nn.Sequential(nn.GroupNorm(min(8, ch), ch), nn.SiLU(),
                                 nn.Conv2d(ch, inner, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.time_mlp(timestep_embedding(t, self.width))
        if self.patch > 1:
            x = F.pixel_unshuffle(x, self.patch)
        h = self.stem(x)
        skips = [h]
        for layer in self.down:
            h = layer(h, temb) if isinstance(layer, ResBlock) else layer(h)
            skips.append(h)
        for layer in self.mid:
            h = layer(h, temb)
        for layer in self.up:
            if isinstance(layer, ResBlock):
                h = layer(torch.cat([h, skips.pop()], dim=1), temb)
            else:
                h = layer(h)
        h = self.out(h)
        return F.pixel_shuffle(h, self.patch) if self.patch > 1 else h
