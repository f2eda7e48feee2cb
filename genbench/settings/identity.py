"""A run's identity: the part of its configuration that determines its results. A results
directory holding a run of another identity is never reused without --force; settings
outside it (where the data lives, the device, progress bars, what a job asks of a cluster)
may change between a run and its resumption."""

from __future__ import annotations

import json
from typing import Any

from genbench.errors import ConfigError
from genbench.settings.run import RunConfig

# Settings that change where or how a run is executed, but not its results.
NOT_IDENTITY = {("data", "root"), ("data", "download"), ("train", "show_progress"),
                ("train", "wandb"), ("train", "device"), ("eval", "fid_weights")}
NOT_IDENTITY_SECTIONS = {"resources"}  # what a job asks of a cluster


def run_identity(config: dict[str, Any]) -> dict[str, Any]:
    """The identity of a configuration as config.json holds it. A trained run's is read with
    today's defaults filled in, so that a run written before a setting existed is the same
    run as one with that setting at its default (a scored run's is taken as it is)."""
    if "scored" not in config:
        try:
            config = RunConfig.from_dict(config).to_dict()
        except (ConfigError, KeyError, TypeError):
            pass  # a damaged or foreign configuration: compared as it is, so never equal
    identity = {section: ({k: v for k, v in values.items() if (section, k) not in NOT_IDENTITY}
                          if isinstance(values, dict) else values)
                for section, values in config.items() if section not in NOT_IDENTITY_SECTIONS}
    # As config.json holds it: a tuple setting (eval.nfe) and the list read back are the same
    return json.loads(json.dumps(identity))
