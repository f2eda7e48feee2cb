"""Settings checked against the types of the dataclass fields they fill, wherever they come
from (`--set`, `--option`, suite tables, config.json), before any work starts.

One checker for every configuration dataclass (the run's, the training's, each model's):
it reads the field's annotation and says in words what the value must be, so a user sees
"latent_dim must be an integer, got 'abc'" instead of an error from deep inside a model.
Ranges (at least 1, greater than 0) stay with the dataclasses' own __post_init__.

This module imports only genbench.errors, so that every layer (models included) can use it.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from genbench.errors import ConfigError

__all__ = ["ConfigError", "admits", "check_fields", "check_instance", "check_value", "describe",
           "field_types", "parameter_types"]


def field_types(cls: type) -> dict[str, Any]:
    """The resolved annotation of each field of a dataclass (strings resolved, as under
    `from __future__ import annotations`); a field whose annotation cannot be resolved
    (a plug-in's forward reference) is left out, so it is not checked."""
    names = [f.name for f in dataclasses.fields(cls)]
    return _resolved(cls, names, {f.name: f.type for f in dataclasses.fields(cls)})


def parameter_types(function: Callable[..., Any], names: list[str]) -> dict[str, Any]:
    """The resolved annotations of some of a function's parameters (dataset options)."""
    raw = {k: p.annotation for k, p in inspect.signature(function).parameters.items()
           if k in names and p.annotation is not inspect.Parameter.empty}
    return _resolved(function, list(raw), raw)


def _resolved(owner: Any, names: list[str], raw: dict[str, Any]) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(owner)
    except Exception:  # noqa: BLE001  (an unresolvable annotation: check the others)
        hints = {k: v for k, v in raw.items() if not isinstance(v, str)}
    return {k: hints[k] for k in names if k in hints}


def check_fields(cls: type, values: Mapping[str, Any]) -> None:
    """Raise ConfigError for the first value that its field's type does not admit."""
    types_ = field_types(cls)
    for name, value in values.items():
        if name in types_:
            check_value(name, value, types_[name])


def check_instance(obj: Any) -> None:
    """check_fields on a built dataclass (for a __post_init__: any way it was built)."""
    check_fields(type(obj), {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})


def check_value(name: str, value: Any, annotation: Any) -> None:
    if not admits(annotation, value):
        raise ConfigError(f"{name} must be {describe(annotation)}, got {value!r}")


def admits(annotation: Any, value: Any) -> bool:
    """Whether `value` is of the annotated type. Numbers follow Python's tower: an int is a
    valid float, a bool is neither (TOML's `true` is no count)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any or annotation is object:
        return True
    if annotation is None or annotation is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(admits(a, value) for a in args)
    if origin is typing.Literal:
        return value in args
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin in (tuple, list):  # TOML and JSON give lists; tuples are built from them
        if not isinstance(value, (tuple, list)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(map(admits, args, value))
        return not args or all(admits(args[0], v) for v in value)
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            return False
        return len(args) != 2 or all(admits(args[0], k) and admits(args[1], v)
                                     for k, v in value.items())
    if annotation in (tuple, list):
        return isinstance(value, (tuple, list))
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True  # a typing construct this checker does not know (Callable ...): not checked


def describe(annotation: Any, plural: bool = False) -> str:
    """The type in words: "an integer", "a list of integers", "a number or None"."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a, plural) for a in args)
    if annotation is None or annotation is type(None):
        return "None"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (tuple, list):
        if origin is tuple and args and args[-1] is not Ellipsis:
            return f"a list of {len(args)}: " + ", ".join(describe(a) for a in args)
        inner = f" of {describe(args[0], plural=True)}" if args else ""
        return ("lists" if plural else "a list") + inner
    if origin is dict or annotation is dict:
        return "tables" if plural else "a table (dict)"
    words = {bool: ("true or false", "true or false"), int: ("an integer", "integers"),
             float: ("a number", "numbers"), str: ("a string", "strings")}
    if annotation in words:
        return words[annotation][plural]
    name = getattr(annotation, "__name__", str(annotation))
    return f"{name}s" if plural else f"a {name}"
