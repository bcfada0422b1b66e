"""The `sorter` and `sorter-gui` commands' entry points: this module imports nothing until called.

`multiprocessing` starts each child process by importing its parent's main script again (so that
functions defined there could be sent to it), and the script pip writes for a command imports the
module of its entry function at the top. With `sorter_app.ui.app` there, every child of the window
(the two decode workers, Leiden's, the map's and the label retrain's) imported PySide6 and
onnxruntime before its first piece of work: 0.8 s of CPU and ~100 MB each. The children run
functions of `sorter_app.core`, whose modules they import themselves.
"""

from __future__ import annotations


def cli() -> int:
    from .cli import main

    return main()


def gui() -> int:
    from .ui.app import main

    return main()
