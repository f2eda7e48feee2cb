"""What the subcommands share: KEY=VALUE settings, the flags that change a run's settings, data
flags."""

from __future__ import annotations

import argparse
from typing import Any

from genbench.errors import ConfigError


def toml_value(text: str) -> Any:
    """A command-line value in TOML syntax (numbers, booleans, lists), else a string."""
    from genbench.settings import TOMLDecodeError, parse_toml

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
            raise ConfigError(f"{flag} expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = toml_value(value.strip())
    return out


def changes(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The run settings the command line's flags change (settings.overrides)."""
    from genbench.settings import overrides

    return overrides(vars(args))


def data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-root", help="data root (torchvision layout), or for `folder` the "
                   "image directory; default $GENBENCH_DATA, else ./data")
    p.add_argument("--no-download", action="store_true", help="never try to download")


def budget_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--epochs", type=float)
    g.add_argument("--steps", type=int)
    g.add_argument("--seconds", type=float, help="training seconds per run (this machine's)")
    g.add_argument("--flops", type=float, help="training FLOPs per run (the same work on "
                   "every machine), e.g. 2e14")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--device", help="auto (default), cpu, cuda, mps")
    p.add_argument("--compile", action="store_true", help="torch.compile the training step")
