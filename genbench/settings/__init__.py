"""The one home of settings: a run's configuration (run), a suite of runs (suite), and the
overrides a command or an API call applies to every run (overrides). The command line and
the Python API both call these; nothing else merges settings."""

from genbench.settings.identity import run_identity
from genbench.settings.overrides import RUN_OVERRIDES, SCORE_OVERRIDES, overrides
from genbench.settings.run import (
    DataConfig,
    EvalConfig,
    Resources,
    RunConfig,
    TOMLDecodeError,
    build,
    check_options,
    parse_toml,
)
from genbench.settings.suite import Suite, available_suites, load_suite, suites_dir

__all__ = ["RUN_OVERRIDES", "SCORE_OVERRIDES", "DataConfig", "EvalConfig", "Resources",
           "RunConfig", "Suite", "TOMLDecodeError", "available_suites", "build",
           "check_options", "load_suite", "overrides", "parse_toml", "run_identity", "suites_dir"]
