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


def settle_garbage_collector() -> None:
    """Move what start-up allocated (Qt wrappers, modules) out of the collector's way for good.

    A full collection with those ~40,000 objects took 8–11 ms on the UI thread, and longer while
    indexing threads compete for the GIL; frozen, they are never scanned again.
    """
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
    settle_garbage_collector()
    folders = [Path(a) for a in args if not a.startswith("-") and Path(a).is_dir()]
    if folders:
        window.open_folder(folders[0])
    return int(app.exec())
