"""`sorter-gui [FOLDER]`: open the window, optionally on a folder."""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from ..paths import resources_dir
from .main_window import MainWindow

# How long a thread may hold the GIL while another waits for it (Python's default is 5 ms). Worker
# threads run Python loops (clustering, predictions); with three of them and the UI thread waiting,
# 5-ms turns added up to 100+ ms stalls of the event loop in benchmarks/bench_ui.py.
GIL_SWITCH_INTERVAL_S = 0.001


def tune_interpreter() -> None:
    """Keep the UI thread's turns at the GIL short, and start-up objects out of the collector's way.

    A full collection over the ~40,000 objects start-up allocates (Qt wrappers, modules) took
    8–11 ms on the UI thread; frozen, they are never scanned again.
    """
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    gc.collect()
    gc.freeze()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([sys.argv[0], *args])
    app.setApplicationName("Image Sorter")
    QApplication.setDesktopFileName("image-sorter")  # lets Wayland match the window to the menu entry
    QApplication.setWindowIcon(QIcon(str(resources_dir() / "icons" / "image-sorter-256.png")))
    window = MainWindow()
    window.show()
    tune_interpreter()
    folders = [Path(a) for a in args if not a.startswith("-") and Path(a).is_dir()]
    if folders:
        window.open_folder(folders[0])
    return int(app.exec())
