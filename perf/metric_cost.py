"""What one FID+KID+precision/recall evaluation costs (classifier features, 10,000 samples).

Held-out images stand in for the samples, training images for the reference:
the cost does not depend on what the images show.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from genbench.metrics import ClassifierSettings, FeatureSpace, fidelity_metrics, load_or_train
from perf.common import Context, Stopwatch

CLASSIFIER = ClassifierSettings()  # the suites' classifier (EvalConfig.classifier_epochs)


def measure(ctx: Context) -> dict[str, Any]:
    path, accuracy = load_or_train(ctx.cache, ctx.train, ctx.test, CLASSIFIER)
    space = FeatureSpace("classifier", path, accuracy)
    n = ctx.args.metric_samples
    generated, reference = ctx.test.images[:n], ctx.train.images[:n]
    with tempfile.TemporaryDirectory() as cache:
        with Stopwatch() as cold:  # both feature sets extracted
            fidelity_metrics(generated, reference, space, "perf", Path(cache))
        with Stopwatch() as warm:  # the reference's features read from the cache
            fidelity_metrics(generated, reference, space, "perf", Path(cache))
    return {"samples": len(generated), "seconds_cold": cold.seconds,
            "seconds_cached_reference": warm.seconds, "classifier_accuracy": accuracy}


def markdown(result: dict[str, Any]) -> list[str]:
    return [f"FID+KID+PR on {result['samples']:,} samples (classifier features): "
            f"{result['seconds_cold']:.1f} s with both feature sets extracted, "
            f"{result['seconds_cached_reference']:.1f} s with the reference cached"]
