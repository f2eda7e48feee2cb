"""`make perf`: genbench's speed against this machine's limit and against pythae.

Every figure is measured in this one run, on this machine, and reported as a
ratio where a comparison is meant: absolute times on shared machines are noisy.
Writes OUT/perf.json and OUT/perf.md.

    python -m perf.run --out reports/perf [--device cuda] [--compile] [--skip-suite]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import logging
import math
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from genbench import datasets, models
from genbench.config import load_suite
from genbench.datasets import Batches, ImageData, to_float
from genbench.metrics import FeatureSpace, fidelity_metrics, generate, load_or_train
from genbench.metrics.classifier import ClassifierSettings
from genbench.training import TrainConfig, Trainer, pick_device

log = logging.getLogger("perf")


# -- the hardware reference --------------------------------------------------------------
def matmul_rate(device: torch.device, n: int = 2048, seconds: float = 3.0) -> float:
    """float32 FLOP/s of a large square torch.mm: what this machine can do at best."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        torch.mm(a, b)
    sync(device)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b)
        count += 1
    sync(device)
    return count * 2 * n**3 / (time.perf_counter() - start)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_flops(model: models.GenerativeModel, x: torch.Tensor, y: torch.Tensor | None) -> int:
    """FLOPs of one training step (forward and backward), counted by PyTorch."""
    optimizers = model.optimizers(1e-3, 0.0)

    def update(loss, optimizer):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()

    counter = FlopCounterMode(display=False)
    with counter:
        model.optimization_step(x, y, optimizers, update)
    return counter.get_total_flops()


# -- per family ----------------------------------------------------------------------------
def quick_settings() -> dict[str, Any]:
    return {run.name: run for run in load_suite("quick").runs()}


def train_rate(model: models.GenerativeModel, data: ImageData, batch_size: int, lr: float,
               device: str, compile_: bool, steps: int, warmup: int = 10) -> float:
    """Images/s of genbench's Trainer (everything counted: batches, step, EMA, logging)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(steps=warmup, batch_size=batch_size, lr=lr, device=device,
                             compile=compile_, progress=False, log_every=10**9,
                             checkpoint_every=10**9)
        trainer = Trainer(config, tmp)
        trainer.fit(model, data)  # warm-up: allocations, compilation
        trainer.config = dataclasses.replace(config, steps=warmup + steps)
        before = trainer.fit(model, data, resume=False)  # same model, timed from a warm start
        assert before.steps == warmup + steps
        return before.steps * batch_size / before.seconds


def family_table(data: ImageData, device: torch.device, compile_: bool, reference: float,
                 steps: int) -> list[dict[str, Any]]:
    rows = []
    for name, run in quick_settings().items():
        torch.manual_seed(0)
        model = models.create(run.model, data.image_shape, data.num_classes,
                              **run.model_config).to(device)
        bs = run.train.batch_size
        x = to_float(data.images[:bs].to(device))
        y = data.labels[:bs].to(device)
        flops = step_flops(model, x, y if model.conditional else y)
        rate = train_rate(model, data, bs, run.train.lr, str(device), compile_, steps)
        model.eval()
        generate(model, 16, 16)  # warm-up
        _, sample_rate = generate(model, 256 if name != "diffusion" else 64, 256)
        achieved = flops * rate / bs
        rows.append({"model": name, "batch_size": bs, "params": sum(
            p.numel() for p in model.parameters()), "flops_per_step": flops,
            "train_images_per_second": rate, "sample_images_per_second": sample_rate,
            "achieved_flops": achieved, "fraction_of_matmul": achieved / reference})
        log.info("%s: %.0f img/s, %.0f%% of matmul", name, rate, 100 * achieved / reference)
    return rows


# -- the data path -------------------------------------------------------------------------
class PILImages(torch.utils.data.Dataset):
    """What torchvision's MNIST does per item: uint8 array -> PIL image -> ToTensor."""

    def __init__(self, data: ImageData) -> None:
        from torchvision import transforms

        self.arrays = data.images[:, 0].numpy()
        self.labels = data.labels
        self.transform = transforms.ToTensor()

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.arrays[i], mode="L")), self.labels[i]


def data_path(data: ImageData, device: torch.device, batch_size: int = 128,
              steps: int = 300) -> dict[str, float]:
    """The seed's MLP VAE fed by genbench's batches vs a DataLoader with ToTensor."""
    def run(batches) -> float:
        torch.manual_seed(0)
        model = models.create("vae", data.image_shape).to(device)
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        done, start = 0, None
        while done < steps:
            for x, _ in batches():
                if done == 10:
                    sync(device)
                    start = time.perf_counter()
                loss = model.training_step(x.to(device, non_blocking=True), None)["loss"]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                done += 1
                if done >= steps:
                    break
        sync(device)
        return (steps - 10) * batch_size / (time.perf_counter() - start)

    ours = Batches(data, batch_size, device=device)
    loader = torch.utils.data.DataLoader(PILImages(data), batch_size, shuffle=True,
                                         drop_last=True, pin_memory=device.type == "cuda")
    genbench_rate = run(lambda: ours.epoch(0))
    loader_rate = run(lambda: iter(loader))
    return {"genbench_images_per_second": genbench_rate,
            "dataloader_images_per_second": loader_rate, "ratio": genbench_rate / loader_rate}


# -- the peer: pythae ----------------------------------------------------------------------
def pythae_model(latent_dim: int = 20):
    """The seed's MLP VAE (784-512-256, BCE + KL) in pythae's own classes."""
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from torch import nn

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(),
                                      nn.Linear(512, 256), nn.ReLU())
            self.mean, self.log_var = nn.Linear(256, latent_dim), nn.Linear(256, latent_dim)

        def forward(self, x):
            h = self.body(x)
            return ModelOutput(embedding=self.mean(h), log_covariance=self.log_var(h))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 512),
                                      nn.ReLU(), nn.Linear(512, 784), nn.Sigmoid())

        def forward(self, z):
            return ModelOutput(reconstruction=self.body(z).view(-1, 1, 28, 28))

    config = VAEConfig(input_dim=(1, 28, 28), latent_dim=latent_dim, reconstruction_loss="bce")
    return VAE(config, encoder=Encoder(), decoder=Decoder())


def train_pythae(train: np.ndarray, epochs: int, batch_size: int | None, lr: float | None,
                 device: torch.device) -> tuple[Any, list[float]]:
    """Train with pythae's own pipeline; returns the model and the epoch end times."""
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig
    from pythae.trainers.training_callbacks import TrainingCallback

    for name in list(logging.root.manager.loggerDict):
        if name.startswith("pythae"):
            logging.getLogger(name).setLevel(logging.WARNING)  # its per-epoch log lines

    class Clock(TrainingCallback):
        def __init__(self):
            self.times = []

        def on_train_begin(self, training_config, **kwargs):
            self.times.append(time.perf_counter())

        def on_epoch_end(self, training_config, **kwargs):
            self.times.append(time.perf_counter())

    settings: dict[str, Any] = {"num_epochs": epochs, "no_cuda": device.type != "cuda"}
    if batch_size:
        settings["per_device_train_batch_size"] = batch_size
    if lr:
        settings["learning_rate"] = lr
    clock = Clock()
    torch.manual_seed(0)
    model = pythae_model()
    with (tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()),
          contextlib.redirect_stderr(io.StringIO())):
        config = BaseTrainerConfig(output_dir=tmp, steps_saving=None, **settings)
        TrainingPipeline(training_config=config, model=model)(train_data=train,
                                                                callbacks=[clock])
    return model.eval(), clock.times


@torch.no_grad()
def heldout_loss(loss_of_batch, images: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean per-image loss (BCE summed + KL, one z sample) on held-out images."""
    torch.manual_seed(1)
    total = 0.0
    for i in range(0, len(images), batch_size):
        x = to_float(images[i:i + batch_size])
        total += float(loss_of_batch(x)) * len(x)
    return total / len(images)


def pythae_comparison(train: ImageData, test: ImageData, device: torch.device,
                      epochs_per_epoch_test: int = 3, pythae_epochs: int = 10,
                      batch_size: int = 128) -> dict[str, Any]:
    arrays = to_float(train.images).numpy()
    out: dict[str, Any] = {"train_images": len(train)}

    # (a) Time per epoch at the same batch size and learning rate.
    _, times = train_pythae(arrays, epochs_per_epoch_test, batch_size, 1e-3, device)
    pythae_epoch = float(np.median(np.diff(times)))
    torch.manual_seed(0)
    model = models.create("vae", train.image_shape)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(TrainConfig(epochs=epochs_per_epoch_test, batch_size=batch_size,
                                      lr=1e-3, device=str(device), progress=False,
                                      log_every=10**9, checkpoint_every=10**9), tmp)
        start = time.perf_counter()
        trainer.fit(model, train)
        genbench_epoch = (time.perf_counter() - start) / epochs_per_epoch_test
    out["per_epoch"] = {"batch_size": batch_size, "pythae_seconds": pythae_epoch,
                        "genbench_seconds": genbench_epoch,
                        "speedup": pythae_epoch / genbench_epoch}

    # (b) Time to quality: pythae at its defaults for 10 epochs, then genbench until it
    # reaches the same held-out loss.
    peer, times = train_pythae(arrays, pythae_epochs, None, None, device)
    peer_device = next(peer.parameters()).device
    peer_loss = heldout_loss(lambda x: peer({"data": x.to(peer_device)}).loss.mean(),
                             test.images)
    target = peer_loss
    torch.manual_seed(0)
    ours = models.create("vae", train.image_shape)
    best = {"batch_size": 128, "lr": 2e-3}
    elapsed, reached, ours_loss = 0.0, False, math.inf
    with tempfile.TemporaryDirectory() as tmp:
        steps_per_check = max(1, len(train) // best["batch_size"] // 4)
        steps = 0
        while elapsed < 20 * (times[-1] - times[0]):
            steps += steps_per_check
            config = TrainConfig(steps=steps, batch_size=best["batch_size"], lr=best["lr"],
                                 device=str(device), progress=False, log_every=10**9,
                                 checkpoint_every=10**9)
            trainer = Trainer(config, tmp)
            start = time.perf_counter()
            trainer.fit(ours, train)  # resumes from the previous check's checkpoint
            elapsed += time.perf_counter() - start
            ours.eval()
            ours_loss = heldout_loss(lambda x: ours.training_step(x, None)["loss"], test.images)
            ours.train()
            if ours_loss <= target:
                reached = True
                break
    out["time_to_quality"] = {
        "pythae_settings": "defaults (batch 64, lr 1e-4, Adam), 10 epochs",
        "genbench_settings": f"batch {best['batch_size']}, lr {best['lr']}, Adam",
        "pythae_heldout_loss": peer_loss, "pythae_seconds": times[-1] - times[0],
        "genbench_heldout_loss": ours_loss, "genbench_seconds": elapsed,
        "genbench_steps": steps, "reached": reached,
        "speedup": (times[-1] - times[0]) / elapsed if reached else None}
    return out


# -- metric cost and suite wall-clock ------------------------------------------------------
def metric_cost(train: ImageData, test: ImageData, n: int = 10_000) -> dict[str, float]:
    path, accuracy = load_or_train(datasets_cache(), train, test, ClassifierSettings(epochs=8))
    space = FeatureSpace("classifier", path, accuracy)
    generated = test.images[:n]
    reference = train.images[:n]
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        fidelity_metrics(generated, reference, space, "perf", Path(cache))
        cold = time.perf_counter() - start
        start = time.perf_counter()
        fidelity_metrics(generated, reference, space, "perf", Path(cache))
        warm = time.perf_counter() - start
    return {"samples": min(n, len(generated)), "seconds_cold": cold,
            "seconds_cached_reference": warm, "classifier_accuracy": accuracy}


def datasets_cache() -> Path:
    from genbench.io import cache_dir

    return cache_dir(datasets.resolve_root(None))


def suite_wallclock(out: Path, dataset: str) -> dict[str, Any]:
    target = out / "quick-suite"
    cmd = [sys.executable, "-m", "genbench.cli", "benchmark", "--suite", "quick", "--datasets",
           dataset, "--out", str(target), "--force", "--quiet"]
    if target.exists():
        import shutil

        shutil.rmtree(target)
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return {"seconds": time.perf_counter() - start, "command": " ".join(cmd[2:])}


# -- report --------------------------------------------------------------------------------
def markdown(result: dict[str, Any]) -> str:
    ref = result["matmul_flops"]
    lines = [f"# genbench perf ({result['device']}, {result['machine']})", "",
             f"float32 matmul reference: **{ref / 1e9:.1f} GFLOP/s** (torch.mm 2048², same run)",
             "", "| model | batch | GFLOP/step | train img/s | sample img/s | % of matmul |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in result["families"]:
        lines.append(f"| {r['model']} | {r['batch_size']} | {r['flops_per_step'] / 1e9:.3f} | "
                     f"{r['train_images_per_second']:,.0f} | {r['sample_images_per_second']:,.0f}"
                     f" | {100 * r['fraction_of_matmul']:.0f}% |")
    d = result["data_path"]
    lines += ["", f"Data path (seed MLP VAE, batch 128): genbench batches "
              f"{d['genbench_images_per_second']:,.0f} img/s vs DataLoader+ToTensor "
              f"{d['dataloader_images_per_second']:,.0f} img/s: **{d['ratio']:.2f}×**"]
    if "pythae" in result:
        p = result["pythae"]
        e, q = p["per_epoch"], p["time_to_quality"]
        lines += ["", "## Against pythae (the seed's MLP VAE, same data)", "",
                  f"Per epoch at batch {e['batch_size']}: pythae {e['pythae_seconds']:.2f} s, "
                  f"genbench {e['genbench_seconds']:.2f} s: **{e['speedup']:.2f}×**", "",
                  f"Time to quality: pythae at {q['pythae_settings']}: held-out loss "
                  f"{q['pythae_heldout_loss']:.2f} in {q['pythae_seconds']:.1f} s; genbench "
                  f"({q['genbench_settings']}) reached {q['genbench_heldout_loss']:.2f} in "
                  f"{q['genbench_seconds']:.1f} s: **"
                  + (f"{q['speedup']:.2f}×**" if q["reached"] else "not reached**")]
    m = result["metric_cost"]
    lines += ["", f"FID+KID+PR on {m['samples']:,} samples (classifier features): "
              f"{m['seconds_cold']:.1f} s with both feature sets extracted, "
              f"{m['seconds_cached_reference']:.1f} s with the reference cached"]
    if "quick_suite" in result:
        lines += ["", f"`quick` suite end to end: {result['quick_suite']['seconds'] / 60:.1f} min"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="reports/perf")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--steps", type=int, default=60, help="timed steps per family")
    parser.add_argument("--skip-suite", action="store_true", help="skip the quick suite timing")
    parser.add_argument("--skip-pythae", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="perf: %(message)s")
    log.setLevel(logging.INFO)
    warnings.simplefilter("ignore", UserWarning)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = pick_device(args.device)
    train = datasets.load(args.dataset, "train")
    test = datasets.load(args.dataset, "test")
    result: dict[str, Any] = {"device": str(device), "machine": platform.processor() or
                              platform.machine(), "threads": torch.get_num_threads(),
                              "torch": torch.__version__, "compile": args.compile}
    result["matmul_flops"] = matmul_rate(device)
    log.info("matmul: %.1f GFLOP/s", result["matmul_flops"] / 1e9)
    result["families"] = family_table(train, device, args.compile, result["matmul_flops"],
                                      args.steps)
    result["data_path"] = data_path(train, device)
    log.info("data path: %.2fx", result["data_path"]["ratio"])
    if not args.skip_pythae:
        result["pythae"] = pythae_comparison(train, test, device)
    result["metric_cost"] = metric_cost(train, test)
    if not args.skip_suite:
        result["quick_suite"] = suite_wallclock(out, args.dataset)
    (out / "perf.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "perf.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
