"""The VAE peer itself: the seed's MLP VAE in pythae's classes, trained by pythae's pipeline."""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import time
from typing import Any

import numpy as np
import torch


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
    """Train with pythae's own pipeline; returns the model and its epochs' seconds."""
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig
    from pythae.trainers.training_callbacks import TrainingCallback

    for name in list(logging.root.manager.loggerDict):
        if name.startswith("pythae"):
            logging.getLogger(name).setLevel(logging.WARNING)  # its per-epoch log lines

    class Clock(TrainingCallback):
        """Times at the start and at every epoch's end: all of an epoch's work between."""

        def __init__(self):
            self.times: list[float] = []

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
    return model.eval(), [float(s) for s in np.diff(clock.times)]
