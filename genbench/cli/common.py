"""What the subcommands share: KEY=VALUE settings, budget flags, data flags."""

from __future__ import annotations

import argparse
from typing import Any

BUDGETS = ("epochs", "steps", "seconds")


def toml_value(text: str) -> Any:
    """A command-line value in TOML syntax (numbers, booleans, lists), else a string."""
    from genbench.config import TOMLDecodeError, parse_toml

    try:
        return parse_toml(f"v = {text}")["v"]
    except TOMLDecodeError:
        return text


def settings(pairs: list[str] | None, flag: str) -> dict[str, Any]:
    """`--set KEY=VALUE` pairs as a dict of TOML values."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = toml_value(value.strip())
    return out


def train_config(args: argparse.Namespace, base: dict[str, Any]) -> dict[str, Any]:
    """`base` training settings with the budget and optimiser flags given on the command line;
    a budget flag replaces the base's budget (of whatever kind)."""
    values = dict(base)
    given = {k: getattr(args, k) for k in BUDGETS if getattr(args, k, None) is not None}
    if given:
        values = {k: v for k, v in values.items() if k not in BUDGETS}
        values.update(given)
    for key in ("batch_size", "lr", "device"):
        if getattr(args, key, None) is not None:
            values[key] = getattr(args, key)
    if getattr(args, "compile", False):
        values["compile"] = True
    return values


def data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-root", help="data root (torchvision layout), or for `folder` the "
                   "image directory; default $GENBENCH_DATA, else ./data")
    p.add_argument("--no-download", action="store_true", help="never try to download")


def budget_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--epochs", type=float)
    g.add_argument("--steps", type=int)
    g.add_argument("--seconds", type=float, help="wall-clock training budget per run")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--device", help="auto (default), cpu, cuda, mps")
    p.add_argument("--compile", action="store_true", help="torch.compile the training step")
