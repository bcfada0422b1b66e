"""The window's `JobRunner`: session jobs in a thread pool, their outcome back on the UI thread.

A job started in a slot replaces the previous job of that slot: the old one is asked to stop and
whatever it still delivers is dropped, so a result can never land in a view that moved on. Jobs
marked `serial` (writes of the user's choices) run one at a time in order, on a pool of their own.
`busy` tells the progress strip which labelled job runs and whether it can be cancelled.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QThreadPool, Signal

from ..core.indexer import CancelledFn, ProgressFn
from ..session.jobs import Job, call_in_library
from .workers import Worker

_START_AFTER_PENDING = QEvent.Type(QEvent.registerEventType())


@dataclass
class _Running:
    worker: Worker
    job: Job[Any]
    generation: int


class QtJobRunner(QObject):
    busy = Signal(str, bool)  # label of the visible job now running ("" = none), cancellable
    progressed = Signal(str, int, int)  # label, done, total
    noticed = Signal(str)  # what opening the data folder repaired, a line each (any thread)

    def __init__(self, library_paths: Callable[[], tuple[Path, Path]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._library_paths = library_paths
        self._pool = QThreadPool.globalInstance()
        self._serial = QThreadPool(self)
        self._serial.setMaxThreadCount(1)
        self._running: dict[str, _Running] = {}
        self._generations: dict[str, int] = {}
        self._visible: list[str] = []  # slots of labelled jobs, most recent last
        self._closed = False
        self._starts: deque[Callable[[], None]] = deque()  # jobs waiting for pending events, in order

    def run(self, job: Job[Any]) -> None:
        slot = job.slot
        self.cancel(slot)
        generation = self._generations.get(slot, 0) + 1
        self._generations[slot] = generation
        data_dir, sidecar = self._library_paths()

        def work(progress: ProgressFn, cancelled: CancelledFn) -> Any:
            # A Library per job: SQLite connections stay in their thread.
            return call_in_library(job, data_dir, sidecar, progress, cancelled, self.noticed.emit)

        worker = Worker(work)

        def current() -> bool:
            return not self._closed and self._generations.get(slot) == generation

        def result(value: object) -> None:
            if current():
                job.done(value)

        def error(message: str) -> None:
            if current() and job.failed is not None:
                job.failed(message)

        def stopped() -> None:
            if current() and job.stopped is not None:
                job.stopped()

        def progress(done: int, total: int) -> None:
            if current() and job.label:
                self.progressed.emit(job.label, done, total)

        def finished() -> None:
            if self._closed:
                return
            running = self._running.get(slot)
            if running is not None and running.worker is worker:
                del self._running[slot]
                self._update_busy(slot, remove=True)

        worker.signals.result.connect(result)
        worker.signals.error.connect(error)
        worker.signals.cancelled.connect(stopped)
        worker.signals.progress.connect(progress)
        worker.signals.finished.connect(finished)
        self._running[slot] = _Running(worker, job, generation)
        if job.label:
            self._update_busy(slot)
        pool = self._serial if job.serial else self._pool
        if not job.after_pending:
            pool.start(worker)
            return

        def start() -> None:
            if not current():  # cancelled or replaced before it started: nothing is delivered
                worker.signals.finished.emit()
            elif worker.cancel_asked:  # the Cancel button before it started: it reports stopped
                worker.signals.cancelled.emit()
                worker.signals.finished.emit()
            else:
                pool.start(worker)

        # Below the priority Qt posts repaints at (a zero timer came before them): the job starts
        # once the window has drawn what the change that asked for it touched.
        self._starts.append(start)
        below_repaints = Qt.EventPriority.LowEventPriority.value - 1
        QCoreApplication.postEvent(self, QEvent(_START_AFTER_PENDING), below_repaints)

    def event(self, event: QEvent) -> bool:  # Qt override
        if event.type() == _START_AFTER_PENDING:
            self._starts.popleft()()
            return True
        return super().event(event)

    def cancel(self, slot: str) -> None:
        """Ask the slot's job to stop; its late results are dropped either way."""
        running = self._running.pop(slot, None)
        if running is not None:
            running.worker.cancel()
            self._generations[slot] = running.generation + 1
            self._update_busy(slot, remove=True)

    def cancel_visible(self) -> None:
        """The Cancel button: stop the job the progress strip shows, keeping what it finished.

        Unlike `cancel`, the job still reports: an index report saying what was kept, or
        `stopped` for an analysis, so its view can say it was cancelled.
        """
        if self._visible:
            running = self._running[self._visible[-1]]
            if running.job.cancellable:
                running.worker.cancel()

    def is_running(self, slot: str) -> bool:
        return slot in self._running

    def shutdown(self, msecs: int = 5000) -> bool:
        """The window is closing: stop every job, wait for them, and deliver nothing more."""
        self._closed = True
        for running in self._running.values():
            running.worker.cancel()
        return self._pool.waitForDone(msecs) and self._serial.waitForDone(msecs)

    def _update_busy(self, slot: str, *, remove: bool = False) -> None:
        if slot in self._visible:
            self._visible.remove(slot)
        if not remove:
            self._visible.append(slot)
        if self._visible:
            job = self._running[self._visible[-1]].job
            self.busy.emit(job.label, job.cancellable)
        else:
            self.busy.emit("", False)
