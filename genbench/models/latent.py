"""Latent samplers: the density an autoencoder's decoder is fed from when it samples.

A deterministic AE has no prior, and a VAE's aggregate posterior often fits its N(0, I)
prior badly; both can be sampled from a density fitted to the training set's codes after
training (Ghosh et al., 2020; Dai & Wipf, 2019). Each sampler is a small nn.Module whose
fitted state is buffers, so it is saved with the model's state_dict and checkpoints:

    "prior"      N(0, I), nothing to fit (the VAE's own prior)
    "gaussian"   one full-covariance Gaussian fitted to the codes
    "gmm"        a full-covariance Gaussian mixture, fitted by scikit-learn's EM (gmm.py)
                 (as pythae's GaussianMixtureSampler), sampled in torch
    "two-stage"  a second, small VAE trained on the codes (Dai & Wipf, 2019; two_stage.py):
                 u ~ N(0, I), decoded to a code by its decoder mean

Sampling always draws from torch's random stream (torch.manual_seed decides it); fitting
never touches the caller's stream. A fitted sampler keeps the cost of its last fit (with
the encoding pass that produced the codes) in its state_dict, so a checkpoint reports it.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from genbench.errors import ConfigError

# The order of the cost vector each fitted sampler keeps (NaN: not measured or not counted).
COST_KEYS = ("encode_seconds", "encode_flops", "fit_seconds", "fit_flops")

_SAMPLERS: dict[str, type[LatentSampler]] = {}


def register_sampler(name: str):
    def wrap(cls: type[LatentSampler]) -> type[LatentSampler]:
        cls.name = name
        _SAMPLERS[name] = cls
        return cls
    return wrap


def available_samplers() -> list[str]:
    return list(_SAMPLERS)


def check_sampler(name: str, allowed: tuple[str, ...], who: str) -> None:
    """Refuse a sampler `who` (a model family) cannot use, naming the ones it can."""
    if name not in allowed:
        known = "" if name in _SAMPLERS else "unknown sampler; "
        raise ConfigError(f"sampler {name!r}: {known}{who} samples with one of "
                          f"{', '.join(repr(a) for a in allowed)}")


def make_sampler(name: str, dim: int, **options: Any) -> LatentSampler:
    """The sampler `name` for codes of `dim` dimensions; `options` (components, steps, seed)
    go to the samplers that take them and are ignored by the others."""
    if name not in _SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}; choose one of: "
                          f"{', '.join(available_samplers())}")
    cls = _SAMPLERS[name]
    takes = inspect.signature(cls.__init__).parameters
    return cls(dim, **{k: v for k, v in options.items() if k in takes})


class LatentSampler(nn.Module):
    """Draws codes of `dim` dimensions; `fit(codes)` first where `fits`."""

    name: ClassVar[str] = ""
    fits: ClassVar[bool] = False

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def sample(self, n: int, device: torch.device | str | None = None) -> torch.Tensor:
        raise NotImplementedError

    def cost(self) -> dict[str, float]:
        """Seconds and FLOPs of the last fit (only those measured); {} when nothing fits."""
        return {}


@register_sampler("prior")
class PriorSampler(LatentSampler):
    """N(0, I): one torch.randn(n, dim) draw, exactly the VAE's own sampling."""

    def sample(self, n: int, device: torch.device | str | None = None) -> torch.Tensor:
        return torch.randn(n, self.dim, device=device)


class FittedSampler(LatentSampler):
    """A density fitted to codes. Subclasses implement `_fit(codes)`, returning the FLOPs
    they counted or None, and keep what they fitted in buffers."""

    fits = True

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self._cost = torch.full((len(COST_KEYS),), math.nan)
        # A checkpoint written before samplers kept their cost loads with the cost unknown.
        self._register_load_state_dict_pre_hook(_default_extra_state, with_module=True)

    @torch.no_grad()
    def fit_encoder(self, encode: Callable[[torch.Tensor], torch.Tensor], batches: Any) -> None:
        """Fit to the codes `encode` gives the whole training set (batches.epoch(0))."""
        _warm_up_counter()
        start = time.perf_counter()
        counter = FlopCounterMode(display=False)
        with counter:
            codes = torch.cat([encode(x) for x, _ in batches.epoch(0)])
        _sync(codes.device)
        encode_seconds = time.perf_counter() - start
        self.fit(codes)
        self._cost[0], self._cost[1] = encode_seconds, float(counter.get_total_flops())

    def fit(self, codes: torch.Tensor) -> None:
        """Fit to codes [N, dim]: deterministic, and the caller's random stream untouched."""
        if codes.ndim != 2 or codes.shape[1] != self.dim:
            raise ValueError(f"{self.name} sampler: expected codes [N, {self.dim}], got "
                             f"{list(codes.shape)}")
        codes = codes.detach().float()
        _warm_up_counter()
        start = time.perf_counter()
        with _isolated_rng(codes.device), torch.autocast(codes.device.type, enabled=False):
            flops = self._fit(codes)
        _sync(codes.device)
        seconds = time.perf_counter() - start
        self._cost = torch.tensor([math.nan, math.nan, seconds,
                                   math.nan if flops is None else float(flops)])

    def _fit(self, codes: torch.Tensor) -> int | None:
        raise NotImplementedError

    def cost(self) -> dict[str, float]:
        return {k: float(v) for k, v in zip(COST_KEYS, self._cost.tolist(), strict=True)
                if not math.isnan(v)}

    # The cost travels in the state_dict as extra state (not a buffer: the EMA does not
    # average it and it is not model memory). float32, as the state_dict's other floats.
    def get_extra_state(self) -> torch.Tensor:
        return self._cost.clone()

    def set_extra_state(self, state: torch.Tensor) -> None:
        self._cost = torch.as_tensor(state, dtype=torch.float32).cpu().clone()


def _default_extra_state(module, state_dict, prefix, *_) -> None:
    state_dict.setdefault(prefix + "_extra_state", torch.full((len(COST_KEYS),), math.nan))


@register_sampler("gaussian")
class GaussianSampler(FittedSampler):
    """N(mean, cov) of the codes (Ghosh et al., 2020), cov + 1e-5 I for a safe Cholesky."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale_tril", torch.eye(dim))

    def _fit(self, codes: torch.Tensor) -> int:
        counter = FlopCounterMode(display=False)  # the covariance product (not the Cholesky)
        with counter:
            cov = torch.cov(codes.T.double())
        cov = cov + 1e-5 * torch.eye(self.dim, device=codes.device)
        self.mean.copy_(codes.mean(0))
        self.scale_tril.copy_(torch.linalg.cholesky(cov).float())
        return counter.get_total_flops()

    def sample(self, n: int, device: torch.device | str | None = None) -> torch.Tensor:
        eps = torch.randn(n, self.dim, device=self.mean.device)
        return self.mean + eps @ self.scale_tril.T


def keep_state_names(module: nn.Module, names: dict[str, str]) -> None:
    """Save the state that `names` maps (its keys: names as module.state_dict() gives them)
    under the older names it maps them to, and load either: checkpoints of the older layout
    load, and new ones keep its keys."""
    module._register_state_dict_hook(functools.partial(_save_as, names=names))
    module._register_load_state_dict_pre_hook(functools.partial(_load_from, names=names),
                                              with_module=True)


def _save_as(module, state_dict, prefix, local_metadata, *, names: dict[str, str]) -> None:
    for new, old in names.items():
        if prefix + new in state_dict:
            state_dict[prefix + old] = state_dict.pop(prefix + new)


def _load_from(module, state_dict, prefix, *_, names: dict[str, str]) -> None:
    for new, old in names.items():
        if prefix + old in state_dict:
            state_dict[prefix + new] = state_dict.pop(prefix + old)


@contextlib.contextmanager
def _isolated_rng(device: torch.device) -> Iterator[None]:
    """The fit's own random stream: the caller's (CPU and this CUDA device) is restored."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        yield


@functools.cache
def _warm_up_counter() -> None:
    """FlopCounterMode's first use in a process imports for a second or more: not a fit's."""
    with FlopCounterMode(display=False):
        torch.ones(1, 1) @ torch.ones(1, 1)


def seed_generators(seed: int, device: torch.device) -> None:
    """Seed the generators fit() forked (the CPU's, and this CUDA device's), and no other:
    torch.manual_seed would also seed, or queue a seed for, every CUDA device."""
    torch.random.default_generator.manual_seed(seed)
    if device.type == "cuda":
        with torch.cuda.device(device):
            torch.cuda.manual_seed(seed)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
