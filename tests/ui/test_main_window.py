"""The window, for real, offscreen: drop a folder and watch it index without blocking."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from pytestqt.qtbot import QtBot

from sorter_app.paths import AppPaths
from sorter_app.ui.main_window import MainWindow
from tests import builders


def test_dropping_a_folder_indexes_it(qtbot: QtBot, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for i in range(5):
        builders.write_jpeg(folder / f"img{i}.jpg", seed=i)
    builders.write_zero_bytes(folder / "empty.jpg")
    window = MainWindow(AppPaths(tmp_path / "data"))
    qtbot.addWidget(window)
    window.show()

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    drop = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(drop)
    assert window.cancel_button.isVisibleTo(window)

    qtbot.waitUntil(lambda: window.last_report is not None, timeout=60_000)
    report = window.last_report
    assert report is not None and (report.indexed, len(report.skipped)) == (5, 1)
    assert "5 new" in window.message.text() and "1 skipped" in window.message.text()
    qtbot.waitUntil(lambda: not window.cancel_button.isVisibleTo(window))
    assert (tmp_path / "data" / "catalog.sqlite").is_file()
