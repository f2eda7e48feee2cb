"""The one Trainer for every model family, and the callback hook it runs during training."""

from genbench.training.callbacks import Callback, LogSpaced, Progress
from genbench.training.checkpoint import CHECKPOINT
from genbench.training.config import BUDGETS, TrainConfig, convolutional, lay_out, pick_device
from genbench.training.ema import load_sampling_weights
from genbench.training.flops import step_flops
from genbench.training.loggers import LOSS_CURVE
from genbench.training.state import TrainState
from genbench.training.trainer import NonFiniteLoss, Trainer, TrainResult

__all__ = ["BUDGETS", "CHECKPOINT", "LOSS_CURVE", "Callback", "LogSpaced", "NonFiniteLoss",
           "Progress", "TrainConfig", "TrainResult", "TrainState", "Trainer",
           "convolutional", "lay_out", "load_sampling_weights", "pick_device", "step_flops"]
