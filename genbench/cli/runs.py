"""`genbench train | evaluate | sample`: one model in one run directory."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from genbench.cli.common import budget_args, changes, data_args, settings
from genbench.errors import ConfigError, UnknownName

if TYPE_CHECKING:
    import torch

    from genbench.models.base import GenerativeModel


def cmd_train(args: argparse.Namespace) -> int:
    from genbench.benchmarks import store
    from genbench.benchmarks.job import train_run
    from genbench.datasets import check_batch_size, resolve_root
    from genbench.judge import inputs_for, judge_of, load_splits
    from genbench.paths import check_output_dir
    from genbench.settings import DataConfig, RunConfig
    from genbench.training import TrainConfig

    run = RunConfig(
        name=args.model, model=args.model,
        data=DataConfig(args.dataset, options=settings(args.option, "--option"),
                        max_train=args.max_train),
        seed=args.seed, model_config=settings(args.set, "--set"),
        train=TrainConfig(epochs=1, seed=args.seed)).changed(changes(args))
    out = Path(args.out or f"runs/{run.run_id}")
    check_output_dir(out, resolve_root(run.data.root))
    if out.exists() and any(out.iterdir()) and not (out / store.CONFIG).exists():
        raise ConfigError(f"{out} exists and is not a genbench run directory; choose another "
                          "--out")
    splits = load_splits(run.data)  # missing data fails before anything is written,
    check_batch_size(run.train.batch_size, splits[0])  # as batches larger than the data
    inputs = inputs_for(run, splits)
    store.prepare_run_dir(out, run.to_dict(), args.force)
    summary, _ = train_run(run, out, judge_of(run, inputs), progress=not args.quiet)
    print(f"trained {run.run_id}: {summary['train_steps']} steps in "
          f"{summary['train_seconds']:.1f} s ({summary['train_images_per_second']:.0f} img/s) "
          f"-> {out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from genbench.benchmarks import evaluate_run

    reopen(args)
    metrics = evaluate_run(args.run_dir, changes(args))
    print(json.dumps(metrics, indent=2, default=str))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from genbench.benchmarks import store
    from genbench.benchmarks.build import load_trained
    from genbench.benchmarks.job import save_grid
    from genbench.judge.inputs import load_splits
    from genbench.settings import RunConfig

    if args.n < 1:
        raise ConfigError(f"--n must be at least 1, got {args.n}")
    if args.nrow < 1:
        raise ConfigError(f"--nrow (images per row of the grid) must be at least 1, got "
                          f"{args.nrow}")
    run_dir = Path(args.run_dir)
    reopen(args)
    run = RunConfig.from_dict(store.read_config(run_dir)).changed(changes(args))
    out = Path(args.out or run_dir / store.CLI_SAMPLES)
    check_grid_path(out)  # before the model is loaded and sampled: nothing is written
    train, _ = load_splits(run.data)
    model = load_trained(run, run_dir, train, run.train.device)
    if args.steps and not model.denoises:
        raise ConfigError(f"--steps is for models that sample by denoising (diffusion); "
                          f"{run.model} does not")
    torch.manual_seed(args.seed)
    labels = sample_labels(run.model, model, args.label, args.n)
    with torch.no_grad():
        images = (model.denoise(args.n, steps=args.steps)[0] if args.steps
                  else model.sample(args.n, labels))
    save_grid(out, images, nrow=args.nrow)
    print(f"{args.n} samples -> {out}")
    return 0


def reopen(args: argparse.Namespace) -> None:
    """Import the plug-ins named after the subcommand (`genbench sample RUN --plugin X`, as
    before it), then refuse a run whose model none registers, in one line naming the plug-in
    its metrics.json recorded: a new process knows only the built-in models."""
    from genbench import models, plugins
    from genbench.benchmarks import store

    plugins.load(args.run_plugins, "--plugin")
    run_dir = Path(args.run_dir)
    model = store.read_config(run_dir).get("model")  # a scored run has none: nothing to load
    if model is None or model in models.available():
        return
    source = (store.read_metrics(run_dir) or {}).get("model_source")
    plugin = source or "MODULE_OR_FILE.py"
    came = (f"of the plug-in {source}, not loaded here" if source else
            f"which no loaded plug-in registers (known: {', '.join(models.available())})")
    raise UnknownName(f"run {run_dir} was trained with model {model!r} {came}: pass "
                      f"--plugin {plugin} (genbench {args.command} {run_dir} --plugin {plugin})")


def plugin_arg(p: argparse.ArgumentParser) -> None:
    # Its own dest: argparse would let a subcommand's default replace the global flag's list.
    p.add_argument("--plugin", action="append", default=[], dest="run_plugins",
                   metavar="MODULE_OR_FILE.py", help="the plug-in that registered the run's "
                   "model (a module name or a .py file); also accepted before the subcommand")


def check_grid_path(out: Path) -> None:
    """Refuse an --out the PNG grid cannot be written to, before any work is done."""
    from genbench.paths import check_output_dir

    if out.is_dir():
        raise ConfigError(f"--out {out} names a directory; give a file path ending in .png, "
                          f"e.g. {out / 'samples.png'}")
    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out {out} must be a file path ending in .png (the grid is a PNG)")
    check_output_dir(out.parent, flag="the folder of --out")


def sample_labels(name: str, model: GenerativeModel, label: int | None,
                  n: int) -> torch.Tensor | None:
    """The class of each of the `n` samples (None for an unconditional model): --label, or
    every class in turn."""
    import torch

    from genbench import models

    if not model.conditional:
        if label is not None:  # it would be ignored, and the grid mistaken for that class
            conditional = [m for m in models.available() if models.model_class(m).conditional]
            raise ConfigError(f"model {name} is unconditional; --label is for conditional "
                              f"models ({', '.join(conditional)})")
        return None
    classes = model.num_classes
    if label is None:
        return (torch.arange(n) % classes).to(model.device)
    if not 0 <= label < classes:
        raise ConfigError(f"--label {label} is out of range: {name} was trained on {classes} "
                          f"classes; choose 0 to {classes - 1}")
    return torch.full((n,), label).to(model.device)


def add_commands(sub: argparse._SubParsersAction) -> None:
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
    budget_args(p)
    data_args(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="measure a trained run; writes metrics.json")
    p.add_argument("run_dir")
    p.add_argument("--fid-weights", help="local Inception-v3 weights (or $GENBENCH_FID_WEIGHTS)")
    p.add_argument("--device", help="auto, cpu, cuda, mps (default: the run's)")
    p.add_argument("--data-root", help="data root, if it moved since training")
    plugin_arg(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("sample", help="draw samples from a trained run into a PNG grid")
    p.add_argument("run_dir")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--nrow", type=int, default=8)
    p.add_argument("--label", type=int, help="class for conditional models")
    p.add_argument("--steps", type=int, help="DDIM steps (diffusion)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="PNG path (default RUN_DIR/samples-cli.png)")
    p.add_argument("--device", help="auto, cpu, cuda, mps (default: the run's)")
    p.add_argument("--data-root", help="data root, if it moved since training")
    plugin_arg(p)
    p.set_defaults(func=cmd_sample)
