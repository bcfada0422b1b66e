"""`sorter-gui [FOLDER]`: open the window, optionally on a folder."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from ..paths import resources_dir
from . import xcb_check
from .interpreter import tune_interpreter
from .main_window import MainWindow


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
