"""The model registry: `register_model` checks a model class and its config when it
registers; `create(name, ...)` builds one with its config's defaults and a user's settings."""

from __future__ import annotations

import dataclasses
from typing import Any

from genbench import plugins
from genbench.errors import ConfigError, UnknownName
from genbench.models.base import GenerativeModel
from genbench.plugins import PluginError
from genbench.validation import check_fields

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
