"""The map for real, offscreen: hover a point to preview it, draw a loop to select a blob."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PySide6.QtCore import QEvent, QObject, QPoint, QRect, Qt, Signal
from PySide6.QtGui import QHelpEvent, QImage, QPixmap
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.qtbot import QtBot

from sorter_app.ui.map_points import MARGIN, PALETTE, UNGROUPED, points_in_polygon
from sorter_app.ui.map_view import MapView, ThumbnailSource
from tests import builders

SIZE = (600, 400)
PER_BLOB = 250


class QueuedThumbnails(QObject):
    """A thumbnail cache that loads only when told to, so a test sees both the wait and the arrival."""

    ready = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.cached: dict[str, QPixmap] = {}
        self.queued: list[str] = []

    def pixmap(self, path: str) -> QPixmap | None:
        if path not in self.cached and path not in self.queued:
            self.queued.append(path)
        return self.cached.get(path)

    def load_queued(self) -> None:
        for path in self.queued:
            self.cached[path] = QPixmap.fromImage(
                QImage(path).scaled(128, 128, Qt.AspectRatioMode.KeepAspectRatio)
            )
            self.ready.emit(path)
        self.queued.clear()


def _blob(rng: np.random.Generator, centre: tuple[float, float], radius: float) -> NDArray[np.float32]:
    angle = rng.uniform(0, 2 * np.pi, PER_BLOB)
    r = radius * np.sqrt(rng.uniform(0, 1, PER_BLOB))
    return np.stack([centre[0] + r * np.cos(angle), centre[1] + r * np.sin(angle)], axis=1).astype(np.float32)


@pytest.fixture
def blobs() -> tuple[NDArray[np.float32], list[str]]:
    rng = np.random.default_rng(7)
    points = np.concatenate([_blob(rng, (0.25, 0.3), 0.12), _blob(rng, (0.75, 0.7), 0.12)])
    paths = [f"blob{i // PER_BLOB}/img{i:03d}.jpg" for i in range(len(points))]
    return points, paths


@pytest.fixture
def view(qtbot: QtBot, blobs: tuple[NDArray[np.float32], list[str]]) -> MapView:
    widget = MapView()
    qtbot.addWidget(widget)
    widget.resize(*SIZE)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_points(*blobs)
    return widget


def _screen(x: float, y: float) -> QPoint:
    """Where the map draws data point (x, y): [0, 1]² stretched over the widget inside its margin."""
    return QPoint(round(MARGIN + x * (SIZE[0] - 2 * MARGIN)), round(MARGIN + y * (SIZE[1] - 2 * MARGIN)))


def _circle(centre: tuple[float, float], radius: float, steps: int = 48) -> list[QPoint]:
    angles = np.linspace(0, 2 * np.pi, steps, endpoint=False)
    return [_screen(centre[0] + radius * np.cos(a), centre[1] + radius * np.sin(a)) for a in angles]


def _drag(qtbot: QtBot, view: MapView, loop: list[QPoint]) -> None:
    QTest.mousePress(view, Qt.MouseButton.LeftButton, pos=loop[0])
    for point in loop[1:]:
        QTest.mouseMove(view, point)


def test_hovering_a_point_names_it_and_previews_its_thumbnail(
    qtbot: QtBot, view: MapView, blobs: tuple[NDArray[np.float32], list[str]], tmp_path: Path
) -> None:
    points, paths = blobs
    target = 37
    builders.write_jpeg(tmp_path / paths[target], seed=3)
    thumbnails = QueuedThumbnails()
    source: ThumbnailSource = thumbnails
    view.set_thumbnails(source, tmp_path)
    cursor = _screen(*points[target])
    preview_area = QRect(cursor, cursor + QPoint(150, 120)).intersected(view.rect())
    before = view.grab().toImage().copy(preview_area)

    with qtbot.waitSignal(view.hovered) as hovered:
        QTest.mouseMove(view, cursor)
    assert hovered.args == [paths[target]]
    assert thumbnails.queued == [str(tmp_path / paths[target])]
    placeholder = view.grab().toImage().copy(preview_area)
    assert placeholder != before

    thumbnails.load_queued()
    assert view.grab().toImage().copy(preview_area) not in (before, placeholder)


def test_moving_off_the_points_hides_the_preview(
    qtbot: QtBot, view: MapView, blobs: tuple[NDArray[np.float32], list[str]]
) -> None:
    points, _ = blobs
    empty_corner = _screen(0.95, 0.05)
    view.setFocus()
    QTest.mouseMove(view, empty_corner)
    idle = view.grab().toImage()
    with qtbot.waitSignal(view.hovered):
        QTest.mouseMove(view, _screen(*points[0]))
    assert view.grab().toImage() != idle
    QTest.mouseMove(view, empty_corner)
    assert view.grab().toImage() == idle


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # the tooltip's window, offscreen
def test_the_how_to_tooltip_shows_over_empty_space_never_over_the_preview(
    qtbot: QtBot, view: MapView, blobs: tuple[NDArray[np.float32], list[str]]
) -> None:
    """Over a point the preview card says what is there; the widget's tooltip would cover it."""
    points, _ = blobs
    view.setToolTip("how to use the map")

    def ask_for_tooltip(at: QPoint) -> None:
        QApplication.sendEvent(view, QHelpEvent(QEvent.Type.ToolTip, at, view.mapToGlobal(at)))

    empty_corner = _screen(0.95, 0.05)
    QTest.mouseMove(view, empty_corner)
    ask_for_tooltip(empty_corner)
    qtbot.waitUntil(QToolTip.isVisible)
    assert QToolTip.text() == "how to use the map"
    point = _screen(*points[0])
    with qtbot.waitSignal(view.hovered):
        QTest.mouseMove(view, point)
    qtbot.waitUntil(lambda: not QToolTip.isVisible())  # moving the mouse put it away (Qt fades it)
    ask_for_tooltip(point)
    qtbot.wait(400)  # longer than Qt's fade-out: a tooltip asked for here would still be showing
    assert not QToolTip.isVisible()


def test_a_loop_around_one_blob_selects_exactly_that_blob(
    qtbot: QtBot, view: MapView, blobs: tuple[NDArray[np.float32], list[str]]
) -> None:
    _, paths = blobs
    loop = _circle((0.25, 0.3), 0.2)
    with qtbot.waitSignal(view.lassoed) as lassoed:
        _drag(qtbot, view, loop)
        QTest.mouseRelease(view, Qt.MouseButton.LeftButton, pos=loop[-1])
    assert lassoed.args == [paths[:PER_BLOB]]


def test_escape_cancels_a_loop_in_progress(qtbot: QtBot, view: MapView) -> None:
    before = view.grab().toImage()
    loop = _circle((0.75, 0.7), 0.2)
    _drag(qtbot, view, loop)
    assert view.grab().toImage() != before  # the loop is drawn while dragging
    with qtbot.assertNotEmitted(view.lassoed):
        QTest.keyClick(view, Qt.Key.Key_Escape)
        QTest.mouseRelease(view, Qt.MouseButton.LeftButton, pos=loop[-1])
    assert view.grab().toImage() == before


def test_a_loop_around_nothing_emits_nothing(qtbot: QtBot, view: MapView) -> None:
    loop = _circle((0.8, 0.2), 0.1)
    with qtbot.assertNotEmitted(view.lassoed):
        _drag(qtbot, view, loop)
        QTest.mouseRelease(view, Qt.MouseButton.LeftButton, pos=loop[-1])


def test_groups_colour_the_points(qtbot: QtBot) -> None:
    view = MapView()
    qtbot.addWidget(view)
    view.resize(*SIZE)
    points = np.array([[0.2, 0.5], [0.5, 0.5], [0.8, 0.5]], np.float32)
    view.set_points(points, ["a.jpg", "b.jpg", "c.jpg"], groups=[-1, 0, 11])
    image = view.grab().toImage()
    centres = [image.pixelColor(_screen(*p)) for p in points]
    assert centres == [UNGROUPED, PALETTE[0], PALETTE[11 % len(PALETTE)]]


def test_summary_and_the_empty_map(qtbot: QtBot, view: MapView) -> None:
    assert view.summary() == "500 images · hover to preview · drag a loop to select"
    assert view.has_points()
    view.clear()
    assert view.summary() == "No images on the map"
    assert not view.has_points()
    image = view.grab().toImage()
    background = image.pixelColor(0, 0)
    hint_row = image.height() // 2
    assert any(image.pixelColor(x, hint_row) != background for x in range(image.width()))
    with qtbot.assertNotEmitted(view.hovered):
        QTest.mouseMove(view, _screen(0.25, 0.3))


def test_mismatched_points_and_paths_are_refused(view: MapView) -> None:
    with pytest.raises(ValueError, match="expected 2 points"):
        view.set_points(np.zeros((3, 2), np.float32), ["a.jpg", "b.jpg"])


def test_points_in_a_concave_polygon() -> None:
    u_shape = np.array(
        [[0, 0], [30, 0], [30, 30], [20, 30], [20, 10], [10, 10], [10, 30], [0, 30]], np.float32
    )
    points = np.array([[5, 20], [25, 20], [15, 5], [15, 20], [35, 5], [-1, 5]], np.float32)
    assert points_in_polygon(points, u_shape).tolist() == [True, True, True, False, False, False]
