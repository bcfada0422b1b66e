"""Core work off the UI thread, with one Library (one SQLite connection) per task.

Every long operation of the window — listing, indexing, clustering, planning, moving, undoing — is
a plain core call run here. A task started under a `slot` replaces the previous task of that slot:
the old one is asked to cancel and whatever it still delivers is dropped, so a result can never
land in a view that has moved on (another folder, another query).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

from ..core.indexer import CancelledFn, ProgressFn
from ..core.library import Library
from .workers import Worker

CoreCall = Callable[[Library, ProgressFn, CancelledFn], Any]


@dataclass
class _Running:
    worker: Worker
    label: str
    generation: int


class Tasks(QObject):
    """Starts core calls in the global thread pool and routes their outcome to the main thread.

    `busy` tells the window which labelled, user-visible task is running (for the progress bar and
    the Cancel button); quiet tasks such as a similar-images query never show there.
    """

    busy = Signal(str)  # label of the visible task now running; "" when none is
    progressed = Signal(str, int, int)  # label, done, total
    failed = Signal(str, str)  # label, readable message

    def __init__(self, library_paths: Callable[[], tuple[Path, Path]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._library_paths = library_paths
        self._pool = QThreadPool.globalInstance()
        self._running: dict[str, _Running] = {}
        self._generations: dict[str, int] = {}
        self._visible: list[str] = []  # slots of visible tasks, most recent last
        self._closed = False

    def run(
        self,
        slot: str,
        call: CoreCall,
        on_result: Callable[[Any], None],
        *,
        label: str = "",
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        """Run `call(library, progress, cancelled)`; `label` ("" = quiet) names it in the progress bar."""
        self.cancel(slot)
        generation = self._generations.get(slot, 0) + 1
        self._generations[slot] = generation
        data_dir, sidecar = self._library_paths()

        def work(progress: ProgressFn, cancelled: CancelledFn) -> Any:
            with Library(data_dir, sidecar) as library:  # SQLite connections stay in their thread
                return call(library, progress, cancelled)

        worker = Worker(work)

        def current() -> bool:
            return not self._closed and self._generations.get(slot) == generation

        def result(value: object) -> None:
            if current():
                on_result(value)

        def error(message: str) -> None:
            if not current():
                return
            if on_error is not None:
                on_error(message)
            else:
                self.failed.emit(label or slot, message)

        def progress(done: int, total: int) -> None:
            if current() and label:
                self.progressed.emit(label, done, total)

        def finished() -> None:
            if self._closed:
                return
            running = self._running.get(slot)
            if running is not None and running.worker is worker:
                del self._running[slot]
                self._update_busy(slot, remove=True)

        worker.signals.result.connect(result)
        worker.signals.error.connect(error)
        worker.signals.progress.connect(progress)
        worker.signals.finished.connect(finished)
        self._running[slot] = _Running(worker, label, generation)
        if label:
            self._update_busy(slot)
        self._pool.start(worker)

    def cancel(self, slot: str) -> None:
        """Ask the slot's task to stop; its late results are dropped either way."""
        running = self._running.pop(slot, None)
        if running is not None:
            running.worker.cancel()
            self._generations[slot] = running.generation + 1
            self._update_busy(slot, remove=True)

    def cancel_visible(self) -> None:
        """The Cancel button: stop the task the progress bar shows, keeping what it finished.

        Unlike `cancel`, the task's own result still arrives (e.g. an index report saying what was
        kept), because the core call returns normally when asked to stop.
        """
        if self._visible:
            self._running[self._visible[-1]].worker.cancel()

    def is_running(self, slot: str) -> bool:
        return slot in self._running

    def shutdown(self, msecs: int = 5000) -> bool:
        """The window is closing: stop every task, wait for them, and deliver nothing more."""
        self._closed = True
        for running in self._running.values():
            running.worker.cancel()
        return self._pool.waitForDone(msecs)

    def _update_busy(self, slot: str, *, remove: bool = False) -> None:
        if slot in self._visible:
            self._visible.remove(slot)
        if not remove:
            self._visible.append(slot)
        self.busy.emit(self._running[self._visible[-1]].label if self._visible else "")
