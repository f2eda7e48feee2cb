"""`genbench models | suites | benchmark | report`: what can be compared, and comparing it."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from genbench.cli.common import budget_args, changes, data_args
from genbench.errors import ConfigError


def cmd_models(args: argparse.Namespace) -> int:
    from genbench import models

    for name in models.available():
        caps = [k for k, v in models.model_class(name).capabilities().items() if v]
        config = models.make_config(name)
        values = ", ".join(f"{f.name}={getattr(config, f.name)}"
                           for f in dataclasses.fields(config))
        print(f"{name:10s} [{', '.join(caps) or 'samples only'}]\n    {values}")
    return 0


def cmd_suites(args: argparse.Namespace) -> int:
    from genbench.settings import available_suites, load_suite

    for name in available_suites():
        suite = load_suite(name)
        print(f"{name:8s} {len(suite.runs()):3d} runs  {suite.description}")
    return 0


def cmd_benchmark(args: argparse.Namespace) -> int:
    from genbench.api import benchmark

    result = benchmark(args.suite, args.out, models=args.models, datasets=args.datasets,
                       seeds=args.seeds, jobs=args.jobs, executor=args.executor,
                       address=args.address, force=args.force, retry_failed=args.retry_failed,
                       progress=not args.quiet, report=not args.no_report, wandb=args.wandb,
                       changes=changes(args))
    earlier = (f", {len(result.failed_earlier)} failed earlier (rerun with --retry-failed)"
               if result.failed_earlier else "")
    print(f"{result.suite}: {len(result.done)} run(s) done, {len(result.skipped)} already "
          f"complete, {len(result.failed)} failed{earlier} -> {result.out}")
    if not args.no_report:
        print(f"report: {result.out / 'report.html'}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from genbench.reports import write_report

    check_report_dir(Path(args.run_dir))
    files = write_report(args.run_dir, wandb=args.wandb)
    for kind, path in files.items():
        print(f"{kind:5s} {path}")
    return 0


def check_report_dir(folder: Path) -> None:
    """The report is written into the results folder itself (and its tables/, figures/): refuse
    a read-only one before the report is built, not at its first write."""
    from genbench.paths import check_output_dir

    for target in (folder, folder / "tables", folder / "figures"):
        if not target.is_dir():  # a missing results folder: write_report says so
            continue
        try:
            check_output_dir(target, flag="the report folder")
        except ConfigError:
            raise ConfigError(
                f"cannot write the report into {target}: it is not writable; make it writable "
                f"(chmod -R u+w {folder}), or copy the results somewhere you can write "
                f"(cp -r {folder} NEW) and run `genbench report NEW`") from None


def add_commands(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("models", help="registered models, capabilities, settings").set_defaults(
        func=cmd_models)
    sub.add_parser("suites", help="shipped benchmark suites").set_defaults(func=cmd_suites)

    p = sub.add_parser("benchmark", help="run a suite (resumable) and write its report")
    p.add_argument("--suite", default="quick", help="shipped suite name or a .toml path")
    p.add_argument("--models", nargs="+", help="only these models (or suite variants)")
    p.add_argument("--datasets", nargs="+", help="only these datasets")
    p.add_argument("--seeds", type=int, help="number of seeds (0..N-1)")
    p.add_argument("--out", help="results directory (default reports/SUITE)")
    p.add_argument("--jobs", type=int, default=1,
                   help="parallel worker processes (--executor local)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: this machine (default); ray: a Ray cluster")
    p.add_argument("--address", help="Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default: "
                   "a local Ray instance for this command)")
    p.add_argument("--force", action="store_true",
                   help="replace results of a different suite or configuration in --out")
    p.add_argument("--retry-failed", action="store_true", help="rerun runs that failed")
    p.add_argument("--fid-samples", type=int, help="generated images for FID/KID/PR")
    p.add_argument("--extractor", choices=("classifier", "inception"),
                   help="FID feature space")
    p.add_argument("--fid-weights", help="local Inception-v3 weights (or $GENBENCH_FID_WEIGHTS)")
    p.add_argument("--wandb", action="store_true", help="log runs to wandb (offline default)")
    p.add_argument("--no-report", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    budget_args(p)
    data_args(p)
    p.set_defaults(func=cmd_benchmark)

    p = sub.add_parser("report", help="tables and figures from a results directory")
    p.add_argument("run_dir")
    p.add_argument("--wandb", action="store_true", help="also log the table to wandb")
    p.set_defaults(func=cmd_report)
