"""The thumbnail grid for real, offscreen: real JPEGs, the real cache, model, delegate and view."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import shiboken6
from PIL import Image
from PySide6.QtCore import QModelIndex, QPoint, QPointF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QImage, QPixmap, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem
from pytestqt.qtbot import QtBot

from sorter_app.ui import thumbnails
from sorter_app.ui.image_grid import (
    DETAIL_ROLE,
    MAX_THUMBNAIL_SIZE,
    PATH_ROLE,
    GridItem,
    ImageGridModel,
    ImageGridView,
    header_item,
)
from sorter_app.ui.thumbnails import ThumbnailCache
from tests import builders

THUMBNAIL_SIDE = 128  # what the cache decodes to; 320×240 JPEGs come back 128×96


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths the cache's workers decode, counted by wrapping the real decode function."""
    paths: list[str] = []
    real = thumbnails.decode_thumbnail

    def counting(path: str, max_side: int) -> QImage:
        paths.append(path)
        return real(path, max_side)

    monkeypatch.setattr(thumbnails, "decode_thumbnail", counting)
    return paths


def _jpegs(folder: Path, count: int, first_seed: int = 0) -> list[GridItem]:
    return [
        GridItem(str(builders.write_jpeg(folder / f"img{i:02d}.jpg", seed=i)), detail=f"0.{i:02d}")
        for i in range(first_seed, first_seed + count)
    ]


MakeGrid = Callable[..., tuple[ImageGridView, ThumbnailCache]]


@pytest.fixture
def make_grid(qtbot: QtBot) -> Iterator[MakeGrid]:
    """480×360 grids of 96-px cells (about a dozen on screen) over their own caches.

    The caches are destroyed when the test ends: their pools wait for running loads, so no decode
    of this test runs into the next one.
    """
    caches: list[ThumbnailCache] = []

    def make(
        items: list[GridItem], threads: int = 2, cache: ThumbnailCache | None = None
    ) -> tuple[ImageGridView, ThumbnailCache]:
        if cache is None:
            caches.append(ThumbnailCache(max_side=THUMBNAIL_SIDE, threads=threads))
            cache = caches[-1]
        model = ImageGridModel(cache)
        model.set_items(items)
        view = ImageGridView(thumbnail_size=96)
        view.setModel(model)
        model.setParent(view)
        qtbot.addWidget(view)
        view.resize(480, 360)
        return view, cache

    yield make
    for cache in caches:
        shiboken6.delete(cache)


def _model(view: ImageGridView) -> ImageGridModel:
    model = view.model()
    assert isinstance(model, ImageGridModel)
    return model


def _visible_rows(view: ImageGridView) -> list[int]:
    model, viewport = _model(view), view.viewport().rect()
    return [r for r in range(model.rowCount()) if view.visualRect(model.index(r, 0)).intersects(viewport)]


def _is_thumbnail(pixmap: object) -> bool:
    """Placeholders are 96×96 tiles; a 320×240 photo comes back 128×96."""
    return isinstance(pixmap, QPixmap) and (pixmap.width(), pixmap.height()) == (THUMBNAIL_SIDE, 96)


def test_grid_item_caption_defaults_to_the_file_name() -> None:
    assert GridItem("/photos/kitchen 1.jpg").caption == "kitchen 1.jpg"
    assert GridItem("/photos/k.jpg", caption="Kitchen").caption == "Kitchen"


def test_model_passes_the_model_tester_through_resets_inserts_and_removals(
    make_grid: MakeGrid, qtmodeltester: object, tmp_path: Path
) -> None:
    items = _jpegs(tmp_path, 8)
    view, cache = make_grid(items[:5])  # a view is attached, as in the window
    model = _model(view)
    qtmodeltester.check(model)  # type: ignore[attr-defined]  # Qt's tester stays attached from here on
    cache.cancel_pending()  # the rows the tester asked for are waiting: each gets a dataChanged

    model.append_items([*items[5:], items[0]])  # a path already shown is not added twice
    assert [item.path for item in model.items()] == [item.path for item in items]
    model.remove_paths([items[1].path, items[2].path, items[6].path, "/not/shown.jpg"])
    kept = [items[i] for i in (0, 3, 4, 5, 7)]
    assert model.items() == kept
    assert [model.row_of(item.path) for item in kept] == [0, 1, 2, 3, 4]
    assert model.row_of(items[1].path) is None

    index = model.index(1, 0)
    assert model.data(index) == "img03.jpg"
    assert model.data(index, PATH_ROLE) == items[3].path
    assert model.data(index, DETAIL_ROLE) == "0.03"
    assert model.data(index, Qt.ItemDataRole.ToolTipRole) == items[3].path  # no tooltip given: the path
    generation = model.generation
    model.set_items(items[6:])
    assert model.generation == generation + 1 and model.rowCount() == 2


def test_visible_rows_fill_in_and_only_they_are_decoded(
    make_grid: MakeGrid, qtbot: QtBot, tmp_path: Path, decoded: list[str]
) -> None:
    items = _jpegs(tmp_path, 30)
    view, _ = make_grid(items)
    model = _model(view)
    changed: list[int] = []
    model.dataChanged.connect(lambda first, last, roles: changed.extend(range(first.row(), last.row() + 1)))
    view.show()
    qtbot.waitExposed(view)

    visible = _visible_rows(view)
    assert 0 < len(visible) < 30  # the test needs rows that are off screen
    qtbot.waitUntil(lambda: set(changed) >= set(visible))
    assert all(_is_thumbnail(model.data(model.index(r, 0), Qt.ItemDataRole.DecorationRole)) for r in visible)
    assert sorted(decoded) == sorted(items[r].path for r in visible)  # no prefetch of the whole grid

    view.scrollToBottom()
    bottom = _visible_rows(view)
    qtbot.waitUntil(lambda: set(changed) >= set(bottom))
    assert items[-1].path in decoded and len(decoded) < 30


def test_a_corrupt_file_keeps_its_broken_placeholder_without_retrying(
    make_grid: MakeGrid, qtbot: QtBot, tmp_path: Path, decoded: list[str]
) -> None:
    broken = GridItem(str(builders.write_truncated_jpeg(tmp_path / "broken.jpg")))
    items = [*_jpegs(tmp_path, 3), broken]
    view, cache = make_grid(items, threads=1)
    model = _model(view)
    failures: list[str] = []
    cache.failed.connect(lambda path, reason: failures.append(path))
    changed: list[int] = []
    model.dataChanged.connect(lambda first, last, roles: changed.append(first.row()))
    loading = model.data(model.index(3, 0), Qt.ItemDataRole.DecorationRole)
    view.show()
    qtbot.waitUntil(lambda: len(changed) == 4)  # three thumbnails and one failure came back

    sentinel = str(builders.write_jpeg(tmp_path / "sentinel.jpg", seed=9))
    with qtbot.waitSignal(cache.ready, check_params_cb=lambda path: path == sentinel):
        cache.pixmap(sentinel)
        for _ in range(3):  # repaints ask again; with one thread, newest first, a retry would run first
            view.viewport().repaint()
    assert decoded[4:] == [sentinel] and failures == [broken.path]
    assert sorted(changed) == [0, 1, 2, 3]  # the failure repaints its cell, once
    shown = model.data(model.index(3, 0), Qt.ItemDataRole.DecorationRole)
    assert isinstance(shown, QPixmap) and shown.toImage() != loading.toImage()


def test_cells_given_by_a_function_are_made_when_drawn_and_once(
    make_grid: MakeGrid, qtbot: QtBot, tmp_path: Path
) -> None:
    """Browse gives its cells this way: making 5,000 of them (their captions and tooltips) up
    front was most of its rebuild on the UI thread, for a few dozen cells on screen."""
    made: list[int] = []
    paths = [i.path for i in _jpegs(tmp_path, 60)]

    def cell(row: int) -> GridItem:
        made.append(row)
        return GridItem(paths[row], detail=f"kitchen {row}%")

    view, _ = make_grid([])
    model = _model(view)
    model.set_cells(paths, cell, headers=False)
    assert made == []  # nothing made before a cell is drawn
    view.show()  # 480×360: about a dozen cells
    qtbot.waitUntil(lambda: len(made) > 0)
    qtbot.wait(50)
    assert 0 < len(made) < len(paths)  # the cells on screen, not the whole grid
    assert model.data(model.index(59, 0), DETAIL_ROLE) == "kitchen 59%"
    assert model.detail_text(59) == "kitchen 59%" and made.count(59) == 1  # made once, kept
    model.remove_paths(paths[:10])  # rows move up: each still shows its own image
    assert model.data(model.index(0, 0), PATH_ROLE) == paths[10]
    assert model.detail_text(30) == "kitchen 40%"


def test_new_captions_for_the_same_images_update_in_place(
    make_grid: MakeGrid, qtbot: QtBot, qtmodeltester: object, tmp_path: Path, decoded: list[str]
) -> None:
    """Clusters named or a label set retrained: Browse's images are the same, only their lines
    change. No reset: the view keeps its layout, scroll position and selection, and the
    thumbnails already asked for are not asked for again."""
    items = _jpegs(tmp_path, 12)
    view, _ = make_grid(items)
    model = _model(view)
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    view.show()
    qtbot.waitUntil(lambda: len(decoded) >= len(_visible_rows(view)))
    view.select_path(items[3].path)
    resets: list[int] = []
    changed: list[tuple[int, int]] = []
    model.modelReset.connect(lambda: resets.append(model.rowCount()))
    model.dataChanged.connect(lambda first, last, roles: changed.append((first.row(), last.row())))
    generation, asked = model.generation, len(decoded)

    renamed = [
        GridItem(i.path, detail=f"kitchen {n}%", tooltip=f"{i.path}\nKitchen") for n, i in enumerate(items)
    ]
    model.set_items(renamed)

    assert resets == [] and model.generation == generation
    assert (0, len(items) - 1) in changed
    assert model.items() == renamed and model.data(model.index(5, 0), DETAIL_ROLE) == "kitchen 5%"
    assert view.selected_paths() == [items[3].path]
    qtbot.wait(50)
    assert len(decoded) == asked  # nothing decoded twice
    model.set_items(list(reversed(renamed)))  # another order is another grid: reset
    assert resets == [len(items)] and model.generation == generation + 1


def test_new_captions_in_a_grid_with_headers_repaint_without_measuring_every_row(
    make_grid: MakeGrid, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With headers the rows have no uniform size, and QListView measures every changed row again
    (5,000 sizeHint calls for a folder's new captions after a retrain): text roles skip that."""
    items = _jpegs(tmp_path, 8)
    view, _ = make_grid([header_item("kitchen", 3), *items[:3], header_item("bathroom", 5), *items[3:]])
    model = _model(view)
    view.show()
    qtbot.waitUntil(lambda: view.visualRect(model.index(9, 0)).isValid())
    delegate = view.itemDelegate()
    asked: list[int] = []
    real = delegate.sizeHint

    def counting(option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        asked.append(index.row())
        return real(option, index)

    monkeypatch.setattr(delegate, "sizeHint", counting)
    before = view.viewport().grab().toImage()
    renamed = [
        header_item("kitchen", 3),
        *(GridItem(i.path, detail="now a kitchen") for i in items[:3]),
        header_item("bathroom", 5),
        *(GridItem(i.path, detail="now a bathroom") for i in items[3:]),
    ]
    model.set_items(renamed)
    qtbot.waitUntil(lambda: view.viewport().grab().toImage() != before)  # the new words are drawn

    assert len(asked) < 3  # at most what painting asks; not every row (10)
    assert view.visualRect(model.index(4, 0)).left() <= 1  # the layout stands: a header's row


def test_switching_items_drops_the_old_generation(
    make_grid: MakeGrid, qtbot: QtBot, tmp_path: Path, decoded: list[str]
) -> None:
    old = _jpegs(tmp_path / "a", 12)
    new = _jpegs(tmp_path / "b", 12, first_seed=100)
    view, _ = make_grid(old)
    model = _model(view)
    for row in range(model.rowCount()):  # what painting the old grid would ask for
        model.data(model.index(row, 0), Qt.ItemDataRole.DecorationRole)
    model.set_items(new)
    changed_paths: list[str] = []
    model.dataChanged.connect(lambda first, last, roles: changed_paths.append(first.data(PATH_ROLE)))

    view.show()
    visible = _visible_rows(view)
    qtbot.waitUntil(lambda: set(changed_paths) >= {new[r].path for r in visible})
    old_paths = {item.path for item in old}
    assert not old_paths & set(decoded)
    assert not old_paths & set(changed_paths)


def test_a_grid_sharing_the_cache_still_fills_in_when_another_grid_switches(
    make_grid: MakeGrid, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = threading.Event(), threading.Event()
    real = thumbnails.decode_thumbnail

    def first_one_held(path: str, max_side: int) -> QImage:
        if not started.is_set():
            started.set()
            release.wait(30)
        return real(path, max_side)

    monkeypatch.setattr(thumbnails, "decode_thumbnail", first_one_held)
    shown = _jpegs(tmp_path / "shown", 3)
    view, cache = make_grid(shown, threads=1)
    other, _ = make_grid([], cache=cache)  # e.g. a hidden tab of the same window
    ready: list[str] = []
    cache.ready.connect(ready.append)
    view.show()
    qtbot.waitUntil(started.is_set)  # painted: one load running, two queued

    _model(other).set_items(_jpegs(tmp_path / "other", 3, first_seed=50))  # drops all three
    release.set()
    qtbot.waitUntil(lambda: {item.path for item in shown} <= set(ready))


def test_zoom_changes_the_grid_and_is_clamped(make_grid: MakeGrid, qtbot: QtBot, tmp_path: Path) -> None:
    view, _ = make_grid(_jpegs(tmp_path, 3))
    zooms: list[int] = []
    view.zoomed.connect(zooms.append)
    grid = view.gridSize()

    view.set_thumbnail_size(200)
    assert view.gridSize().width() >= 200 + 8  # stretched to fill the row, never below the thumbnail
    assert view.gridSize().height() - grid.height() == 200 - 96
    view.set_thumbnail_size(10_000)
    assert view.thumbnail_size == MAX_THUMBNAIL_SIZE
    view.set_thumbnail_size(MAX_THUMBNAIL_SIZE)  # no change, no signal

    QTest.keyClick(view, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(view, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert zooms == [200, MAX_THUMBNAIL_SIZE, round(MAX_THUMBNAIL_SIZE / 1.25), MAX_THUMBNAIL_SIZE]


def test_a_larger_font_makes_room_for_the_caption_lines(
    make_grid: MakeGrid, qtbot: QtBot, tmp_path: Path
) -> None:
    view, _ = make_grid(_jpegs(tmp_path, 3))
    grid = view.gridSize()
    font = view.font()
    font.setPixelSize(3 * QFontMetrics(font).height())
    view.setFont(font)
    assert view.gridSize().height() > grid.height()


def _ctrl_wheel(view: ImageGridView, angle: int) -> None:
    centre = QPointF(view.viewport().rect().center())
    event = QWheelEvent(
        centre,
        QPointF(view.viewport().mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, angle),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)


def test_ctrl_wheel_zooms_one_step_per_notch(make_grid: MakeGrid, qtbot: QtBot, tmp_path: Path) -> None:
    view, _ = make_grid(_jpegs(tmp_path, 3))
    zooms: list[int] = []
    view.zoomed.connect(zooms.append)

    _ctrl_wheel(view, 120)
    _ctrl_wheel(view, 60)  # half a notch, as a touchpad sends it: nothing yet
    assert zooms == [120]
    _ctrl_wheel(view, 60)
    _ctrl_wheel(view, -120)
    assert zooms == [120, 150, 120]


def test_keyboard_moves_and_activates_the_current_image(
    make_grid: MakeGrid, qtbot: QtBot, tmp_path: Path
) -> None:
    items = _jpegs(tmp_path, 6)
    view, _ = make_grid(items)
    view.show()
    view.select_path(items[0].path)
    assert view.currentIndex().row() == 0 and view.selected_paths() == [items[0].path]

    with qtbot.waitSignal(view.current_path_changed) as moved:
        QTest.keyClick(view, Qt.Key.Key_Right)
    assert moved.args == [items[1].path] and view.currentIndex().row() == 1
    with qtbot.waitSignal(view.activated_path) as activated:
        QTest.keyClick(view, Qt.Key.Key_Return)
    assert activated.args == [items[1].path]

    centre = view.visualRect(_model(view).index(4, 0)).center()
    with qtbot.waitSignal(view.view_requested) as viewed:  # double-click: the full-size viewer
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)  # a double click's first
        QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert viewed.args == [items[4].path]
    with qtbot.waitSignal(view.view_requested) as viewed:
        QTest.keyClick(view, Qt.Key.Key_Space)
    assert viewed.args == [items[4].path]
    with qtbot.waitSignal(view.trash_requested) as trashed:  # Del: what the context menu says it does
        QTest.keyClick(view, Qt.Key.Key_Delete)
    assert trashed.args == [[items[4].path]]
    view.clearSelection()
    with qtbot.assertNotEmitted(view.trash_requested):
        QTest.keyClick(view, Qt.Key.Key_Delete)


def test_columns_fill_the_width_and_headers_start_their_own_rows(
    make_grid: MakeGrid, qtbot: QtBot, tmp_path: Path
) -> None:
    items = _jpegs(tmp_path, 7)
    view, _ = make_grid(items)
    view.resize(700, 600)
    view.show()
    qtbot.waitExposed(view)
    model = _model(view)
    cells = [view.visualRect(model.index(r, 0)) for r in range(model.rowCount())]
    first_row = [c for c in cells if c.top() == cells[0].top()]
    assert view.viewport().width() - first_row[-1].right() < cells[0].width()  # no ragged gap

    model.set_items([header_item("kitchen", 2), *items[:2], header_item("bathroom", 5), *items[2:]])
    qtbot.waitUntil(lambda: view.visualRect(model.index(3, 0)).isValid())
    head = [view.visualRect(model.index(r, 0)) for r in (0, 3)]
    assert all(r.left() <= 1 and r.width() > view.viewport().width() * 0.9 for r in head)
    shot = view.viewport().grab(head[0]).toImage()  # a header cannot be selected, yet reads as text
    pixels = ((x, y) for x in range(shot.width()) for y in range(shot.height()))
    darkest = min(shot.pixelColor(x, y).lightness() for x, y in pixels)
    assert darkest < 90, "the header is drawn in the disabled grey"
    image_after_header = view.visualRect(model.index(4, 0))
    assert image_after_header.left() <= 1 and image_after_header.top() >= head[1].bottom()
    assert not model.flags(model.index(0, 0)) & Qt.ItemFlag.ItemIsSelectable
    view.setFocus()
    view.selectAll()
    assert len(view.selected_paths()) == 7 and all(not p.startswith("\x00") for p in view.selected_paths())


def test_an_empty_grid_says_why(make_grid: MakeGrid, qtbot: QtBot) -> None:
    view, _ = make_grid([])
    view.show()
    qtbot.waitExposed(view)
    blank = view.grab().toImage()
    view.set_placeholder_text("No duplicates in this folder.")
    assert view.grab().toImage() != blank


def test_selected_paths_are_in_grid_order(make_grid: MakeGrid, qtbot: QtBot, tmp_path: Path) -> None:
    items = _jpegs(tmp_path, 6)
    view, _ = make_grid(items)
    view.show()
    model = _model(view)
    for row in (4, 1):
        centre = view.visualRect(model.index(row, 0)).center()
        QTest.mouseClick(
            view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, centre
        )
    assert view.selected_paths() == [items[1].path, items[4].path]

    view.select_path(items[5].path)
    assert view.selected_paths() == [items[5].path]
    view.select_path("/not/in/this/grid.jpg")
    assert view.selected_paths() == [items[5].path]


def test_select_path_scrolls_to_a_row_that_batched_layout_has_not_placed_yet(
    make_grid: MakeGrid, qtbot: QtBot, tmp_path: Path
) -> None:
    photo = builders.write_jpeg(tmp_path / "photo.jpg", seed=1)
    names = [tmp_path / f"link{i:04d}.jpg" for i in range(3000)]  # hard links: real files, cheap
    for name in names:
        os.link(photo, name)
    view, _ = make_grid([])
    model = _model(view)
    view.show()
    qtbot.waitExposed(view)

    model.set_items([GridItem(str(name)) for name in names])
    view.select_path(str(names[-1]))
    last = model.index(len(names) - 1, 0)
    assert not view.visualRect(last).isValid()  # layout goes a batch per event-loop turn
    qtbot.waitUntil(lambda: view.viewport().rect().contains(view.visualRect(last)))
    assert view.currentIndex().row() == len(names) - 1


def _write_solid_jpeg(path: Path, colour: tuple[int, int, int]) -> GridItem:
    Image.new("RGB", (240, 240), colour).save(path, "JPEG", quality=95)
    return GridItem(str(path))


def _close(a: QColor, b: tuple[int, int, int], tolerance: int = 10) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip((a.red(), a.green(), a.blue()), b, strict=True))


def test_cells_are_painted_with_the_thumbnail_not_the_placeholder(
    make_grid: MakeGrid, qtbot: QtBot, tmp_path: Path
) -> None:
    colours = [(200, 30, 40), (30, 160, 60), (40, 60, 210)]
    items = [_write_solid_jpeg(tmp_path / f"solid{i}.jpg", c) for i, c in enumerate(colours)]
    view, _ = make_grid(items)
    model = _model(view)
    changed: set[int] = set()
    model.dataChanged.connect(lambda first, last, roles: changed.update(range(first.row(), last.row() + 1)))
    view.show()
    centres = [view.visualRect(model.index(r, 0)).center() for r in range(3)]

    before = view.viewport().grab().toImage()  # this first paint only queued the loads
    assert not any(_close(before.pixelColor(p), c) for p, c in zip(centres, colours, strict=True))
    qtbot.waitUntil(lambda: changed == {0, 1, 2})
    after = view.viewport().grab().toImage()
    for point, colour in zip(centres, colours, strict=True):
        assert _close(after.pixelColor(point), colour), (after.pixelColor(point).getRgb(), colour)


def test_dropped_loads_repaint_their_rows_with_one_signal(make_grid: MakeGrid, tmp_path: Path) -> None:
    """Another grid's reset drops every queued load; the rows left waiting are repainted with one
    dataChanged over their span, not one each (hundreds after a long scroll, 50 ms of UI thread)."""
    view, cache = make_grid(_jpegs(tmp_path, 30))
    model = _model(view)
    for row in (3, 7, 20):  # drawn: each gets a placeholder and a queued load
        assert not _is_thumbnail(model.data(model.index(row, 0), Qt.ItemDataRole.DecorationRole))
    changed: list[tuple[int, int, list[int]]] = []
    model.dataChanged.connect(
        lambda first, last, roles: changed.append((first.row(), last.row(), list(roles)))
    )
    cache.cancel_pending()
    assert changed == [(3, 20, [Qt.ItemDataRole.DecorationRole])]
