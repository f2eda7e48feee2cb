"""Overrides: settings a user gives for one command (flags of the command line, keywords of
the Python API) as the changes they make to every run's configuration (RunConfig.changed).
One table of names, so that `--fid-samples 1000` and `fid_samples=1000` do the same thing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from genbench.errors import ConfigError
from genbench.training import BUDGETS

# name -> (section, setting) of the run configuration it changes
FIELDS = {"batch_size": ("train", "batch_size"), "lr": ("train", "lr"),
          "device": ("train", "device"), "data_root": ("data", "root"),
          "fid_weights": ("eval", "fid_weights"), "extractor": ("eval", "extractor"),
          "fid_samples": ("eval", "fid_samples")}
SWITCHES = {"compile": ("train", "compile", True), "wandb": ("train", "wandb", True),
            "no_download": ("data", "download", False)}
RUN_OVERRIDES = (*BUDGETS, *FIELDS, *SWITCHES)  # every name a run's override may have
# What scoring samples made elsewhere takes: its data and its judge, nothing of training.
SCORE_OVERRIDES = ("data_root", "no_download", "fid_samples", "extractor", "fid_weights")


def overrides(values: Mapping[str, Any],
              allowed: tuple[str, ...] | None = None) -> dict[str, dict[str, Any]]:
    """The changes `values` make ({"data": {...}, "train": {...}, "eval": {...}}): a budget
    replaces the budget of whatever kind the suite or run had; None and False leave a
    setting as it is. With `allowed`, a name outside it is refused (the API's keywords;
    the command line's parser already knows its flags)."""
    if allowed is not None:
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ConfigError(f"unknown setting(s) {unknown}; settings: "
                              f"{', '.join(sorted(allowed))}")
    out: dict[str, dict[str, Any]] = {"train": {}, "data": {}, "eval": {}}
    budget = {k: values[k] for k in BUDGETS if values.get(k) is not None}
    if budget:
        out["train"].update({k: None for k in BUDGETS}, **budget)
    for name, (section, key) in FIELDS.items():
        if values.get(name) is not None:
            out[section][key] = values[name]
    for name, (section, key, value) in SWITCHES.items():
        if values.get(name):
            out[section][key] = value
    return {section: changes for section, changes in out.items() if changes}
