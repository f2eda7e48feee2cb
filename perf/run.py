"""`make perf`: genbench's speed against this machine's limit, and genbench beside its peers.

One module per measurement, each with `measure(ctx) -> dict` and
`markdown(result) -> list[str]` (and `REQUIRES`, the packages it imports).
Every figure is measured in this one run, on this machine. Writes OUT/perf.json
and OUT/perf.md, after each measurement.

    python -m perf.run --out reports/perf [--only NAME ... | --skip NAME ...]
                       [--device cuda] [--compile]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

import torch

from genbench import datasets
from genbench.errors import ConfigError
from genbench.judge.inputs import data_cache
from genbench.metrics.timing import machine
from genbench.settings import DataConfig, load_suite
from genbench.training import pick_device
from perf import conv_speed, data_path, diffusion_peer, families, metric_cost, pythae_peer, suite
from perf.common import Context

log = logging.getLogger("perf")

# In the order they run; the suite last, as it takes longest.
MEASUREMENTS = {"families": families, "conv_speed": conv_speed, "data_path": data_path,
                "pythae": pythae_peer,
                "metric_cost": metric_cost, "diffusion_peer": diffusion_peer, "suite": suite}


def positive(kind: type):
    def parse(text: str):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value
    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m perf.run", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="reports/perf")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--device", default="auto")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--only", nargs="+", choices=MEASUREMENTS, metavar="NAME",
                   help=f"run only these measurements ({', '.join(MEASUREMENTS)})")
    p.add_argument("--skip", nargs="+", choices=MEASUREMENTS, metavar="NAME", default=[],
                   help="run all measurements but these")
    p.add_argument("--max-train", type=positive(int),
                   help="first N training images only (quick checks; changes the figures)")
    knobs = p.add_argument_group("measurement sizes (smaller ones for quick checks)")
    knobs.add_argument("--steps", type=positive(int), default=60, help="families: timed steps")
    knobs.add_argument("--ab-steps", type=positive(int), default=200,
                       help="conv_speed: timed steps of each variant")
    knobs.add_argument("--ab-warmup", type=positive(int), default=10,
                       help="conv_speed: untimed steps first (compilation)")
    knobs.add_argument("--data-path-steps", type=positive(int), default=290,
                       help="data_path: timed steps of each path")
    knobs.add_argument("--pythae-epochs", type=positive(int), default=10,
                       help="pythae: epochs of pythae at its defaults (time to quality)")
    knobs.add_argument("--pythae-epoch-test", type=positive(int), default=3,
                       help="pythae: epochs of the per-epoch comparison")
    knobs.add_argument("--metric-samples", type=positive(int), default=10_000,
                       help="metric_cost: samples")
    knobs.add_argument("--peer-budgets", nargs="+", type=positive(float), default=[120, 600],
                       metavar="SECONDS", help="diffusion_peer: training seconds of each "
                       "evaluation")
    knobs.add_argument("--peer-samples", type=positive(int), default=1000,
                       help="diffusion_peer: samples per evaluation (and held-out images)")
    knobs.add_argument("--suite-name", default="quick", help="suite: which suite to time")
    return p


def selected(args: argparse.Namespace, p: argparse.ArgumentParser) -> list[str]:
    """The measurements to run, after checking that their packages are installed."""
    names = [n for n in MEASUREMENTS if n in (args.only or MEASUREMENTS) and n not in args.skip]
    if not names:
        p.error("--only and --skip leave nothing to measure")
    if len(set(args.peer_budgets)) != len(args.peer_budgets):
        p.error(f"--peer-budgets repeats a budget: {args.peer_budgets}")
    if args.peer_samples < 4:
        p.error("--peer-samples must be at least 4 (FID and KID need 4 samples)")
    try:  # now, not after an hour of other measurements
        DataConfig(args.dataset)
        if "suite" in names:
            load_suite(args.suite_name)
    except ConfigError as error:
        p.error(str(error))
    for name in names:
        missing = [m for m in getattr(MEASUREMENTS[name], "REQUIRES", ())
                   if importlib.util.find_spec(m) is None]
        if missing:
            p.error(f"{name} needs {', '.join(missing)}: pip install -e '.[perf]' (make setup "
                    f"does), or leave it out with --skip {name}")
    return names


def context(args: argparse.Namespace) -> Context:
    train = datasets.load(args.dataset, "train")
    if args.max_train:
        train = train.subset(args.max_train)
    return Context(device=pick_device(args.device), compile=args.compile, train=train,
                   test=datasets.load(args.dataset, "test"), out=Path(args.out),
                   cache=data_cache(DataConfig(args.dataset)), args=args)


def report(result: dict[str, Any]) -> str:
    lines = [f"# genbench perf ({result['device']}: {result['machine']}; torch "
             f"{result['torch']}; {result.get('date', 'undated')})"]
    for name in result["measurements"]:
        if name in result:
            lines += [""] + MEASUREMENTS[name].markdown(result[name])
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    names = selected(args, p)
    logging.basicConfig(level=logging.WARNING, format="perf: %(message)s")
    log.setLevel(logging.INFO)
    warnings.simplefilter("ignore", UserWarning)
    try:
        ctx = context(args)
    except datasets.DatasetUnavailable as error:
        p.error(str(error))
    ctx.out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"device": str(ctx.device), "machine": machine(ctx.device),
                              "date": datetime.date.today().isoformat(),
                              "threads": torch.get_num_threads(),
                              "torch": torch.__version__, "compile": args.compile,
                              "dataset": args.dataset, "measurements": names}
    for name in names:
        log.info("measuring %s", name)
        result[name] = MEASUREMENTS[name].measure(ctx)
        # Written after every measurement: a late failure keeps the figures measured so far.
        (ctx.out / "perf.json").write_text(json.dumps(result, indent=2) + "\n")
        (ctx.out / "perf.md").write_text(report(result))
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
