"""`sorter-gui [FOLDER]`: open the window, optionally on a folder."""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from ..core import decode_pool, formats
from ..paths import resources_dir
from . import xcb_check
from .main_window import MainWindow

# How long a thread may hold the GIL while another waits for it (Python's default is 5 ms). Worker
# threads run Python loops (clustering, predictions); with three of them and the UI thread waiting,
# 5-ms turns added up to 100+ ms stalls of the event loop in benchmarks/bench_ui.py. The UI thread
# gives the GIL up at every QPainter call and at many other Qt calls, and waits up to this long to
# get it back each time: 400 fillRect calls beside two busy workers took 19 ms (63 at worst) at
# 1 ms, 15.5 (21 at worst) at 0.2 ms, 0.9 alone. bench_ui on a quiet machine held the 50-ms budget
# in 3 of 5 runs at 0.2 ms and 2 of 5 at 1 ms; indexing went no slower (110–113 images/s).
GIL_SWITCH_INTERVAL_S = 0.0002
# Standard modules a folder's jobs import on first use (found by diffing sys.modules around them).
_IMPORTED_BY_JOBS = ("mmap", "numpy.ma", "multiprocessing.spawn", "multiprocessing.synchronize") + (
    ("multiprocessing.popen_spawn_win32",)
    if sys.platform == "win32"
    else (
        "multiprocessing.popen_spawn_posix",
        "multiprocessing.forkserver",
        "multiprocessing.popen_forkserver",
        "multiprocessing.resource_tracker",
    )
)


def tune_interpreter() -> None:
    """Keep the UI thread's turns at the GIL short, and start-up objects out of the collector's way.

    A full collection over the ~40,000 objects start-up allocates (Qt wrappers, modules) took
    8–11 ms on the UI thread; frozen, they are never scanned again. The optional decoders (HEIF,
    RAW, JPEG XL) and the standard modules the first folder's jobs would import (process start-up
    for the decode workers and the children, numpy.ma) are imported here too, not in a worker:
    an import holds the GIL while it runs (an extension module's 12–30 ms), and PySide's import
    hook reads the importing module's source; traced bench_ui stalls at the start of indexing
    had a worker inside such imports. For the same reason the decode workers' fork server is
    started here, before any folder is open, not by a decode thread when indexing starts.
    """
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    formats.import_optional()
    for name in _IMPORTED_BY_JOBS:
        importlib.import_module(name)
    decode_pool.start_server()  # not from a decode thread as the first folder's indexing starts
    gc.collect()
    gc.freeze()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    missing = xcb_check.problem()
    if missing:  # Qt would abort with a message that names the wrong thing
        print(missing, file=sys.stderr)
        return 1
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([sys.argv[0], *args])
    app.setApplicationName("Image Sorter")
    QApplication.setDesktopFileName("image-sorter")  # lets Wayland match the window to the menu entry
    QApplication.setWindowIcon(QIcon(str(resources_dir() / "icons" / "image-sorter-256.png")))
    window = MainWindow()
    window.show()
    tune_interpreter()
    folder, problem = folder_argument(args)
    if folder is not None:
        window.open_folder(folder)
    elif problem:
        print(f"sorter-gui: {problem}", file=sys.stderr)
        window.session.failed.emit(("Open", problem))
    return int(app.exec())


def folder_argument(args: Sequence[str]) -> tuple[Path | None, str]:
    """The folder to open from the command line, or why the one given cannot be opened.

    Qt's own options (-style, -platform …) are left to Qt; a path that is not there is said so
    rather than silently dropped.
    """
    paths = [a for a in args if not a.startswith("-")]
    if not paths:
        return None, ""
    path = Path(paths[0]).expanduser()
    if path.is_dir():
        return path, ""
    if path.exists():
        return None, f"not a folder: {path}"
    return None, f"no such folder: {path}"
