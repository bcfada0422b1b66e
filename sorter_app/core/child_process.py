"""A child process for whole-array work that would otherwise hold the GIL in the app's process.

igraph holds the GIL for its whole run, and numpy's many small operations (the map's epochs)
take it between every two of them. In a worker thread of the window either one makes the UI
thread wait for the GIL after each Qt call it makes (every paint call gives it up), so that work
runs in a child: the worker thread only waits on a pipe. Spawned, not forked: a fork of a process
with Qt's and onnxruntime's threads is not safe.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor


@contextlib.contextmanager
def work_child(warm_up: Callable[[], None] | None = None) -> Iterator[ProcessPoolExecutor]:
    """One child, started now. `warm_up` (a module-level function, so that the child imports its
    module) is sent first: the child's start-up overlaps whatever the caller reads meanwhile."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as child:
        if warm_up is not None:
            child.submit(warm_up)
        yield child
