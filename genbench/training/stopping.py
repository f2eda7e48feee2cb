"""When a run is done: its quality curve has flattened, or it reached the suite's cap.

A pure rule over a run's quality curve, the (x, value) points that curves.py measures at
log-spaced budgets (each x twice the one before: a point is "a doubling" of the one before).

    rule = StopRule(metric="kid", min_gain=0.1, patience=2, cap=600, unit="seconds")
    rule.check_against(first_point=3.75)      # before any training: refuses a useless cap
    rule.verdict([(30, 0.021), (60, 0.012), (120, 0.0115), (240, 0.0114)])
    -> "flat since 60 s"                      # two doublings in a row gained < 10%

The cap is the Trainer's budget: a run that reaches it ends there, and its reason is CAP.
The rule decides only from half the cap on: a curve can pause early and fall again (a GAN's
FID went 68.7, 16.3, 17.3, 16.2 over its first four doublings, then on to 5.9), and a pause
that happens to span `patience` doublings early on must not end a run that has most of its
budget ahead of it.

What "improved by less than a fraction" means. The metric (KID or FID, lower is better)
improves over one doubling by `previous - current`. The doubling is flat when

    previous - current < max(min_gain * |previous|, tolerance)

The relative part is the rule itself; the absolute `tolerance`, in the metric's units, is
what makes it robust at the noise floor: KID is unbiased, so a good model's KID scatters
around 0 by about its standard error and can be negative, and there `previous` is tiny and
noise alone would look like a large relative gain. A change smaller than `tolerance` is
never progress. A curve that gets worse is flat too (its gain is negative). For a step
between points that is not a doubling (ratio r = x_i / x_{i-1}, e.g. the end of a budget),
the fraction compounds: a doubling's min_gain becomes 1 - (1 - min_gain) ** log2(r).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from genbench.errors import ConfigError

CAP = "cap"  # the reason of a run that trained to the cap (the Trainer's budget end)
METRICS = ("kid", "fid")
UNITS = ("seconds", "steps", "flops")
# Absolute changes below these count as noise. KID: its standard error in classifier space
# is ~5e-3 (the VQ-VAE on MNIST at FID 8.4, n=2000: KID 0.092 ± 0.0053). FID's 0.5 is a
# starting value: calibrate it from the spread between seeds at curve_samples.
DEFAULT_TOLERANCE = {"kid": 5e-3, "fid": 0.5}


@dataclass(frozen=True)
class StopRule:
    """Stop a run once `patience` consecutive doublings each improved `metric` by less than
    `min_gain` (a fraction of the value before them); no run trains past `cap` (in `unit`).

    tolerance: absolute changes of the metric below it are noise (None: DEFAULT_TOLERANCE).
    Impossible values raise ValueError (config.build(StopRule, table, "stop") names the
    section: a ConfigError); check_against raises ConfigError.
    """

    metric: str = "kid"
    min_gain: float = 0.1
    patience: int = 2
    cap: float | None = None
    unit: str = "seconds"
    tolerance: float | None = None

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"stop rule: metric must be one of {', '.join(METRICS)}, got "
                              f"{self.metric!r}")
        if not isinstance(self.min_gain, int | float) or not 0 <= self.min_gain < 1:
            raise ValueError(f"stop rule: min_gain is the fraction a doubling of training "
                              f"must improve {self.metric.upper()} by, from 0 up to (not "
                              f"including) 1 (0.1 = 10%); got {self.min_gain!r}")
        if type(self.patience) is not int or self.patience < 1:
            raise ValueError(f"stop rule: patience is how many consecutive flat doublings "
                              f"stop a run, a whole number of at least 1; got {self.patience!r}")
        if self.unit not in UNITS:
            raise ValueError(f"stop rule: unit must be one of {', '.join(UNITS)}, got "
                              f"{self.unit!r}")
        if self.cap is not None and not (isinstance(self.cap, int | float) and self.cap > 0
                                         and math.isfinite(self.cap)):
            raise ValueError(f"stop rule: cap must be a number of {self.unit} greater than 0, "
                              f"got {self.cap!r}")
        if self.tolerance is not None and not (isinstance(self.tolerance, int | float)
                                               and self.tolerance >= 0):
            raise ValueError(f"stop rule: tolerance is an absolute change of "
                              f"{self.metric.upper()}, 0 or more; got {self.tolerance!r}")

    @property
    def noise(self) -> float:
        return DEFAULT_TOLERANCE[self.metric] if self.tolerance is None else self.tolerance

    def check_against(self, first_point: float, growth: float = 2.0) -> None:
        """Refuse a cap under which the rule can never act: below the first curve point no run
        is measured at all, and the rule needs `patience` doublings after it to stop one."""
        if self.cap is None:
            return
        x = format_x(first_point, self.unit)
        if self.cap < first_point:
            raise ConfigError(f"stop rule: the cap ({format_x(self.cap, self.unit)}) is below "
                              f"the first curve point ({x}): every run would end before it is "
                              "measured; raise the cap or start the curve earlier")
        needed = first_point * growth ** self.patience
        if self.cap < needed:
            raise ConfigError(f"stop rule: with patience {self.patience} the rule needs curve "
                              f"points up to {format_x(needed, self.unit)} (the first at {x}, "
                              f"then {self.patience} doublings) before it can stop a run, but "
                              f"the cap ({format_x(self.cap, self.unit)}) ends every run "
                              "before; raise the cap or lower patience")

    def flat(self, previous: tuple[float, float], current: tuple[float, float]) -> bool:
        """Whether the step from `previous` to `current` (x, value) gained less than the rule
        asks of it (see the module's docstring)."""
        (x0, v0), (x1, v1) = previous, current
        doublings = math.log2(x1 / x0)
        wanted = 1 - (1 - self.min_gain) ** doublings
        return v0 - v1 < max(wanted * abs(v0), self.noise)

    def stop_index(self, points: Sequence[tuple[float, float]]) -> int | None:
        """The index of the first point at which the rule stops the run (at or past half the
        cap, after `patience` flat doublings in a row), or None."""
        _check_points(points)
        decides_from = self.cap / 2 if self.cap is not None else 0.0
        streak = 0
        for i in range(1, len(points)):
            streak = streak + 1 if self.flat(points[i - 1], points[i]) else 0
            if streak >= self.patience and points[i][0] >= decides_from * (1 - 1e-9):
                return i
        return None

    def verdict(self, points: Sequence[tuple[float, float]]) -> str | None:
        """Why the run can stop ("flat since 120 s": the point after which every doubling
        gained less than asked), or None while it is still improving."""
        stop = self.stop_index(points)
        if stop is None:
            return None
        return f"flat since {format_x(points[stop - self.patience][0], self.unit)}"

    def at_cap(self, points: Sequence[tuple[float, float]]) -> str:
        """The reason of a run that trained to the cap: CAP, and how fast it still improved
        where its last doubling of training gained more than the rule asks (the family had
        not arrived: its numbers are a budget's, not its own best).

        The last doubling, not the last step: a cap between curve points makes the last
        step short, and a short step's gain can hide under the noise tolerance while the
        doubling before the cap gained 30%. Its start is read off the curve at half the
        cap (log-linear between the points around it)."""
        if len(points) < 2:
            return CAP
        _check_points(points)
        x1, v1 = points[-1]
        x0 = max(x1 / 2, points[0][0])
        v0 = _value_at(points, x0)
        if v0 <= 0 or self.flat((x0, v0), (x1, v1)):
            return CAP
        per_doubling = 1 - (v1 / v0) ** (1 / math.log2(x1 / x0))
        return f"{CAP}, still improving ({self.metric.upper()} −{per_doubling:.0%} per doubling)"

    def describe(self) -> str:
        """The rule in one sentence, for the report and the suite's description."""
        times = {1: "", 2: " twice in a row"}.get(self.patience,
                                                   f" {self.patience} times in a row")
        text = (f"stop when a doubling of training improves {self.metric.upper()} by < "
                f"{self.min_gain:.0%} (or by < {self.noise:g}){times}")
        return text + (f"; cap {format_x(self.cap, self.unit)}" if self.cap is not None else "")


def _check_points(points: Sequence[tuple[float, float]]) -> None:
    xs = [x for x, _ in points]
    if any(x <= 0 for x in xs) or any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
        raise ValueError(f"curve points must have positive, increasing x; got {xs}")


def _value_at(points: Sequence[tuple[float, float]], x: float) -> float:
    """The curve's value at x, interpolated linearly in log x between the points around it."""
    for (xa, va), (xb, vb) in zip(points, points[1:], strict=False):
        if xa <= x <= xb:
            return va + (vb - va) * math.log(x / xa) / math.log(xb / xa)
    return points[0][1]


def format_x(x: float, unit: str) -> str:
    """A budget as the report writes it: '120 s', '1,600 steps', '3.2 PFLOP'."""
    if unit == "seconds":
        return f"{x:.3g} s"
    if unit == "steps":
        return f"{round(x):,} steps"
    exponent = min(max(int(math.floor(math.log10(x) / 3)), 0), 6) if x > 0 else 0
    prefix = ("", "k", "M", "G", "T", "P", "E")[exponent]
    return f"{x / 1000 ** exponent:.3g} {prefix}FLOP"
