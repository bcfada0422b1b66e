"""Run core functions off the UI thread.

A worker is a thin adapter: a QRunnable that calls a plain core function with `progress` and
`cancelled` callables, and a QObject whose signals carry the outcome back to the main thread.
Workers never touch widgets.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Signal

from ..core.errors import CancelledError, SorterError
from ..session.jobs import readable


class WorkerSignals(QObject):
    progress = Signal(int, int)
    result = Signal(object)
    error = Signal(str)
    cancelled = Signal()
    finished = Signal()


# How much lower than the window the worker threads run (Linux nice levels; threads they start,
# such as the indexer's decoders and the model's, inherit it). With 2 cores and indexing using both,
# an equal-priority UI thread waited up to 40 ms for a CPU (benchmarks/bench_ui.py).
BACKGROUND_NICE = 10


def run_in_background() -> None:
    """Lower this thread's CPU priority, where the OS lets one thread do that (Linux)."""
    if hasattr(os, "setpriority") and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), max(current, BACKGROUND_NICE))


class Worker(QRunnable):
    """Calls `fn(progress=..., cancelled=...)` in the thread pool, below the window's priority."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.fn = fn
        self.signals = WorkerSignals()
        self._cancel = threading.Event()
        self.setAutoDelete(False)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_asked(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:
        run_in_background()
        try:
            result = self.fn(progress=self.signals.progress.emit, cancelled=self._cancel.is_set)
        except CancelledError:
            self.signals.cancelled.emit()
        except Exception as exc:
            if not isinstance(exc, SorterError):  # a bug: keep the traceback for the report
                traceback.print_exc(file=sys.stderr)
            self.signals.error.emit(readable(exc))
        else:
            self.signals.result.emit(result)
        finally:
            self.signals.finished.emit()
