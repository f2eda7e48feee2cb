"""`genbench judge train | show`: the judges genbench ships (judge/shipped.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from genbench.cli.common import data_args


def cmd_train(args: argparse.Namespace) -> int:
    """Train a dataset's classifier and label-free encoder with today's recipes, and write
    them with their manifest entry (by default into the package: what genbench ships)."""
    from genbench.judge import load_splits, shipped
    from genbench.settings import DataConfig

    # The benchmark's own splits: the held-out one in the judges' order (its first images are
    # the reference of the manifest's calibration figures, as of every report's).
    train, test = load_splits(DataConfig(name=args.dataset, root=args.data_root,
                                         download=not args.no_download))
    folder = Path(args.out) if args.out else shipped.WEIGHTS
    folder.mkdir(parents=True, exist_ok=True)
    entry = shipped.train_judge(train, test, folder)
    print(json.dumps(entry, indent=1))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """The shipped judges' manifest."""
    from genbench.judge import shipped

    print(json.dumps(shipped.manifest(), indent=1))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    judge = sub.add_parser("judge", help="the shipped judges: train one, or show the manifest")
    judge_sub = judge.add_subparsers(dest="judge_command", required=True)
    p = judge_sub.add_parser("train", help="train a dataset's classifier and encoder (once; "
                             "minutes) with their manifest entry")
    p.add_argument("dataset")
    p.add_argument("--out", help="folder for the weights and manifest.json (default: the "
                   "package's, i.e. the judges genbench ships)")
    data_args(p)
    p.set_defaults(func=cmd_train)
    p = judge_sub.add_parser("show", help="the shipped judges' manifest")
    p.set_defaults(func=cmd_show)
