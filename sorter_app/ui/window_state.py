"""Where the window was and how its panes were split: restored at the next start.

Kept beside settings.ini in its own file (window.ini): it is the window's memory, not a setting a
person edits, and a damaged or foreign value is simply ignored.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow, QSplitter


class WindowState:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _settings(self) -> QSettings:
        return QSettings(str(self.path), QSettings.Format.IniFormat)

    def save(self, window: QMainWindow) -> None:
        qs = self._settings()
        qs.setValue("geometry", window.saveGeometry())
        qs.setValue("state", window.saveState())
        for splitter in window.findChildren(QSplitter):
            if splitter.objectName():
                qs.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
        qs.sync()

    def restore(self, window: QMainWindow) -> bool:
        """True when a saved geometry was applied (else the caller picks a default size)."""
        qs = self._settings()
        restored = False
        geometry = qs.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            restored = window.restoreGeometry(geometry)
        state = qs.value("state")
        if isinstance(state, QByteArray):
            window.restoreState(state)
        for splitter in window.findChildren(QSplitter):
            saved = qs.value(f"splitters/{splitter.objectName()}") if splitter.objectName() else None
            if isinstance(saved, QByteArray):
                splitter.restoreState(saved)
        return restored

    def last_export_folder(self) -> str:
        value = self._settings().value("last_export_folder")
        return value if isinstance(value, str) else ""

    def set_last_export_folder(self, folder: str) -> None:
        qs = self._settings()
        qs.setValue("last_export_folder", folder)
        qs.sync()
