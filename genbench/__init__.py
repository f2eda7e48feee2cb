"""genbench: a comparative benchmark suite for image generative models.

The Python API (genbench.api), importable from here: run_suite, results, score, compare,
images, load_run, figures. They are loaded on first use, so that `import genbench` stays light.
"""

__version__ = "0.1.0"
__all__ = ["compare", "figures", "images", "load_run", "results", "run_suite", "score"]


def __getattr__(name: str):
    if name in __all__:
        from genbench import api

        return getattr(api, name)
    raise AttributeError(f"module 'genbench' has no attribute {name!r}")
