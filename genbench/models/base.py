"""The interface every generative model implements (the registry: registry.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn

from genbench.errors import ConfigError

Update = Callable[[torch.Tensor, torch.optim.Optimizer], None]


class _class_or_instance_method:
    """A method bound to the instance when called on one, else to the class."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.__doc__ = function.__doc__

    def __get__(self, instance: Any, owner: type) -> Callable[..., Any]:
        return self.function.__get__(owner if instance is None else instance)


class GenerativeModel(nn.Module):
    """A generative model as the Trainer and the metrics see it.

    Capabilities are declared, never inferred: the runner asks `reconstructs`,
    `conditional`, `likelihood`, `latent` and `denoises` (sampling by iterative denoising,
    `denoise(n, steps)`) instead of checking types.
    """

    name: ClassVar[str] = ""
    reconstructs: ClassVar[bool] = False
    conditional: ClassVar[bool] = False
    likelihood: ClassVar[bool] = False
    latent: ClassVar[bool] = False
    denoises: ClassVar[bool] = False
    solvers: ClassVar[tuple[str, ...]] = ()  # a denoiser's samplers: steps_for, sample_with
    ema_decay: float = 0.0  # > 0: the Trainer keeps an EMA copy used for sampling
    compile_targets: ClassVar[tuple[str, ...]] = ("training_step",)

    def __init__(self, config: Any, image_shape: tuple[int, int, int],
                 num_classes: int | None = None) -> None:
        super().__init__()
        self.config = config
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        if self.conditional and not num_classes:
            raise ConfigError(f"model {self.name!r} is conditional and needs labelled data; "
                              "this dataset has no class labels")

    @_class_or_instance_method
    def capabilities(self_or_cls) -> dict[str, bool]:
        """The declared capabilities: the class's, or on an instance its own (an instance
        may drop one, e.g. a VAE that samples from a fitted density has no likelihood)."""
        return {k: bool(getattr(self_or_cls, k)) for k in ("reconstructs", "conditional",
                                                            "likelihood", "latent",
                                                            "denoises")}

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # -- training -------------------------------------------------------------------------
    def training_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Named losses for one batch; the Trainer minimises `loss`."""
        raise NotImplementedError

    def optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        return [torch.optim.AdamW(self.parameters(), lr=lr, weight_decay=weight_decay,
                                  fused=fused_ok(self))]

    def optimization_step(self, x: torch.Tensor, y: torch.Tensor | None,
                          optimizers: list[torch.optim.Optimizer],
                          update: Update) -> dict[str, torch.Tensor]:
        """One step of training. Models with several optimizers (GAN) override this."""
        losses = self.training_step(x, y)
        update(losses["loss"], optimizers[0])
        return losses

    def training_phase(self) -> int:
        """Which part of the model the next step trains: the steps of one phase cost the same
        FLOPs (training/flops.py counts each phase once). One phase unless overridden."""
        return 0

    def sampling_ready(self) -> bool:
        """Whether samples mean anything yet (a two-phase model's prior may not have trained):
        the quality curve measures sample quality only once they do."""
        return True

    def prepare_sampling(self, batches: Any) -> None:
        """Called before sampling, on the sampling weights: after training, and at every curve
        point during it (the AE fits its sampling density to its codes here)."""

    def sampler_cost(self) -> dict[str, float]:
        """Cost of the last fit prepare_sampling made (models/latent.py): e.g.
        sampler_fit_seconds, sampler_fit_flops (where counted); {} when nothing is fitted."""
        return {}

    # -- inference ------------------------------------------------------------------------
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """n images in [0, 1], shaped like the training images."""
        raise NotImplementedError

    @torch.no_grad()
    def sample_with(self, n: int, nfe: int, solver: str) -> torch.Tensor:
        """A denoiser's n images in [0, 1] from `solver` (one of `solvers`) at exactly `nfe`
        network evaluations: the sampling-cost axis (benchmarks/nfe.py)."""
        steps = self.steps_for(nfe, solver)  # refuses a solver outside `solvers`
        if steps is None:
            raise ValueError(self.nfe_refusal(nfe, solver))
        return self.sample_steps(n, steps, solver)

    def check_solver(self, solver: str) -> None:
        """Refuse a solver the model does not have (steps_for calls it first)."""
        if solver not in self.solvers:
            raise ValueError(f"{self.name} samples with {', '.join(self.solvers) or 'no solver'}"
                             f", not {solver!r}")

    def steps_for(self, nfe: int, solver: str) -> int | None:
        """A denoiser's steps of `solver` that spend exactly `nfe` network evaluations, None
        where no number of steps does."""
        raise NotImplementedError

    def nfe_refusal(self, nfe: int, solver: str) -> str:
        """Why `solver` cannot spend exactly `nfe` network evaluations, and what it can."""
        raise NotImplementedError

    def sample_steps(self, n: int, steps: int, solver: str) -> torch.Tensor:
        """A denoiser's n images in [0, 1] from `steps` steps of `solver`."""
        raise NotImplementedError

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def log_likelihood(self, x: torch.Tensor, k: int,
                       y: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x) per image in nats, bounded below with k importance samples."""
        raise NotImplementedError

    def likelihood_kind(self) -> str:
        """What `log_likelihood` measures: "binary" (the probability of binary pixels, e.g. a
        Bernoulli decoder) or "density" (a density over pixel values in [0, 1])."""
        raise NotImplementedError(f"model {self.name!r} has a likelihood: say which kind")

    def random_labels(self, n: int) -> torch.Tensor | None:
        if not self.conditional:
            return None
        return torch.randint(self.num_classes, (n,), device=self.device)


def fused_ok(model: nn.Module) -> bool:
    """Fused Adam (one kernel per step instead of a dozen passes over the weights) where
    PyTorch has it; on small models the optimizer step is a large share of the time."""
    return next(model.parameters()).device.type in ("cpu", "cuda")


def positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        bound = "0 or more" if allow_zero else "greater than 0"
        raise ConfigError(f"{name} must be {bound}, got {value}")


def decodes(model: GenerativeModel) -> bool:
    """Whether the model maps continuous latent vectors back to images (grids, traversals)."""
    return model.latent and type(model).decode is not GenerativeModel.decode
