from __future__ import annotations

import types

import pytest
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from sorter_app.ui import progress_strip
from sorter_app.ui.progress_strip import ProgressStrip


class Sibling(QWidget):
    """Stands for the grid: a widget of the same window waiting to be painted."""

    def __init__(self) -> None:
        super().__init__()
        self.paints = 0
        self.setMinimumSize(300, 200)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        self.paints += 1
        QPainter(self).fillRect(self.rect(), QColor(30, 60, 90))


def test_progress_does_not_paint_the_rest_of_the_window_at_once(qtbot: QtBot) -> None:
    """QProgressBar.setValue repaints at once, and an immediate repaint paints whatever else of the
    window waits to be painted (a grid being scrolled): one extra grid paint per progress step."""
    window = QWidget()
    qtbot.addWidget(window)
    layout = QVBoxLayout(window)
    sibling, strip = Sibling(), ProgressStrip()
    layout.addWidget(sibling)
    layout.addWidget(strip)
    strip.set_task("Drawing the map", cancellable=True)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: sibling.paints > 0)
    qtbot.wait(50)  # the first paint of everything done
    sibling.update()
    before = sibling.paints
    strip.set_progress("Drawing the map", 40, 200)
    assert sibling.paints == before  # nothing painted inside the call
    qtbot.waitUntil(lambda: sibling.paints > before)  # but with the window's next update
    assert strip.bar.value() == 40 and strip.label.text().startswith("Drawing the map 40/200")


def test_progress_steps_closer_than_the_interval_are_skipped_but_never_the_last(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [100.0]
    monkeypatch.setattr(progress_strip, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    strip = ProgressStrip()
    qtbot.addWidget(strip)
    strip.set_task("Drawing the map")
    strip.set_progress("Drawing the map", 1, 200)
    now[0] += progress_strip.PROGRESS_INTERVAL_S / 2
    strip.set_progress("Drawing the map", 2, 200)
    assert strip.bar.value() == 1  # too soon
    strip.set_progress("Drawing the map", 200, 200)
    assert strip.bar.value() == 200  # done is always shown
    now[0] += progress_strip.PROGRESS_INTERVAL_S
    strip.set_progress("Clustering", 5, 10)
    assert strip.bar.value() == 200  # another task's progress is not this one's
    QApplication.processEvents()
