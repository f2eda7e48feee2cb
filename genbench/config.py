"""Configuration as dataclasses: one run, and a suite of runs loaded from TOML.

Everything a user can type is validated here, before any work starts, with a
message naming the bad value and the allowed ones.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from genbench import datasets, models
from genbench.training import TrainConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(ValueError):
    """A user-supplied setting is invalid; the message says which and what is allowed."""


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
        try:
            datasets.get_spec(self.name)
        except KeyError as error:
            raise ConfigError(error.args[0]) from None
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
    classifier_epochs: int = 2  # the FID classifier's (capped by its step budget); suites share it
    visuals: bool = True  # tensors for the report's figures (grids, latents, strips)
    # Quality curve: KID/FID of curve_samples samples at log-spaced points of training.
    curve: bool = True
    curve_samples: int = 1000
    curve_start: float = 3.75  # first point, in training seconds (seconds budgets): points
    # then fall at the report's common budgets (15, 30, 60 ... s)
    curve_start_steps: int = 100  # first point, in steps (step and epoch budgets)
    curve_growth: float = 2.0  # each point this many times later than the one before

    def __post_init__(self) -> None:
        from genbench.metrics.features import EXTRACTORS  # heavy import; only when validating

        if self.extractor not in EXTRACTORS:
            raise ConfigError(f"unknown feature extractor {self.extractor!r}; choose one of: "
                              f"{', '.join(EXTRACTORS)}")
        for k in ("fid_samples", "nll_k", "nll_images", "batch_size", "classifier_epochs",
                  "curve_start_steps"):
            if getattr(self, k) < 1:
                raise ConfigError(f"{k} must be at least 1, got {getattr(self, k)}")
        if self.curve_samples < 4:
            raise ConfigError(f"curve_samples must be at least 4, got {self.curve_samples}")
        if not self.curve_start > 0 or not self.curve_growth > 1:
            raise ConfigError("curve_start must be greater than 0 and curve_growth greater than "
                              f"1, got {self.curve_start} and {self.curve_growth}")


@dataclass
class Resources:
    """What one job asks of a cluster. Like the device, not part of a run's identity
    (store.identity): changing it keeps the results already stored."""

    num_cpus: int | None = None  # CPUs, and torch threads, per job (None: the executor's default)
    num_gpus: float | None = None  # None: 1 if the device is cuda/auto and the cluster has GPUs

    def __post_init__(self) -> None:
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

    def __post_init__(self) -> None:
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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        return cls(name=d["name"], model=d["model"], data=DataConfig(**d["data"]),
                   seed=d["seed"], model_config=d["model_config"],
                   train=_build(TrainConfig, d["train"], "train"),
                   eval=_build(EvalConfig, d["eval"], "eval"),
                   resources=_build(Resources, d.get("resources", {}), "resources"))


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    """A dataclass from user values, naming unknown keys and bad values."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"[{where}] has no setting {sorted(unknown)}; settings: "
                          f"{', '.join(sorted(names))}")
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as error:
        raise ConfigError(f"[{where}] {error}") from None


# -- suites --------------------------------------------------------------------------------
SUITE_KEYS = {"name", "description", "models", "datasets", "seeds", "data", "train", "eval",
              "resources", "model", "dataset"}
MODEL_KEYS = ("model", "config", "train", "eval", "data", "resources")


@dataclass
class Suite:
    """models x datasets x seeds, with a shared budget and per-model overrides.

    TOML layout:
        models = ["vae", "gan"]; datasets = ["mnist"]; seeds = [0]
        [data] / [train] / [eval]        shared settings
        resources = {num_cpus, num_gpus} what each job asks of a cluster (Ray)
        [dataset.NAME]                   options of one dataset (e.g. sprites: size = 32)
        [model.NAME]                     per-entry: model = "vae" (a variant of a
                                         registered model), config = {...},
                                         train = {...}, eval = {...},
                                         resources = {...}
    """

    name: str
    description: str
    models: list[str]
    datasets: list[str]
    seeds: list[int]
    data: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    eval: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    model: dict[str, dict[str, Any]] = field(default_factory=dict)
    dataset: dict[str, dict[str, Any]] = field(default_factory=dict)

    def runs(self) -> list[RunConfig]:
        """Every job, validated, in a fixed order (dataset, model, seed)."""
        return [self._run(entry, dataset, seed) for dataset in self.datasets
                for entry in self.models for seed in self.seeds]

    def _run(self, entry: str, dataset: str, seed: int) -> RunConfig:
        over = self.model.get(entry, {})
        where = f"model.{entry}"
        extra = set(over) - set(MODEL_KEYS)
        if extra:
            raise ConfigError(f"[{where}] has no key {sorted(extra)}; keys: "
                              f"{', '.join(MODEL_KEYS)}")
        base = over.get("model", entry)
        if base not in models.available():
            known = ", ".join(models.available() + sorted(set(self.model) - set(
                models.available())))
            raise ConfigError(f"unknown model {entry!r}; choose one of: {known}")
        options = {**self.dataset.get(dataset, {}), **self.data.get("options", {})}
        data = _build(DataConfig, {"name": dataset, **self.data, **over.get("data", {}),
                                   "options": options}, "data")
        train = _build(TrainConfig, {**self.train, **over.get("train", {}), "seed": seed},
                       f"{where}.train" if over.get("train") else "train")
        evaluation = _build(EvalConfig, {**self.eval, **over.get("eval", {})},
                            f"{where}.eval" if over.get("eval") else "eval")
        resources = _build(Resources, {**self.resources, **over.get("resources", {})},
                           f"{where}.resources" if over.get("resources") else "resources")
        return RunConfig(name=entry, model=base, data=data, seed=seed,
                         model_config=dict(over.get("config", {})), train=train,
                         eval=evaluation, resources=resources)

    def select(self, models_: list[str] | None = None, datasets_: list[str] | None = None,
               seeds: int | list[int] | None = None) -> Suite:
        """The suite restricted or extended by command-line choices."""
        out = dataclasses.replace(self)
        if models_:
            out.models = list(models_)
        if datasets_:
            out.datasets = list(datasets_)
        if seeds is not None:
            out.seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
        out.validate()
        return out

    def validate(self) -> None:
        for k in ("models", "datasets", "seeds"):
            if not getattr(self, k):
                raise ConfigError(f"suite {self.name!r} lists no {k}")
        dupes = {k for k in ("models", "datasets", "seeds")
                 if len(set(getattr(self, k))) != len(getattr(self, k))}
        if dupes:
            raise ConfigError(f"suite {self.name!r} repeats entries in {sorted(dupes)}")
        self.runs()


def suites_dir() -> Path:
    return Path(str(files("genbench.benchmarks") / "suites"))


def available_suites() -> list[str]:
    return sorted(p.stem for p in suites_dir().glob("*.toml"))


def load_suite(name_or_path: str | Path) -> Suite:
    """A shipped suite by name, or a TOML file by path; validated."""
    path = Path(name_or_path)
    if not path.suffix == ".toml":
        if str(name_or_path) not in available_suites():
            raise ConfigError(f"unknown suite {str(name_or_path)!r}; choose one of: "
                              f"{', '.join(available_suites())}, or give a path to a .toml file")
        path = suites_dir() / f"{name_or_path}.toml"
    if not path.is_file():
        raise ConfigError(f"suite file {path} does not exist")
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"suite file {path} is not valid TOML: {error}") from None
    unknown = set(raw) - SUITE_KEYS
    if unknown:
        raise ConfigError(f"suite file {path} has unknown keys {sorted(unknown)}; keys: "
                          f"{', '.join(sorted(SUITE_KEYS))}")
    for k in ("models", "datasets", "seeds"):
        if not isinstance(raw.get(k), list):
            raise ConfigError(f"suite file {path} needs a list '{k} = [...]'")
    suite = Suite(name=raw.get("name", path.stem), description=raw.get("description", ""),
                  models=raw["models"], datasets=raw["datasets"], seeds=raw["seeds"],
                  data=raw.get("data", {}), train=raw.get("train", {}),
                  eval=raw.get("eval", {}), resources=raw.get("resources", {}),
                  model=raw.get("model", {}),
                  dataset=raw.get("dataset", {}))
    suite.validate()
    return suite
