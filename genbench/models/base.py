"""The interface every generative model implements, and the model registry."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn

from genbench import plugins
from genbench.errors import ConfigError, UnknownName
from genbench.plugins import PluginError
from genbench.validation import check_fields

Update = Callable[[torch.Tensor, torch.optim.Optimizer], None]


class _class_or_instance_method:
    """A method bound to the instance when called on one, else to the class."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.__doc__ = function.__doc__

    def __get__(self, instance: Any, owner: type) -> Callable[..., Any]:
        return self.function.__get__(owner if instance is None else instance)


class GenerativeModel(nn.Module):
    """A generative model as the Trainer and the metrics see it.

    Capabilities are declared, never inferred: the runner asks `reconstructs`,
    `conditional`, `likelihood`, `latent` and `denoises` (sampling by iterative denoising,
    `denoise(n, steps)`) instead of checking types.
    """

    name: ClassVar[str] = ""
    reconstructs: ClassVar[bool] = False
    conditional: ClassVar[bool] = False
    likelihood: ClassVar[bool] = False
    latent: ClassVar[bool] = False
    denoises: ClassVar[bool] = False
    solvers: ClassVar[tuple[str, ...]] = ()  # a denoiser's samplers: steps_for, sample_with
    ema_decay: float = 0.0  # > 0: the Trainer keeps an EMA copy used for sampling
    compile_targets: ClassVar[tuple[str, ...]] = ("training_step",)

    def __init__(self, config: Any, image_shape: tuple[int, int, int],
                 num_classes: int | None = None) -> None:
        super().__init__()
        self.config = config
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        if self.conditional and not num_classes:
            raise ConfigError(f"model {self.name!r} is conditional and needs labelled data; "
                              "this dataset has no class labels")

    @_class_or_instance_method
    def capabilities(self_or_cls) -> dict[str, bool]:
        """The declared capabilities: the class's, or on an instance its own (an instance
        may drop one, e.g. a VAE that samples from a fitted density has no likelihood)."""
        return {k: bool(getattr(self_or_cls, k)) for k in ("reconstructs", "conditional",
                                                            "likelihood", "latent",
                                                            "denoises")}

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # -- training -------------------------------------------------------------------------
    def training_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Named losses for one batch; the Trainer minimises `loss`."""
        raise NotImplementedError

    def optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        return [torch.optim.AdamW(self.parameters(), lr=lr, weight_decay=weight_decay,
                                  fused=fused_ok(self))]

    def optimization_step(self, x: torch.Tensor, y: torch.Tensor | None,
                          optimizers: list[torch.optim.Optimizer],
                          update: Update) -> dict[str, torch.Tensor]:
        """One step of training. Models with several optimizers (GAN) override this."""
        losses = self.training_step(x, y)
        update(losses["loss"], optimizers[0])
        return losses

    def training_phase(self) -> int:
        """Which part of the model the next step trains: the steps of one phase cost the same
        FLOPs (training/flops.py counts each phase once). One phase unless overridden."""
        return 0

    def sampling_ready(self) -> bool:
        """Whether samples mean anything yet (a two-phase model's prior may not have trained):
        the quality curve measures sample quality only once they do."""
        return True

    def prepare_sampling(self, batches: Any) -> None:
        """Called before sampling, on the sampling weights: after training, and at every curve
        point during it (the AE fits its sampling density to its codes here)."""

    def sampler_cost(self) -> dict[str, float]:
        """Cost of the last fit prepare_sampling made (models/latent.py): e.g.
        sampler_fit_seconds, sampler_fit_flops (where counted); {} when nothing is fitted."""
        return {}

    # -- inference ------------------------------------------------------------------------
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """n images in [0, 1], shaped like the training images."""
        raise NotImplementedError

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def log_likelihood(self, x: torch.Tensor, k: int,
                       y: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x) per image in nats, bounded below with k importance samples."""
        raise NotImplementedError

    def likelihood_kind(self) -> str:
        """What `log_likelihood` measures: "binary" (the probability of binary pixels, e.g. a
        Bernoulli decoder) or "density" (a density over pixel values in [0, 1])."""
        raise NotImplementedError(f"model {self.name!r} has a likelihood: say which kind")

    def random_labels(self, n: int) -> torch.Tensor | None:
        if not self.conditional:
            return None
        return torch.randint(self.num_classes, (n,), device=self.device)


def fused_ok(model: nn.Module) -> bool:
    """Fused Adam (one kernel per step instead of a dozen passes over the weights) where
    PyTorch has it; on small models the optimizer step is a large share of the time."""
    return next(model.parameters()).device.type in ("cpu", "cuda")


_REGISTRY: dict[str, tuple[type[GenerativeModel], type, dict[str, Any]]] = {}

# The methods the runner and the metrics call for each capability a model declares.
CAPABILITY_METHODS = {"reconstructs": ("reconstruct",), "latent": ("encode",),
                      "likelihood": ("log_likelihood", "likelihood_kind")}


def register_model(name: str, config: type, **defaults: Any):
    """Register a model class under `name`, with config dataclass and default overrides.

    Checked here, not deep in training (PluginError): the name is free, the class implements
    `sample`, `training_step` (or `optimization_step`) and the methods of the capabilities it
    declares, and the config is a dataclass that its defaults build.
    """
    if not isinstance(name, str) or not name.strip():
        raise PluginError(f"register_model needs a model name, got {name!r}")

    def wrap(cls: type[GenerativeModel]) -> type[GenerativeModel]:
        _check_free(name, cls)
        _check_model(name, cls, config, defaults)
        _REGISTRY[name] = (cls, config, defaults)
        return cls
    return wrap


def _check_free(name: str, cls: type) -> None:
    taken = _REGISTRY.get(name, (None,))[0]
    # The same class registering again (its module reloaded, e.g. in a notebook) replaces it.
    if taken is not None and (taken.__module__, taken.__qualname__) != (
            cls.__module__, cls.__qualname__):
        raise PluginError(f"model {name!r} is already registered by "
                          f"{plugins.origin(taken.__module__)}; choose another name")


def _check_model(name: str, cls: type, config: type, defaults: dict[str, Any]) -> None:
    if not (isinstance(cls, type) and issubclass(cls, GenerativeModel)):
        raise PluginError(f"register_model({name!r}) decorates {cls!r}, which is not a "
                          "subclass of genbench.models.GenerativeModel")
    who = f"model {name!r} ({cls.__module__}.{cls.__qualname__})"
    missing = [m for m in ("sample",) if not _implements(cls, m)]
    if not (_implements(cls, "training_step") or _implements(cls, "optimization_step")):
        missing.append("training_step")
    if missing:
        raise PluginError(f"{who} does not implement {' and '.join(missing)}; every model "
                          "needs sample(n, labels=None) and training_step(x, y) (or "
                          "optimization_step, for several optimizers)")
    for capability, methods in CAPABILITY_METHODS.items():
        lacking = [m for m in methods if getattr(cls, capability) and not _implements(cls, m)]
        if lacking:
            raise PluginError(f"{who} declares {capability} = True but does not implement "
                              f"{' and '.join(lacking)}; implement it or drop the capability")
    if not (isinstance(config, type) and dataclasses.is_dataclass(config)):
        raise PluginError(f"{who}: its config {config!r} is not a dataclass; decorate it with "
                          "@dataclasses.dataclass")
    try:
        _build_config(name, config, defaults, {})
    except (TypeError, ValueError) as error:
        raise PluginError(f"{who}: its config {config.__name__} cannot be built from the "
                          f"registered defaults {defaults}: {error}") from None


def _implements(cls: type, method: str) -> bool:
    return getattr(cls, method) is not getattr(GenerativeModel, method)


def _registry() -> dict[str, tuple[type[GenerativeModel], type, dict[str, Any]]]:
    """The registry, with the installed plug-ins loaded (once, on first use)."""
    plugins.load_installed("genbench.models")
    return _REGISTRY


def available() -> list[str]:
    return list(_registry())


def set_order(names: list[str]) -> None:
    """Put the registry in a fixed order (listed names first, others after)."""
    entries = dict(_REGISTRY)
    _REGISTRY.clear()
    for name in [n for n in names if n in entries] + [n for n in entries if n not in names]:
        _REGISTRY[name] = entries[name]


def model_class(name: str) -> type[GenerativeModel]:
    return _entry(name)[0]


def _entry(name: str):
    if name not in _registry():
        # A plug-in's model is missing from a process that did not load the plug-in.
        raise UnknownName(f"unknown model {name!r}; choose one of: {', '.join(available())} "
                          "(a plug-in's models: load it with a suite's plugins or --plugin)")
    return _REGISTRY[name]


def make_config(name: str, **overrides: Any) -> Any:
    """The model's config dataclass with registry defaults and user overrides, validated."""
    _, config_cls, defaults = _entry(name)
    return _build_config(name, config_cls, defaults, overrides)


def _build_config(name: str, config_cls: type, defaults: dict[str, Any],
                  overrides: dict[str, Any]) -> Any:
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = (set(defaults) | set(overrides)) - fields
    if unknown:
        raise ConfigError(f"model {name!r} has no setting {sorted(unknown)}; "
                         f"settings: {', '.join(sorted(fields))}")
    values = {**defaults, **overrides}
    check_fields(config_cls, values)  # types here, for every caller; ranges in __post_init__
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return config_cls(**values)


def create(name: str, image_shape: tuple[int, int, int], num_classes: int | None = None,
           **config: Any) -> GenerativeModel:
    """Build a registered model for images of `image_shape` (C, H, W)."""
    cls = model_class(name)
    model = cls(make_config(name, **config), image_shape, num_classes)
    model.name = name
    return model


def positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        bound = "0 or more" if allow_zero else "greater than 0"
        raise ConfigError(f"{name} must be {bound}, got {value}")


def decodes(model: GenerativeModel) -> bool:
    """Whether the model maps continuous latent vectors back to images (grids, traversals)."""
    return model.latent and type(model).decode is not GenerativeModel.decode
