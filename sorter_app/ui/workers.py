"""Run core functions off the UI thread.

A worker is a thin adapter: a QRunnable that calls a plain core function with `progress` and
`cancelled` callables, and a QObject whose signals carry the outcome back to the main thread.
Workers never touch widgets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Signal


class WorkerSignals(QObject):
    progress = Signal(int, int)
    result = Signal(object)
    error = Signal(str)
    finished = Signal()


class Worker(QRunnable):
    """Calls `fn(progress=..., cancelled=...)` in the thread pool."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.fn = fn
        self.signals = WorkerSignals()
        self._cancel = threading.Event()
        self.setAutoDelete(False)

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        try:
            result = self.fn(progress=self.signals.progress.emit, cancelled=self._cancel.is_set)
        except Exception as exc:
            self.signals.error.emit(str(exc) or type(exc).__name__)
        else:
            self.signals.result.emit(result)
        finally:
            self.signals.finished.emit()
