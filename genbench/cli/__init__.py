"""The `genbench` command: benchmark generative models, score and compare their samples.

Every user error (genbench.errors.GenbenchError) ends with one line saying what is wrong and
how to fix it, and exit status 2 (-v adds its traceback); any other exception is a bug: its
traceback is printed, exit status 1. An interrupted command exits 130 and resumes when rerun.
One module per group of subcommands, each adding its parsers with `add_commands`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Callable

from genbench import plugins
from genbench.cli import compare, data, judges, runs, score, suites
from genbench.errors import GenbenchError

EXIT_BUG, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genbench")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE_OR_FILE.py",
                        help="import a plug-in (a module name or a .py file) that registers "
                        "models or datasets; give it again to commands that reopen its runs")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (data, suites, runs, score, compare, judges):
        group.add_commands(sub)
    # From the registered commands, so that the list never misses one.
    parser.description = f"{__doc__.splitlines()[0]} Commands: {', '.join(sub.choices)}."
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="genbench: %(levelname)s: %(message)s")
    warnings.formatwarning = lambda message, category, *rest: f"genbench: warning: {message}\n"
    try:
        plugins.load(args.plugin, "--plugin")
        return _machine_faults_in_one_line(args.func, args)
    except KeyboardInterrupt:
        print("genbench: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`genbench evaluate DIR | head`): no noise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except GenbenchError as error:
        if args.verbose:
            traceback.print_exc()
        print(f"genbench: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Exception:
        traceback.print_exc()
        print("genbench: this is a bug in genbench, not in your input: please report it with "
              "the traceback above", file=sys.stderr)
        return EXIT_BUG


def _machine_faults_in_one_line(command: Callable[[argparse.Namespace], int],
                                args: argparse.Namespace) -> int:
    """The command; a disk full, a read-only or unwritable folder anywhere in it (the results
    folder's own files too, not only a run's) is the machine's fault, said in one line."""
    from genbench.benchmarks.faults import MachineFault, machine_fault

    try:
        return command(args)
    except OSError as error:
        fault = machine_fault(error)
        if fault is None:
            raise
        out = getattr(args, "out", None)
        where = fault.filename or (f"into {out}" if out else "a file")
        raise MachineFault(f"could not write {where} ({fault.strerror}); "
                           "free space or fix permissions and run the same command again: "
                           "what is finished is kept") from error
