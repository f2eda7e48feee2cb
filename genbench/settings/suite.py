"""A suite of runs: models x datasets x seeds, loaded from TOML and validated.

Everything a user can type is validated here, before any work starts, with a
message naming the bad value and the allowed ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from genbench import models, plugins
from genbench.settings.run import (
    ConfigError,
    DataConfig,
    EvalConfig,
    Resources,
    RunConfig,
    TOMLDecodeError,
    build,
    parse_toml,
)
from genbench.training import BUDGETS, TrainConfig
from genbench.training.stopping import StopRule

SUITE_KEYS = {"name", "description", "plugins", "models", "datasets", "seeds", "data", "train",
              "eval", "resources", "stop", "model", "dataset"}
MODEL_KEYS = ("model", "config", "train", "eval", "data", "resources", "stop")


@dataclass
class Suite:
    """models x datasets x seeds, with a shared budget and per-model overrides.

    TOML layout:
        plugins = ["my_module", "my_model.py"]  models and datasets from outside genbench
                                         (modules, or .py files relative to the suite file)
        models = ["vae", "gan"]; datasets = ["mnist"]; seeds = [0]
        [data] / [train] / [eval]        shared settings
        resources = {num_cpus, num_gpus} what each job asks of a cluster (Ray)
        [stop]                           the stop rule (training/stopping.py): a run ends
                                         when its quality curve is flat; cap = its budget
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
    stop: dict[str, Any] = field(default_factory=dict)
    model: dict[str, dict[str, Any]] = field(default_factory=dict)
    dataset: dict[str, dict[str, Any]] = field(default_factory=dict)
    plugins: list[str] = field(default_factory=list)  # as loaded: modules, absolute paths
    _runs: list[RunConfig] | None = field(default=None, repr=False, compare=False)

    def runs(self) -> list[RunConfig]:
        """Every job, validated, in a fixed order (dataset, model, seed); built once."""
        if self._runs is None:
            self._runs = [self._run(entry, dataset, seed) for dataset in self.datasets
                          for entry in self.models for seed in self.seeds]
        return self._runs

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
        data = build(DataConfig, {"name": dataset, **self.data, **over.get("data", {}),
                                   "options": options}, "data")
        stop = self._stop_rule(over, where)
        train = build(TrainConfig, {**self._budget({**self.train, **over.get("train", {})},
                                                   stop, f"{where}.stop" if over.get("stop")
                                                   else "stop"), "seed": seed},
                      f"{where}.train" if over.get("train") else "train")
        evaluation = build(EvalConfig, {**self.eval, **over.get("eval", {})},
                            f"{where}.eval" if over.get("eval") else "eval")
        resources = build(Resources, {**self.resources, **over.get("resources", {})},
                           f"{where}.resources" if over.get("resources") else "resources")
        if stop and stop.unit != "flops":
            stop.check_against(evaluation.curve_start if stop.unit == "seconds"
                               else evaluation.curve_start_steps, evaluation.curve_growth)
        return RunConfig(name=entry, model=base, data=data, seed=seed,
                         model_config=dict(over.get("config", {})), train=train,
                         eval=evaluation, resources=resources, stop=stop)

    @staticmethod
    def _budget(train: dict[str, Any], stop: StopRule | None, where: str) -> dict[str, Any]:
        """The training settings with their budget: the stop rule's cap, where it has one, is
        the budget no run passes, so a [train] budget beside it must be the same one."""
        if not (stop and stop.cap):
            return train
        given = {k: train[k] for k in BUDGETS if train.get(k) is not None}
        if given and given != {stop.unit: stop.cap}:
            said = ", ".join(f"{k} = {v:g}" for k, v in given.items())
            raise ConfigError(f"[{where}] the stop rule's cap ({stop.cap:g} {stop.unit}) and the "
                              f"training budget ({said}) differ; the cap is the budget no run "
                              "passes: give it once, as the cap or as the budget")
        return {**train, **{k: None for k in BUDGETS}, stop.unit: stop.cap}

    def _stop_rule(self, over: dict[str, Any], where: str) -> StopRule | None:
        """The suite's [stop] rule, with the entry's own changes; its cap, when it has one,
        is every run's training budget."""
        values = {**self.stop, **over.get("stop", {})}
        return build(StopRule, values, f"{where}.stop" if over.get("stop") else "stop") \
            if values else None

    def select(self, models_: list[str] | None = None, datasets_: list[str] | None = None,
               seeds: int | list[int] | None = None) -> Suite:
        """The suite restricted or extended by command-line choices (itself without any)."""
        if not models_ and not datasets_ and seeds is None:
            return self
        out = dataclasses.replace(self, _runs=None)
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
    return Path(str(files("genbench.settings") / "suites"))


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
        raw = parse_toml(path.read_text())
    except (TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"suite file {path} is not valid TOML: {error}") from None
    unknown = set(raw) - SUITE_KEYS
    if unknown:
        raise ConfigError(f"suite file {path} has unknown keys {sorted(unknown)}; keys: "
                          f"{', '.join(sorted(SUITE_KEYS))}")
    for k in ("models", "datasets", "seeds"):
        if not isinstance(raw.get(k), list):
            raise ConfigError(f"suite file {path} needs a list '{k} = [...]'")
    _check_tables(raw, path)
    # Before validation: the suite's models and datasets may be the plug-ins' own.
    loaded = load_plugins(raw.get("plugins", []), path)
    suite = Suite(name=raw.get("name", path.stem), description=raw.get("description", ""),
                  models=raw["models"], datasets=raw["datasets"], seeds=raw["seeds"],
                  data=raw.get("data", {}), train=raw.get("train", {}),
                  eval=raw.get("eval", {}), resources=raw.get("resources", {}),
                  stop=raw.get("stop", {}),
                  model=raw.get("model", {}),
                  dataset=raw.get("dataset", {}), plugins=loaded)
    suite.validate()
    return suite


def load_plugins(specs: Any, path: Path) -> list[str]:
    """A suite file's `plugins = [...]`: module names, or .py files relative to the file."""
    if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
        raise ConfigError(f"suite file {path}: plugins must be a list of module names or paths "
                          f'to .py files, e.g. plugins = ["my_module", "my_model.py"]; got '
                          f"{specs!r}")
    return plugins.load(specs, f"suite file {path}", base=path.parent)


def _check_tables(raw: dict[str, Any], path: Path) -> None:
    """Each table of a suite file is a table: `train = 5` where `[train]` belongs is refused
    with its name, not met later as a TypeError."""
    tables = [(k, raw.get(k, {})) for k in ("data", "train", "eval", "resources", "stop",
                                            "model", "dataset")]
    tables.append(("data.options", raw.get("data", {}).get("options", {})
                   if isinstance(raw.get("data", {}), dict) else {}))
    for group in ("model", "dataset"):
        entries = raw.get(group, {})
        for name, table in entries.items() if isinstance(entries, dict) else ():
            tables.append((f"{group}.{name}", table))
            if group == "model" and isinstance(table, dict):
                tables += [(f"model.{name}.{k}", table.get(k, {})) for k in MODEL_KEYS[1:]]
    for where, value in tables:
        if not isinstance(value, dict):
            raise ConfigError(f"suite file {path}: [{where}] must be a table of settings "
                              f"({where.rsplit('.', 1)[-1]} = {{ key = value }}), got {value!r}")
