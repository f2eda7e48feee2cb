"""The `genbench` command: data, models, suites, train, evaluate, benchmark, report, sample.

Every user error ends with one line saying what is wrong and how to fix it,
and exit status 2; an interrupted command exits 130 and resumes when rerun.
One module per group of subcommands, each adding its parsers with `add_commands`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings

from genbench.cli import data, runs, suites

EXIT_USAGE, EXIT_INTERRUPTED = 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genbench", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (data, suites, runs):
        group.add_commands(sub)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    from genbench.benchmarks import RunIncomplete, StoreError
    from genbench.benchmarks.executors import ExecutorError
    from genbench.config import ConfigError
    from genbench.datasets import DatasetCorrupt, DatasetUnavailable
    from genbench.io import CorruptFileError
    from genbench.metrics import FidelityError
    from genbench.reports import ReportError
    from genbench.training import NonFiniteLoss

    return (ConfigError, DatasetUnavailable, DatasetCorrupt, CorruptFileError, StoreError,
            FidelityError, RunIncomplete, ReportError, NonFiniteLoss, ExecutorError, KeyError,
            ValueError, FileNotFoundError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="genbench: %(levelname)s: %(message)s")
    warnings.formatwarning = lambda message, category, *rest: f"genbench: warning: {message}\n"
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("genbench: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _user_errors() as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"genbench: error: {message}", file=sys.stderr)
        return EXIT_USAGE
