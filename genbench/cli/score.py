"""`genbench score`: samples made elsewhere, measured as a benchmark run measures its own."""

from __future__ import annotations

import argparse

from genbench.cli.common import settings


def cmd_score(args: argparse.Namespace) -> int:
    from genbench import api

    flags = {k: getattr(args, k) for k in ("data_root", "fid_samples", "extractor",
                                            "fid_weights") if getattr(args, k) is not None}
    metrics = api.score(args.samples, args.dataset, args.out, args.name, labels=args.labels,
                        options=settings(args.option, "--option"), force=args.force,
                        no_download=args.no_download, **flags)
    shown = ", ".join(f"{k} {metrics[k]:.4g}" for k in ("fid", "kid", "precision", "recall",
                                                         "conditional_accuracy") if k in metrics)
    print(f"{metrics['run']}: {shown} [{metrics['fid_extractor']}, n={metrics['fid_samples']}]"
          f" -> {args.out}/runs/{metrics['run']}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="measure samples made elsewhere, as a benchmark run's",
                       description="Measure samples made elsewhere with every sample-quality "
                       "metric a benchmark run gets (same feature space, reference and n; "
                       "those of the suite in --out where it holds one) and add them to --out "
                       "as a run, for `genbench report`.")
    p.add_argument("samples", help="a folder of PNG/JPEG images, or a .npy/.npz (uint8 "
                   "N×H×W[×C] or floats in [0, 1]) or .pt (N×C×H×W or N×H×W[×C]) file")
    p.add_argument("--dataset", required=True, help="the dataset the samples imitate")
    p.add_argument("--out", default="reports/scored",
                   help="results directory (default reports/scored); a suite's to sit beside it")
    p.add_argument("--name", help="the run's name in the report (default: the samples' name)")
    p.add_argument("--labels", help="the class of each sample: a CSV (one per line, or a "
                   "`label` column) or a .npy/.npz/.pt array; gives conditional accuracy")
    p.add_argument("--fid-samples", type=int, help="n: samples measured (default: the suite's)")
    p.add_argument("--extractor", choices=("classifier", "inception"), help="FID feature space")
    p.add_argument("--fid-weights", help="local Inception-v3 weights (or $GENBENCH_FID_WEIGHTS)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="dataset option, e.g. size=32 (sprites, folder)")
    p.add_argument("--force", action="store_true", help="replace a different run of that name")
    p.add_argument("--data-root", help="data root (torchvision layout); default $GENBENCH_DATA")
    p.add_argument("--no-download", action="store_true", help="never try to download")
    p.set_defaults(func=cmd_score)
