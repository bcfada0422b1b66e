"""A child process for whole-array work that would otherwise hold the GIL in the app's process.

igraph holds the GIL for its whole run, and numpy's many small operations (the map's epochs)
take it between every two of them. In a worker thread of the window either one makes the UI
thread wait for the GIL after each Qt call it makes (every paint call gives it up), so that work
runs in a child: the worker thread only waits on a pipe. Spawned, not forked: a fork of a process
with Qt's and onnxruntime's threads is not safe.

A child (and a decode worker, decode_pool.py) runs at a lower scheduling priority than the app
(`CHILD_NICENESS`). On 2 cores the map's or Leiden's child and a worker thread take both cores, and
the UI thread then waited its turn for a CPU after each event (bench_ui: 19 ms of a 52-ms gap as
clusters finished). The kernel now hands it a core at once; the child's work finishes as soon as
before when nothing else runs.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

T = TypeVar("T")

# Unix niceness added in every work child: enough that the kernel prefers the app's threads (a
# nice-10 task gets about a tenth of a core shared with a nice-0 one), not so much that a child
# starves behind other programs' ordinary work.
CHILD_NICENESS = 10
PARENT_CHECK_S = 1.0  # how often a child looks whether its parent is still there


def below_the_app() -> None:
    """Each child's first act (a pool's initializer, a decode worker's start): a lower priority,
    and an end with its parent. Windows has no `os.nice`: there the child keeps the app's priority."""
    with contextlib.suppress(AttributeError, OSError):
        os.nice(CHILD_NICENESS)
    _exit_with_parent()


def _exit_with_parent() -> None:
    """The child ends when its parent does. A pool's child waits on a pipe it also holds the other
    end of, so an app that was killed (or crashed) left it waiting for ever, 70 MB each: a monkey
    test's killed windows left one per run. The parent's death shows as a new parent (the child is
    re-parented), looked for once a second by a daemon thread. A decode worker's parent is the
    fork server, which itself ends with the app."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _one_child() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=below_the_app
    )


@contextlib.contextmanager
def work_child(warm_up: Callable[[], None] | None = None) -> Iterator[ProcessPoolExecutor]:
    """One child, started now. `warm_up` (a module-level function, so that the child imports its
    module) is sent first: the child's start-up overlaps whatever the caller reads meanwhile."""
    with _one_child() as child:
        if warm_up is not None:
            child.submit(warm_up)
        yield child


class KeptChild:
    """One child kept for work that comes again and again (a label set's retrain after each label),
    so that each time does not pay a fresh interpreter's start-up: started at the first `submit`,
    and again after it died. Work waits in line; nothing in flight is ever killed."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., T], *args: object) -> Future[T]:
        with self._lock:
            if self._pool is not None:
                try:
                    return self._pool.submit(fn, *args)
                except BrokenProcessPool:  # the child died (killed, out of memory): a new one
                    self._pool.shutdown(wait=False)
            self._pool = _one_child()
            return self._pool.submit(fn, *args)

    def shutdown(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
