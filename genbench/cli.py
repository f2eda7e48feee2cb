"""The `genbench` command: data, models, suites, train, evaluate, benchmark, report, sample.

Every user error ends with one line saying what is wrong and how to fix it,
and exit status 2; an interrupted command exits 130 and resumes when rerun.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

EXIT_USAGE, EXIT_INTERRUPTED = 2, 130
BUDGETS = ("epochs", "steps", "seconds")


def _value(text: str) -> Any:
    """A command-line value in TOML syntax (numbers, booleans, lists), else a string."""
    from genbench.config import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _settings(pairs: list[str] | None, flag: str) -> dict[str, Any]:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = _value(value.strip())
    return out


# -- data -------------------------------------------------------------------------------------
def cmd_data_list(args: argparse.Namespace) -> int:
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
        print(left, _wrap(r[4], len(left) + 1))
    for name, message in problems:  # whole messages: they say which files to put where
        print(f"\n{name}:\n  {_wrap(message, 2)}")
    return 0


def _wrap(text: str, indent: int) -> str:
    """Every line of `text` wrapped to the terminal, indented by `indent` after the first;
    a line's own indentation (a list item's) is kept on its continuation lines."""
    import shutil
    import textwrap

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


def cmd_data_prepare(args: argparse.Namespace) -> int:
    from genbench import datasets

    options = _settings(args.option, "--option")
    for split in ("train", "test"):
        data = datasets.load(args.name, split, args.data_root, not args.no_download, **options)
        print(f"{args.name} {split}: {len(data)} images {tuple(data.image_shape)} from "
              f"{data.meta['source']}")
    return 0


# -- models and suites -------------------------------------------------------------------------
def cmd_models(args: argparse.Namespace) -> int:
    import dataclasses

    from genbench import models

    for name in models.available():
        caps = [k for k, v in models.model_class(name).capabilities().items() if v]
        config = models.make_config(name)
        settings = ", ".join(f"{f.name}={getattr(config, f.name)}"
                             for f in dataclasses.fields(config))
        print(f"{name:10s} [{', '.join(caps) or 'samples only'}]\n    {settings}")
    return 0


def cmd_suites(args: argparse.Namespace) -> int:
    from genbench.config import available_suites, load_suite

    for name in available_suites():
        suite = load_suite(name)
        print(f"{name:8s} {len(suite.runs()):3d} runs  {suite.description}")
    return 0


# -- train / evaluate / sample -----------------------------------------------------------------
def _train_config(args: argparse.Namespace, base: dict[str, Any]) -> dict[str, Any]:
    values = dict(base)
    given = {k: getattr(args, k) for k in BUDGETS if getattr(args, k, None) is not None}
    if given:
        values = {k: v for k, v in values.items() if k not in BUDGETS}
        values.update(given)
    for key in ("batch_size", "lr", "device"):
        if getattr(args, key, None) is not None:
            values[key] = getattr(args, key)
    if getattr(args, "compile", False):
        values["compile"] = True
    return values


def cmd_train(args: argparse.Namespace) -> int:
    from genbench.benchmarks import store
    from genbench.benchmarks.job import train_run
    from genbench.config import ConfigError, DataConfig, RunConfig, _build
    from genbench.training import TrainConfig

    train = _train_config(args, {"epochs": 1} if not any(
        getattr(args, k) is not None for k in BUDGETS) else {})
    train.update(seed=args.seed, wandb=args.wandb)
    run = RunConfig(
        name=args.model, model=args.model,
        data=DataConfig(args.dataset, args.data_root, _settings(args.option, "--option"),
                        args.max_train, None, not args.no_download),
        seed=args.seed, model_config=_settings(args.set, "--set"),
        train=_build(TrainConfig, train, "train"))
    out = Path(args.out or f"runs/{run.run_id}")
    if out.exists() and any(out.iterdir()) and not (out / store.CONFIG).exists():
        raise ConfigError(f"{out} exists and is not a genbench run directory; choose another "
                          "--out")
    store.prepare_run_dir(out, run.to_dict(), args.force)
    summary = train_run(run, out, progress=not args.quiet)
    print(f"trained {run.run_id}: {summary['train_steps']} steps in "
          f"{summary['train_seconds']:.1f} s ({summary['train_images_per_second']:.0f} img/s) "
          f"-> {out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from genbench.benchmarks import evaluate_run

    metrics = evaluate_run(args.run_dir, fid_weights=args.fid_weights, device=args.device,
                           data_root=args.data_root)
    print(json.dumps(metrics, indent=2, default=str))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from genbench.benchmarks.evaluate import build_model, load_run_data
    from genbench.benchmarks.job import save_grid
    from genbench.config import RunConfig
    from genbench.io import read_json, torch_load
    from genbench.training import load_sampling_weights, pick_device

    run_dir = Path(args.run_dir)
    if not (run_dir / "checkpoint.pt").exists():
        raise FileNotFoundError(f"{run_dir} has no checkpoint.pt; train it first")
    run = RunConfig.from_dict(read_json(run_dir / "config.json"))
    run.data.root = args.data_root or run.data.root
    train, _ = load_run_data(run.data)
    model = build_model(run, train).to(pick_device(args.device))
    load_sampling_weights(model, torch_load(run_dir / "checkpoint.pt", "checkpoint"))
    if args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}")
    torch.manual_seed(args.seed)
    labels = None
    if model.conditional:
        labels = (torch.full((args.n,), args.label) if args.label is not None
                  else torch.arange(args.n) % model.num_classes).to(model.device)
    with torch.no_grad():
        images = (model.denoise(args.n, steps=args.steps)[0] if args.steps and
                  hasattr(model, "denoise") else model.sample(args.n, labels))
    out = Path(args.out or run_dir / "samples-cli.png")
    save_grid(out, images, nrow=args.nrow)
    print(f"{args.n} samples -> {out}")
    return 0


# -- benchmark / report ------------------------------------------------------------------------
def cmd_benchmark(args: argparse.Namespace) -> int:
    from genbench.benchmarks import run_suite
    from genbench.config import load_suite
    from genbench.metrics.fidelity import MIN_MEANINGFUL_SAMPLES

    suite = load_suite(args.suite)
    suite.train = _train_config(args, suite.train)
    if args.fid_samples is not None:
        suite.eval = {**suite.eval, "fid_samples": args.fid_samples}
    seeds = args.seeds
    suite = suite.select(args.models, args.datasets, seeds)
    runs = suite.runs()
    small = sorted({r.eval.fid_samples for r in runs if r.eval.fid_samples
                    < MIN_MEANINGFUL_SAMPLES})
    if small:
        print(f"genbench: warning: FID on {small[0]} samples is strongly biased and not "
              f"comparable with published values; use --fid-samples {MIN_MEANINGFUL_SAMPLES} or "
              "more for comparisons", file=sys.stderr)
    out = Path(args.out or f"reports/{suite.name}")
    result = run_suite(suite, out, jobs=args.jobs, executor=args.executor,
                       address=args.address, force=args.force,
                       retry_failed=args.retry_failed, report=not args.no_report,
                       progress=not args.quiet, data_root=args.data_root,
                       download=False if args.no_download else None,
                       fid_weights=args.fid_weights, extractor=args.extractor,
                       device=args.device, wandb=args.wandb or None)
    print(f"{suite.name}: {len(result.done)} run(s) done, {len(result.skipped)} already "
          f"complete, {len(result.failed)} failed -> {out}")
    if not args.no_report:
        print(f"report: {out / 'report.html'}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from genbench.reports import write_report

    files = write_report(args.run_dir, wandb=args.wandb)
    for kind, path in files.items():
        print(f"{kind:5s} {path}")
    return 0


# -- parser ------------------------------------------------------------------------------------
def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-root", help="data root (torchvision layout), or for `folder` the "
                   "image directory; default $GENBENCH_DATA, else ./data")
    p.add_argument("--no-download", action="store_true", help="never try to download")


def _budget_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--epochs", type=float)
    g.add_argument("--steps", type=int)
    g.add_argument("--seconds", type=float, help="wall-clock training budget per run")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--device", help="auto (default), cpu, cuda, mps")
    p.add_argument("--compile", action="store_true", help="torch.compile the training step")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genbench", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="list or prepare datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    p = data_sub.add_parser("list", help="datasets, availability, source, size")
    _data_args(p)
    p.set_defaults(func=cmd_data_list)
    p = data_sub.add_parser("prepare", help="fetch, decode and cache a dataset")
    p.add_argument("name")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="dataset option, e.g. size=32 (sprites, folder)")
    _data_args(p)
    p.set_defaults(func=cmd_data_prepare)

    sub.add_parser("models", help="registered models, capabilities, settings").set_defaults(
        func=cmd_models)
    sub.add_parser("suites", help="shipped benchmark suites").set_defaults(func=cmd_suites)

    p = sub.add_parser("train", help="train one model into a run directory")
    p.add_argument("--model", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="model setting, e.g. latent_dim=2 (see `genbench models`)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="dataset option")
    p.add_argument("--max-train", type=int, help="use the first N training images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="run directory (default runs/MODEL-DATASET-sSEED)")
    p.add_argument("--force", action="store_true", help="replace a different run in --out")
    p.add_argument("--wandb", action="store_true", help="log to wandb (offline by default)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _budget_args(p)
    _data_args(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="measure a trained run; writes metrics.json")
    p.add_argument("run_dir")
    p.add_argument("--fid-weights", help="local Inception-v3 weights (or $GENBENCH_FID_WEIGHTS)")
    p.add_argument("--device", default="auto")
    p.add_argument("--data-root", help="data root, if it moved since training")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("sample", help="draw samples from a trained run into a PNG grid")
    p.add_argument("run_dir")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--nrow", type=int, default=8)
    p.add_argument("--label", type=int, help="class for conditional models")
    p.add_argument("--steps", type=int, help="DDIM steps (diffusion)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="PNG path (default RUN_DIR/samples-cli.png)")
    p.add_argument("--device", default="auto")
    p.add_argument("--data-root", help="data root, if it moved since training")
    p.set_defaults(func=cmd_sample)

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
    _budget_args(p)
    _data_args(p)
    p.set_defaults(func=cmd_benchmark)

    p = sub.add_parser("report", help="tables and figures from a results directory")
    p.add_argument("run_dir")
    p.add_argument("--wandb", action="store_true", help="also log the table to wandb")
    p.set_defaults(func=cmd_report)
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


if __name__ == "__main__":
    sys.exit(main())
