"""How the user's choices (ratings, corrections, labels) are written, and their undo steps replayed.

Each write is a serial job in a slot of its own, so writes run one at a time, in order, and none
replaces the one before it. A replay (Undo, Redo) is guarded: while one is being written, another
is ignored, so Ctrl+Z held down waits for it instead of replaying the same step twice (the history
learns that a step was undone only when its write is done).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.library import Library
from .jobs import Job

if TYPE_CHECKING:
    from .session import Session

T = TypeVar("T")
Call = Callable[[Library, Any, Any], T]


class SerialWrites:
    def __init__(self, session: Session, kind: str) -> None:
        self.s = session
        self._kind = kind  # names the jobs' slots: "rate:1", "rate:2"…
        self._writes = 0
        self._replaying = False

    def write(self, call: Call[T], done: Callable[[T], None], text: str) -> None:
        """Run `call` after every write before it; a failure is reported under `text`."""
        self._run(call, done, lambda message: self.s.failed.emit((text, message)))

    def replay(self, call: Call[T], done: Callable[[T], None], text: str) -> None:
        """Like `write`, unless a replay is still being written: then nothing happens."""
        if self._replaying:
            return
        self._replaying = True

        def finished(result: T) -> None:
            self._replaying = False
            done(result)

        def failed(message: str) -> None:
            self._replaying = False
            self.s.failed.emit((text, message))

        self._run(call, finished, failed)

    def _run(self, call: Call[T], done: Callable[[T], None], failed: Callable[[str], None]) -> None:
        self._writes += 1
        self.s.run(Job(f"{self._kind}:{self._writes}", call, done, failed=failed, serial=True))
