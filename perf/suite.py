"""The quick suite end to end (`genbench benchmark`, a fresh process): the wall clock a user
waits for `make benchmark`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from perf.common import Context, Stopwatch


def measure(ctx: Context) -> dict[str, Any]:
    target = ctx.out / f"{Path(ctx.args.suite_name).stem}-suite"  # a name, or a .toml file
    cmd = [sys.executable, "-m", "genbench.cli", "benchmark", "--suite", ctx.args.suite_name,
           "--datasets", ctx.args.dataset, "--out", str(target), "--force", "--quiet"]
    shutil.rmtree(target, ignore_errors=True)
    with Stopwatch() as watch:
        subprocess.run(cmd, check=True)
    return {"suite": ctx.args.suite_name, "seconds": watch.seconds, "command": " ".join(cmd[2:])}


def markdown(result: dict[str, Any]) -> list[str]:
    return [f"`{result['suite']}` suite end to end: {result['seconds'] / 60:.1f} min"]
