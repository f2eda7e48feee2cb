"""The one Trainer for every model family, and the callback hook it runs during training."""

from genbench.training.callbacks import Callback, LogSpaced, Progress
from genbench.training.checkpoint import CHECKPOINT
from genbench.training.config import TrainConfig, pick_device
from genbench.training.ema import load_sampling_weights
from genbench.training.loggers import LOSS_CURVE
from genbench.training.trainer import NonFiniteLoss, Trainer, TrainResult

__all__ = ["CHECKPOINT", "LOSS_CURVE", "Callback", "LogSpaced", "NonFiniteLoss", "Progress",
           "TrainConfig", "TrainResult", "Trainer", "load_sampling_weights", "pick_device"]
