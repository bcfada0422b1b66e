"""The real window, offscreen, driven the way a user drives it, with the files on disk checked.

Open a folder built in tmp_path, wait for indexing, ask for similar images, pick clusters, preview
and apply a move, undo it; trash duplicates; correct a prediction and export; draw the map.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from pytestqt.qtbot import QtBot

from sorter_app.paths import AppPaths
from sorter_app.ui.main_window import MainWindow
from sorter_app.ui.settings import SettingsStore
from tests import builders

SCENES = 3
FRAMES = 6
LONG = 60_000


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` by relative path, with its content hash."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """Three time-lapse scenes of six frames (similar within a scene) and one truncated JPEG."""
    folder = tmp_path / "photos"
    for scene in range(SCENES):
        for frame in range(FRAMES):
            builders.write_frame(folder / f"s{scene}_f{frame}.jpg", seed=scene + 1, frame=frame)
    builders.write_truncated_jpeg(folder / "broken.jpg")
    return folder


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the trash, if a test uses it
    win = MainWindow(AppPaths(tmp_path / "data"), settings=SettingsStore(tmp_path / "settings.ini"))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def open_and_wait(qtbot: QtBot, window: MainWindow, folder: Path) -> None:
    window.last_report = None
    window.open_folder(folder)
    qtbot.waitUntil(lambda: window.last_report is not None, timeout=LONG)
    qtbot.waitUntil(lambda: bool(window.browse.items()) and not window.tasks.is_running("load"), timeout=LONG)


def test_dropping_a_folder_indexes_it_and_lists_what_was_skipped(
    qtbot: QtBot, window: MainWindow, photos: Path
) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photos))])
    drop = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(drop)
    qtbot.waitUntil(lambda: window.last_report is not None, timeout=LONG)
    report = window.last_report
    assert report is not None and (report.indexed, len(report.skipped)) == (SCENES * FRAMES, 1)
    qtbot.waitUntil(lambda: len(window.browse.items()) == SCENES * FRAMES, timeout=LONG)
    assert window.browse.model.rowCount() == SCENES * FRAMES
    assert window.skipped_button.isVisibleTo(window) and window.skipped_button.text() == "1 skipped"
    assert [p.relpath for p in window.skipped] == ["broken.jpg"]
    assert window.settings.recent_folders[0] == str(photos.resolve())
    assert SettingsStore(window.store.path).load().recent_folders[0] == str(photos.resolve())
    qtbot.waitUntil(lambda: not window.progress.isVisibleTo(window), timeout=LONG)


def test_reopening_an_indexed_folder_embeds_nothing(qtbot: QtBot, window: MainWindow, photos: Path) -> None:
    open_and_wait(qtbot, window, photos)
    open_and_wait(qtbot, window, photos)
    report = window.last_report
    assert report is not None and (report.indexed, report.reused) == (0, SCENES * FRAMES)


def test_similar_images_with_back_and_forward(qtbot: QtBot, window: MainWindow, photos: Path) -> None:
    open_and_wait(qtbot, window, photos)
    query = str(photos.resolve() / "s0_f0.jpg")
    window.show_similar(query)
    assert window.tabs.currentWidget() is window.similar
    qtbot.waitUntil(lambda: window.similar.results.rowCount() == SCENES * FRAMES - 1, timeout=LONG)
    results = window.similar.results.items()
    assert {Path(i.path).name[:2] for i in results[: FRAMES - 1]} == {"s0"}  # its own scene first
    assert all(i.detail.startswith("similarity ") for i in results)

    second = results[-1].path  # another scene becomes the query
    window.similar.grid.activated_path.emit(second)
    qtbot.waitUntil(
        lambda: window.similar.history.current == second and window.similar.results.rowCount() > 0
    )
    assert Path(window.similar.results.items()[0].path).name[:2] == Path(second).name[:2]
    window.similar.back_button.click()
    assert window.similar.history.current == query
    qtbot.waitUntil(
        lambda: (
            Path(window.similar.results.items()[0].path).name[:2] == "s0"
            if window.similar.results.rowCount()
            else False
        )
    )
    assert window.similar.forward_button.isEnabled()


def test_move_ticked_clusters_then_undo(qtbot: QtBot, window: MainWindow, photos: Path) -> None:
    open_and_wait(qtbot, window, photos)
    before = tree(photos)
    page = window.pages["clusters"]
    window.tabs.setCurrentWidget(page)
    qtbot.waitUntil(lambda: bool(page.grouping.groups), timeout=LONG)
    qtmodel = page.groups
    qtmodel.setData(qtmodel.index(0), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    assert qtmodel.setData(qtmodel.index(0), "Chosen ones", Qt.ItemDataRole.EditRole)
    chosen = list(page.grouping.groups[0].paths)
    window.choose_destination = lambda mode: photos  # type: ignore[method-assign]  # the folder dialog
    page.action_buttons["move"].click()

    qtbot.waitUntil(lambda: window.plan_dialog is not None and window.plan_dialog.isVisible(), timeout=LONG)
    dialog = window.plan_dialog
    assert dialog is not None and dialog.model.rowCount() == len(chosen)
    assert "Move" in dialog.headline.text()
    assert tree(photos) == before  # the preview changes nothing
    dialog.apply_button.click()

    target = photos / "Chosen ones"
    qtbot.waitUntil(lambda: target.is_dir() and len(list(target.iterdir())) == len(chosen), timeout=LONG)
    assert sorted(p.name for p in target.iterdir()) == sorted(Path(c).name for c in chosen)
    assert not any((photos / c).exists() for c in chosen)
    qtbot.waitUntil(window.undo_action.isEnabled, timeout=LONG)
    qtbot.waitUntil(lambda: window.last_report is not None, timeout=LONG)  # opened again after the move
    assert window.last_report is not None and window.last_report.indexed == 0  # followed, not re-embedded

    window.undo_action.trigger()
    # The files come back first, then undo removes the folders it made: wait for the whole undo.
    qtbot.waitUntil(lambda: tree(photos) == before and not target.exists(), timeout=LONG)
    qtbot.waitUntil(lambda: not window.undo_action.isEnabled(), timeout=LONG)


def test_duplicates_go_to_the_trash_and_come_back(
    qtbot: QtBot, window: MainWindow, photos: Path, tmp_path: Path
) -> None:
    open_and_wait(qtbot, window, photos)
    before = tree(photos)
    page = window.pages["duplicates"]
    window.tabs.setCurrentWidget(page)
    qtbot.waitUntil(lambda: bool(page.grouping.groups), timeout=LONG)
    group = page.grouping.groups[0]
    keep = group.keep
    extra = [p for p in group.paths if p != keep]
    page.groups.setData(page.groups.index(0), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    page.action_buttons["trash"].click()
    qtbot.waitUntil(lambda: window.plan_dialog is not None and window.plan_dialog.isVisible(), timeout=LONG)
    assert window.plan_dialog is not None and window.plan_dialog.model.rowCount() == len(extra)
    window.plan_dialog.apply_button.click()
    qtbot.waitUntil(lambda: not any((photos / p).exists() for p in extra), timeout=LONG)
    assert keep is not None and (photos / keep).exists()
    trashed = tmp_path / "xdg" / "Trash" / "files"
    assert sorted(p.name for p in trashed.iterdir()) == sorted(Path(p).name for p in extra)

    qtbot.waitUntil(window.undo_action.isEnabled, timeout=LONG)
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: tree(photos) == before, timeout=LONG)


def test_correct_a_prediction_filter_and_export(
    qtbot: QtBot, window: MainWindow, photos: Path, tmp_path: Path
) -> None:
    open_and_wait(qtbot, window, photos)
    image = str(photos.resolve() / "s1_f2.jpg")
    window.browse.correction_requested.emit(image, "kitchen")
    qtbot.waitUntil(
        lambda: (
            (item := window.browse.item(image)) is not None
            and item.prediction is not None
            and item.prediction.answers["room"].label == "kitchen"
        ),
        timeout=LONG,
    )
    item = window.browse.item(image)
    assert item is not None and item.prediction is not None
    assert item.prediction.answers["room"].corrected and item.prediction.answers["scene"].label == "indoor"

    browse = window.browse
    browse.filter_box.setCurrentIndex(browse.filter_box.findData("kitchen"))
    assert [i.path for i in browse.model.items()] == [image]
    assert browse.model.items()[0].detail == "kitchen ✓"
    browse.filter_box.setCurrentIndex(0)
    assert browse.model.rowCount() == SCENES * FRAMES

    destination = tmp_path / "labels.csv"
    window.export(destination)
    qtbot.waitUntil(destination.exists, timeout=LONG)
    rows = {Path(r["path"]).name: r for r in csv.DictReader(destination.open(encoding="utf-8"))}
    assert len(rows) == SCENES * FRAMES
    assert (rows["s1_f2.jpg"]["room"], rows["s1_f2.jpg"]["label_source"]) == ("kitchen", "corrected")


def test_map_lasso_opens_the_selection_as_a_grid(qtbot: QtBot, window: MainWindow, photos: Path) -> None:
    open_and_wait(qtbot, window, photos)
    window.tabs.setCurrentWidget(window.map)
    qtbot.waitUntil(window.map.map.has_points, timeout=LONG)
    paths = [Path(p).name for p in window.map.map._paths]
    assert sorted(paths) == sorted(f"s{s}_f{f}.jpg" for s in range(SCENES) for f in range(FRAMES))
    everything = ["s0_f0.jpg"]
    window.map.map.lassoed.emit(everything)
    assert [Path(i.path).name for i in window.map.selection.items()] == everything
    assert all(b.isEnabled() for b in window.map.action_buttons)


def test_cancel_keeps_what_was_indexed(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    for i in range(60):
        builders.write_jpeg(folder / f"img{i:02d}.jpg", seed=i, size=(1280, 960))
    window.open_folder(folder)
    qtbot.waitUntil(lambda: window.progress.bar.value() > 0, timeout=LONG)
    assert window.progress.label.text().startswith("Indexing") and "images/s" in window.progress.label.text()
    window.progress.cancel_button.click()
    qtbot.waitUntil(lambda: window.last_report is not None, timeout=LONG)
    report = window.last_report
    assert report is not None and report.cancelled and 0 < report.indexed < 60

    open_and_wait(qtbot, window, folder)  # the next run continues from there
    again = window.last_report
    assert again is not None and not again.cancelled
    assert (again.indexed, again.reused) == (60 - report.indexed, report.indexed)
