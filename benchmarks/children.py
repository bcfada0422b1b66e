"""Start child processes from a benchmark as the installed commands start them.

`multiprocessing` imports the parent's main module again in each child it starts. The installed
`sorter` and `sorter-gui` scripts import nothing heavy at the top (sorter_app/entry.py), so the
app's children (decode workers, Leiden's, the map's, the label retrain's) import only the core
modules they run. A benchmark run with `python -m` is itself the main module, with onnxruntime,
and for bench_ui PySide6, at its top: left alone, each child it starts would import them, which
the app's children do not (0.3–0.8 s of CPU each). No benchmark sends a child a function of its
own, so its children need nothing from it.
"""

from __future__ import annotations

import contextlib
import sys


def start_children_as_the_app_does() -> None:
    """Children no longer re-import this process's main module (call first thing in `main`)."""
    main = sys.modules["__main__"]
    main.__spec__ = None  # neither a module name to import …
    with contextlib.suppress(AttributeError):
        del main.__file__  # … nor a script path to run
