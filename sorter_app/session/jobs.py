"""One typed way to run core work: a `Job[T]` says what to call and what to do with its result.

The session decides *what* runs (open a folder, find clusters, apply a plan); a runner decides
*where*: `SyncRunner` calls it at once (tests, scripts), the window's runner (ui/tasks.py) in a
thread pool. Either way the call gets a `Library` of its own (SQLite connections stay in one
thread), a `progress(done, total)` and a `cancelled()`, and exactly one of `done`, `failed` or
`stopped` follows on the thread that started it — never for a job replaced in its slot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from ..core.damage import is_damage, repair_files
from ..core.errors import CancelledError, SorterError
from ..core.indexer import CancelledFn, ProgressFn
from ..core.library import Library

T = TypeVar("T")
CoreCall = Callable[[Library, ProgressFn, CancelledFn], T]


@dataclass(frozen=True)
class Job(Generic[T]):
    slot: str  # one job per slot: a new one replaces (cancels and silences) the one before
    call: Callable[[Library, ProgressFn, CancelledFn], T]
    done: Callable[[T], None]
    label: str = ""  # shown in the progress strip; "" = quiet work (a query, a save)
    cancellable: bool = False  # the progress strip offers Cancel
    failed: Callable[[str], None] | None = None  # default: the session's error event
    stopped: Callable[[], None] | None = None  # the call raised CancelledError after a Cancel
    serial: bool = False  # writes of the user's choices: run one at a time, in order
    # Not urgent: starts once the UI thread has handled what is already waiting (the window draws
    # a newly loaded folder first); SyncRunner runs it at once like any other.
    after_pending: bool = False


def stop_on_cancel(progress: ProgressFn, cancelled: CancelledFn) -> ProgressFn:
    """A progress callback that also stops the work: for core calls that take `progress` but
    no `cancelled` (clusters, duplicates, outliers), Cancel takes effect at the next report."""

    def report(done: int, total: int) -> None:
        if cancelled():
            raise CancelledError("cancelled")
        progress(done, total)

    return report


def call_in_library(
    job: Job[T],
    data_dir: Path,
    sidecar: Path,
    progress: ProgressFn,
    cancelled: CancelledFn,
    notify: Callable[[str], None],
) -> T:
    """Run `job` on a Library of its own, telling `notify` what the data folder needed repaired.

    Opening a damaged catalog sets it aside and starts a fresh one; a damaged user file is replaced
    by its backup; each says so in a line the user must see (the CLI prints them, the window shows
    them). When SQLite reports damage during the call itself, both files are checked and repaired
    and the job still fails: what it was doing is not repeated behind the user's back.
    """
    try:
        with Library(data_dir, sidecar) as library:
            try:
                return job.call(library, progress, cancelled)
            finally:
                for notice in library.notices:
                    notify(notice)
    except Exception as exc:
        if is_damage(exc):
            for notice in repair_files(data_dir / "catalog.sqlite", data_dir / "user.sqlite"):
                notify(notice)
        raise


def readable(exc: BaseException) -> str:
    """The core's own errors are already sentences; anything else is a bug, so name its type."""
    if isinstance(exc, SorterError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class JobRunner(Protocol):
    def run(self, job: Job[Any]) -> None: ...

    def cancel(self, slot: str) -> None:
        """Stop the slot's job; nothing it delivers afterwards arrives."""
        ...

    def is_running(self, slot: str) -> bool: ...


class SyncRunner:
    """Runs each job at once on the calling thread, a Library opened for it: the session without
    a window, in tests and scripts. `cancel_at`: the next job with progress is cancelled once it
    reports that much done (a user pressing Cancel half-way)."""

    def __init__(
        self,
        data_dir: Path,
        sidecar: Path,
        on_error: Callable[[str, str], None],
        on_notice: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.data_dir = data_dir
        self.sidecar = sidecar
        self.on_error = on_error
        self.on_notice = on_notice
        self.cancel_at: int | None = None
        self.ran: list[str] = []  # slots, in order

    def run(self, job: Job[Any]) -> None:
        self.ran.append(job.slot)
        reached = [0]

        def progress(done: int, total: int) -> None:
            reached[0] = done

        def cancelled() -> bool:
            return self.cancel_at is not None and reached[0] >= self.cancel_at

        try:
            result = call_in_library(job, self.data_dir, self.sidecar, progress, cancelled, self.on_notice)
        except CancelledError:
            if job.stopped is not None:
                job.stopped()
            return
        except Exception as exc:
            (job.failed or (lambda message: self.on_error(job.label or job.slot, message)))(readable(exc))
            return
        job.done(result)

    def cancel(self, slot: str) -> None:
        return None

    def is_running(self, slot: str) -> bool:
        return False
