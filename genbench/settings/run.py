"""Configuration as dataclasses: one run (data, model, training, evaluation, resources).

Everything a user can type is validated here, before any work starts, with a
message naming the bad value and the allowed ones.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from typing import Any

from genbench import datasets, models
from genbench.errors import ConfigError
from genbench.training import TrainConfig
from genbench.training.stopping import StopRule
from genbench.validation import (
    check_fields,
    check_instance,
    check_value,
    parameter_types,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOMLDecodeError = tomllib.TOMLDecodeError


def parse_toml(text: str) -> dict[str, Any]:
    """TOML text as a dict (stdlib tomllib, tomli before Python 3.11)."""
    return tomllib.loads(text)


@dataclass
class DataConfig:
    name: str
    root: str | None = None  # None: $GENBENCH_DATA, else ./data
    options: dict[str, Any] = field(default_factory=dict)
    max_train: int | None = None  # first N training images (None: all)
    max_test: int | None = None  # first N held-out images used by the metrics
    download: bool = True
    # Bernoulli-likelihood models train on binarised pixels: "dynamic" (a fresh draw per
    # batch) or "static" (one fixed draw); "none": on grey levels. Their NLL is always
    # measured on binarised held-out images (datasets/binarize.py, metrics/likelihood.py).
    binarize: str = "none"

    def __post_init__(self) -> None:
        check_instance(self)
        try:
            spec = datasets.get_spec(self.name)
        except KeyError as error:
            raise ConfigError(error.args[0]) from None
        check_options(spec, self.options)
        if self.binarize not in datasets.BINARIZE:
            raise ConfigError(f"binarize must be one of: {', '.join(datasets.BINARIZE)}; got "
                              f"{self.binarize!r}")
        for k in ("max_train", "max_test"):
            v = getattr(self, k)
            if v is not None and v < 1:
                raise ConfigError(f"{k} must be at least 1, got {v}")


@dataclass
class EvalConfig:
    fid_samples: int = 10_000  # generated images for FID/KID/PR (reported beside the value)
    extractor: str = "classifier"  # "classifier" or "inception"
    fid_weights: str | None = None  # local Inception weights (else $GENBENCH_FID_WEIGHTS)
    nll_k: int = 100  # importance samples of the tight likelihood bound (k=1 is also reported)
    nll_images: int = 1000  # held-out images for the likelihood bound
    batch_size: int = 500
    classifier_epochs: int = 6  # the FID classifier's (capped by its step budget); suites share it
    visuals: bool = True  # tensors for the report's figures (grids, latents, strips)
    # Quality curve: KID/FID of curve_samples samples at log-spaced points of training.
    curve: bool = True
    curve_samples: int = 1000
    curve_start: float = 3.75  # first point, in training seconds (seconds budgets): points
    # then fall at the report's common budgets (15, 30, 60 ... s)
    curve_start_steps: int = 100  # first point, in steps (step and epoch budgets)
    # First point of FLOP budgets, in training FLOPs: one grid (1.25e11 x 2^k) for every model
    # and run, so that every model has a point at every common budget of the report (which
    # reads its columns off the same grid).
    curve_start_flops: float = 1.25e11
    curve_growth: float = 2.0  # each point this many times later than the one before
    # Sampling cost as an axis (models that sample by denoising): FID of nfe_samples samples
    # at each number of network evaluations, per solver (benchmarks/nfe.py); () for none.
    nfe: tuple[int, ...] = ()
    nfe_samples: int = 1000
    # The judge's bootstrap: a 95% interval's ends from the 3rd and 97th of 100 resamples.
    bootstrap_rounds: int = 100
    # Training images the copy test finds each sample's nearest neighbour among (features
    # extracted once per dataset and space, cached): a model that copies any training image
    # is still caught, at a sixth of the rate on MNIST's 60,000, far above the test's threshold.
    copy_train: int = 10_000
    # The label-free encoder's step budget (2.3 TFLOP on 28x28 grey images, 40% of the
    # classifier's), within the classifier's epochs over the training split, so tiny suites
    # train it for a few steps.
    selfsupervised_steps: int = 200

    def __post_init__(self) -> None:
        from genbench.metrics.features import EXTRACTORS  # heavy import; only when validating

        check_instance(self)
        if self.extractor not in EXTRACTORS:
            raise ConfigError(f"unknown feature extractor {self.extractor!r}; choose one of: "
                              f"{', '.join(EXTRACTORS)}")
        for k in ("fid_samples", "nll_k", "nll_images", "batch_size", "classifier_epochs",
                  "curve_start_steps", "copy_train", "selfsupervised_steps", "nfe_samples"):
            if getattr(self, k) < 1:
                raise ConfigError(f"{k} must be at least 1, got {getattr(self, k)}")
        if self.bootstrap_rounds < 2:
            raise ConfigError(f"bootstrap_rounds must be at least 2, got {self.bootstrap_rounds}")
        self.nfe = tuple(self.nfe)  # a TOML or config.json list: compares equal to the tuple
        if any(k < 1 for k in self.nfe):
            raise ConfigError(f"nfe lists numbers of network evaluations, each at least 1; "
                              f"got {list(self.nfe)}")
        if self.curve_samples < 4:
            raise ConfigError(f"curve_samples must be at least 4, got {self.curve_samples}")
        if not self.curve_start > 0 or not self.curve_start_flops > 0 \
                or not self.curve_growth > 1:
            raise ConfigError("curve_start and curve_start_flops must be greater than 0 and "
                              f"curve_growth greater than 1, got {self.curve_start}, "
                              f"{self.curve_start_flops} and {self.curve_growth}")


@dataclass
class Resources:
    """What one job asks of a cluster. Like the device, not part of a run's identity
    (settings/identity.py): changing it keeps the results already stored."""

    num_cpus: int | None = None  # CPUs, and torch threads, per job (None: the executor's default)
    num_gpus: float | None = None  # None: 1 if the device is cuda/auto and the cluster has GPUs

    def __post_init__(self) -> None:
        check_instance(self)
        if self.num_cpus is not None and (type(self.num_cpus) is not int or self.num_cpus < 1):
            raise ValueError(f"num_cpus must be a whole number of at least 1 (it is also the "
                             f"job's thread count), got {self.num_cpus!r}")
        if self.num_gpus is not None and (type(self.num_gpus) not in (int, float)
                                          or not self.num_gpus >= 0):
            raise ValueError(f"num_gpus must be a number of at least 0 (0.5: two jobs share a "
                             f"GPU), got {self.num_gpus!r}")


@dataclass
class RunConfig:
    """One job: a model (with its settings) trained and measured on one dataset, one seed."""

    name: str  # the entry's name in the suite (a registered model or a named variant)
    model: str  # the registered model
    data: DataConfig
    seed: int = 0
    model_config: dict[str, Any] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1))
    eval: EvalConfig = field(default_factory=EvalConfig)
    resources: Resources = field(default_factory=Resources)
    stop: StopRule | None = None  # ends a run early once its quality curve is flat

    def __post_init__(self) -> None:
        check_instance(self)
        try:
            models.make_config(self.model, **self.model_config)
        except KeyError as error:
            raise ConfigError(error.args[0]) from None
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{self.name}: {error}") from None

    @property
    def run_id(self) -> str:
        return f"{self.name}-{self.data.name}-s{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def changed(self, changes: dict[str, dict[str, Any]]) -> RunConfig:
        """A copy with `changes` applied, validated like any configuration: the one way
        settings are overridden, e.g. {"data": {"root": "..."}, "train": {"device": "cpu"}}
        (a None value clears a setting, as a budget flag clears the other budget kinds)."""
        d = self.to_dict()
        for section, values in changes.items():
            d[section] = {**d[section], **values}
        return RunConfig.from_dict(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        # config.json written before the progress bar's flag had its own name
        train = {("show_progress" if k == "progress" else k): v for k, v in d["train"].items()}
        return cls(name=d["name"], model=d["model"], data=DataConfig(**d["data"]),
                   seed=d["seed"], model_config=d["model_config"],
                   train=build(TrainConfig, train, "train"),
                   eval=build(EvalConfig, d["eval"], "eval"),
                   resources=build(Resources, d.get("resources", {}), "resources"),
                   stop=build(StopRule, d["stop"], "stop") if d.get("stop") else None)


def build(cls: type, values: dict[str, Any], where: str) -> Any:
    """A dataclass from user values, naming unknown keys and bad values."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"[{where}] has no setting {sorted(unknown)}; settings: "
                          f"{', '.join(sorted(names))}")
    try:
        check_fields(cls, values)
    except ConfigError as error:
        raise ConfigError(f"[{where}] {error}") from None
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as error:
        raise ConfigError(f"[{where}] {error}") from None


def check_options(spec: datasets.DatasetSpec, options: dict[str, Any]) -> None:
    """A dataset's options by name, and by the type its `locate` function declares for each
    (their ranges are the dataset's to check, when it is located)."""
    unknown = set(options) - set(spec.options)
    if unknown:
        raise ConfigError(f"dataset {spec.name!r} has no option {sorted(unknown)}; options: "
                          f"{', '.join(spec.options) or 'none'}")
    hints = parameter_types(spec.locate, list(options))
    for name, value in options.items():
        if name in hints:
            try:
                check_value(name, value, hints[name])
            except ConfigError as error:
                raise ConfigError(f"dataset {spec.name!r}: option {error}") from None
