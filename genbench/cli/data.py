"""`genbench data list | prepare`: which datasets are here, and fetching one."""

from __future__ import annotations

import argparse
import shutil
import textwrap

from genbench.cli.common import data_args, settings


def cmd_list(args: argparse.Namespace) -> int:
    from genbench import datasets

    rows, problems = [], []
    for name in datasets.available():
        spec = datasets.get_spec(name)
        if spec.root_is_data and not args.data_root:
            rows.append((name, "needs --data-root DIR", "", "", spec.description))
            continue
        try:
            train = datasets.load(name, "train", args.data_root, download=False)
            test = datasets.load(name, "test", args.data_root, download=False)
        except (datasets.DatasetUnavailable, datasets.DatasetCorrupt) as error:
            rows.append((name, "no", "", "", "see below"))
            problems.append((name, str(error)))
            continue
        shape = "x".join(str(s) for s in train.image_shape)
        rows.append((name, "yes", f"{len(train)}/{len(test)}", shape, train.meta["source"]))
    header = ("dataset", "available", "train/test", "shape (CxHxW)", "source")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
    for r in [header, *rows]:
        left = "  ".join(str(c).ljust(w) for c, w in zip(r[:4], widths, strict=True))
        print(left, wrap(r[4], len(left) + 1))
    for name, message in problems:  # whole messages: they say which files to put where
        print(f"\n{name}:\n  {wrap(message, 2)}")
    return 0


def wrap(text: str, indent: int) -> str:
    """Every line of `text` wrapped to the terminal, indented by `indent` after the first;
    a line's own indentation (a list item's) is kept on its continuation lines."""
    width = max(40, shutil.get_terminal_size().columns - indent)
    out = []
    for line in text.splitlines() or [""]:
        body = line.lstrip()
        lead = line[:len(line) - len(body)]
        item = lead + ("- " if body.startswith("- ") else "")
        out += textwrap.wrap(body, width, initial_indent=lead,
                             subsequent_indent=" " * len(item), break_on_hyphens=False,
                             break_long_words=False) or [""]
    return ("\n" + " " * indent).join(out)


def cmd_prepare(args: argparse.Namespace) -> int:
    from genbench import datasets

    options = settings(args.option, "--option")
    for split in ("train", "test"):
        data = datasets.load(args.name, split, args.data_root, not args.no_download, **options)
        print(f"{args.name} {split}: {len(data)} images {tuple(data.image_shape)} from "
              f"{data.meta['source']}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="list or prepare datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    p = data_sub.add_parser("list", help="datasets, availability, source, size")
    data_args(p)
    p.set_defaults(func=cmd_list)
    p = data_sub.add_parser("prepare", help="fetch, decode and cache a dataset")
    p.add_argument("name")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="dataset option, e.g. size=32 (sprites, folder)")
    data_args(p)
    p.set_defaults(func=cmd_prepare)
