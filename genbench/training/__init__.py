"""The one Trainer for every model family."""

from genbench.training.trainer import (
    CHECKPOINT,
    NonFiniteLoss,
    TrainConfig,
    Trainer,
    TrainResult,
    load_sampling_weights,
    pick_device,
)

__all__ = ["CHECKPOINT", "NonFiniteLoss", "TrainConfig", "TrainResult", "Trainer",
           "load_sampling_weights", "pick_device"]
