"""The averaged weights a model samples from (EMA), and loading them for evaluation."""

from __future__ import annotations

from typing import Any

import torch

from genbench.models import GenerativeModel


def warmed_up_ema(decay: float):
    """EMA whose decay grows as min(decay, (1 + n) / (10 + n)) with the updates n so far:
    a short run samples from trained weights, not from an average dominated by the init."""
    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n) -> None:
        n = int(n)
        weight = 1 - min(decay, (1 + n) / (10 + n))
        floats = [(a, c) for a, c in zip(averaged, current, strict=True)
                  if a.is_floating_point()]
        if floats:
            torch._foreach_lerp_([a for a, _ in floats], [c for _, c in floats], weight)
    return update


def load_sampling_weights(model: GenerativeModel, checkpoint: dict[str, Any]) -> GenerativeModel:
    """Load a finished checkpoint's weights for evaluation: EMA ones where kept."""
    if checkpoint.get("ema") is not None:
        ema = {k.removeprefix("module."): v for k, v in checkpoint["ema"].items()
               if k.startswith("module.")}
        model.load_state_dict(ema)
    else:
        model.load_state_dict(checkpoint["model"])
    return model.eval()
