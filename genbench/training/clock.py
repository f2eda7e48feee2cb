"""The budget clock: training seconds only."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator


class BudgetClock:
    """Training seconds: running during steps, stopped while saving or evaluating."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds, self._since = seconds, time.perf_counter()

    def read(self) -> float:
        return self.seconds + (time.perf_counter() - self._since if self._since else 0.0)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        self.seconds, self._since = self.read(), None
        try:
            yield
        finally:
            self._since = time.perf_counter()
