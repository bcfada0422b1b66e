"""Progress on stderr: one line per stage every few seconds, so logs stay short but show life."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

ProgressFn = Callable[[int, int], None]
Log = Callable[[str], None]


def stderr_log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def quiet(_line: str) -> None:
    """A `log` that says nothing (tests)."""


class StageProgress:
    """`progress(done, total)` for one named stage, throttled to one line per `every` seconds."""

    def __init__(self, stage: str, log: Log = stderr_log, every: float = 5.0) -> None:
        self._stage, self._log, self._every = stage, log, every
        self._started = time.perf_counter()
        self._last = -float("inf")

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done < total and now - self._last < self._every:
            return
        self._last = now
        elapsed = now - self._started
        rate = f", {done / elapsed:.0f}/s" if elapsed > 0 and done else ""
        self._log(f"{self._stage}: {done}/{total} ({elapsed:.0f} s{rate})")
