"""`genbench compare A B`: one image set against another (or against a dataset), as
torch-fidelity's `fidelity --input1 A --input2 B` and clean-fid's `compute_fid(A, B)` do, with
every sample-quality number of genbench's judge."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from genbench.cli.common import settings

SECOND = "selfsupervised"  # the judge's second space, as its metrics name it
# (label, metric key, space): the rows of the table; the space None is the comparison's own
ROWS = [("FID", "fid", None), ("KID", "kid", None), ("precision", "precision", None),
        ("recall", "recall", None), ("density", "density", None),
        ("coverage", "coverage", None), ("FD", f"fid_{SECOND}", SECOND),
        ("KID", f"kid_{SECOND}", SECOND)]


def cmd_compare(args: argparse.Namespace) -> int:
    from genbench import api

    flags = {k: getattr(args, k) for k in ("data_root", "fid_samples", "extractor",
                                            "fid_weights", "no_download")
             if getattr(args, k) not in (None, False)}
    result = api.compare(args.a, args.b, args.dataset,
                         options=settings(args.option, "--option"), **flags)
    print(json.dumps(_plain(result), indent=2) if args.json else table(result))
    return 0


def table(result: dict[str, Any]) -> str:
    """The comparison as a few lines: what was measured, in which space, then one row per
    number with its bootstrap interval."""
    level = result.get("bootstrap_level", 0.95)
    space = result["feature_space"]
    accuracy = result.get("classifier_accuracy")
    about = f"{result['dataset']} classifier, accuracy {accuracy:.3f}" if (
        space == "classifier" and accuracy is not None) else result["dataset"]
    lines = [f"A  {result['a']}  (n={result['n_a']})",
             f"B  {result['b']}  (n={result['n_b']})",
             f"features: {space} ({about}); second space: {SECOND} (label-free)", ""]
    rows = [(label, where or space, _number(result.get(key)),
             _interval(result.get(f"{key}_lo"), result.get(f"{key}_hi")))
            for label, key, where in ROWS if result.get(key) is not None]
    header = ("metric", "space", "value", f"{level:.0%} interval")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                     .rstrip())
    flags = [name for name in ("copying", "collapsed") if result.get(name)]
    if flags:
        lines.append(f"flagged: {', '.join(flags)} (the copy and collapse checks; see --json)")
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.4g}"


def _interval(lo: float | None, hi: float | None) -> str:
    return "" if lo is None or hi is None else f"[{_number(lo)}, {_number(hi)}]"


def _plain(result: dict[str, Any]) -> dict[str, Any]:
    """JSON without NaN or infinities (not JSON): null where a number is undefined."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in result.items()}


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="every sample-quality number of images A against B",
                       description="Every sample-quality number of the images A against B "
                       "(FID, KID, precision, recall, density, coverage with bootstrap "
                       "intervals; FD and KID in a second, label-free space), as `fidelity "
                       "--input1 A --input2 B` (torch-fidelity) or `fid.compute_fid(A, B)` "
                       "(clean-fid). Against a dataset (`genbench compare samples/ mnist`), A "
                       "is measured as `genbench score` measures it, without writing a run. "
                       "Between two image sets, --dataset names the feature space; all of "
                       "each set is measured unless --fid-samples says n.")
    p.add_argument("a", metavar="A", help="a folder of PNG/JPEG images, or a .npy/.npz/.pt "
                   "file (uint8 N×H×W[×C] or floats in [0, 1])")
    p.add_argument("b", metavar="B", help="the same, or a dataset's name (its held-out "
                   "images; an existing path is read as images)")
    p.add_argument("--dataset", help="the dataset A and B resemble, whose classifier and "
                   "label-free encoder give the features (needed unless B is a dataset)")
    p.add_argument("--json", action="store_true", help="print every number as JSON")
    p.add_argument("--fid-samples", type=int, help="n: the first n of each set (default: all; "
                   "against a dataset, the suites' n)")
    p.add_argument("--extractor", choices=("classifier", "inception"), help="feature space")
    p.add_argument("--fid-weights", help="local Inception-v3 weights (or $GENBENCH_FID_WEIGHTS)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="dataset option, e.g. size=32 (sprites, folder)")
    p.add_argument("--data-root", help="data root (torchvision layout); default $GENBENCH_DATA")
    p.add_argument("--no-download", action="store_true", help="never try to download")
    p.set_defaults(func=cmd_compare)
