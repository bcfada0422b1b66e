"""The real window, offscreen, driven the way a user drives it, with the files on disk checked.

Open a folder built in tmp_path, wait for indexing, ask for similar images, pick clusters, preview
and apply a move, undo it; trash duplicates; correct a prediction and export; draw the map; view
images full size; and each defect of issue #13 §2 that a window test can hold.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, QMimeData, QPointF, QStandardPaths, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog, QLabel, QMenu, QTableWidget
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from sorter_app.core.browse import BrowseFilter
from sorter_app.core.grouping import Group
from sorter_app.core.kinds import AnalysisKind, MoveMode
from sorter_app.paths import AppPaths
from sorter_app.ui.duplicates_page import DuplicatesPage
from sorter_app.ui.main_window import MainWindow
from sorter_app.ui.map_view import NO_FOLDER
from sorter_app.ui.settings import SettingsStore
from tests import builders

SCENES = 3
FRAMES = 6
LONG = 60_000
CLUSTERS, DUPLICATES = AnalysisKind.CLUSTERS, AnalysisKind.DUPLICATES


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` by relative path, with its content hash. A file or folder that a
    move running in the background takes away while it is listed or read is left out (the tree then
    differs from any settled one, and a `waitUntil` simply looks again)."""
    try:
        paths = sorted(folder.rglob("*"))
    except FileNotFoundError:  # a sub-folder removed while rglob walked it
        return {"": "the listing was interrupted"}
    found = {}
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            if p.is_file():
                found[p.relative_to(folder).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return found


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """Three time-lapse scenes of six frames (similar within a scene) and one truncated JPEG."""
    folder = tmp_path / "photos"
    for scene in range(SCENES):
        for frame in range(FRAMES):
            builders.write_frame(folder / f"s{scene}_f{frame}.jpg", seed=scene + 1, frame=frame)
    builders.write_truncated_jpeg(folder / "broken.jpg")
    return folder


def make_window(qtbot: QtBot, tmp_path: Path) -> MainWindow:
    win = MainWindow(AppPaths(tmp_path / "data"), settings=SettingsStore(tmp_path / "settings.ini"))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: not win.session.files.recovering, timeout=LONG)
    return win


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the trash, if a test uses it
    win = make_window(qtbot, tmp_path)
    yield win
    win.close()


def settled(window: MainWindow) -> bool:
    slots = ("list", "index", "load", "clusters", "plan")
    return not window.session.files.busy and not any(window.runner.is_running(s) for s in slots)


def open_and_wait(qtbot: QtBot, window: MainWindow, folder: Path) -> None:
    window.open_folder(folder)
    qtbot.waitUntil(lambda: window.session.report is not None and settled(window), timeout=LONG)
    qtbot.waitUntil(lambda: window.session.analyses.states[CLUSTERS].status == "done", timeout=LONG)


def found_duplicates(qtbot: QtBot, window: MainWindow) -> DuplicatesPage:
    """The duplicates tab, shown, once its search is done."""
    page = window.analyses.duplicates
    window.tabs.setCurrentWidget(page)
    qtbot.waitUntil(lambda: window.session.analyses.states[DUPLICATES].status == "done", timeout=LONG)
    return page


def show_group_holding(qtbot: QtBot, page: DuplicatesPage, relpath: str) -> tuple[int, Group]:
    """Select the group `relpath` is in; returns its row and the group once its copies are listed."""
    row = next(r for r, g in enumerate(page.groups.grouping.groups) if relpath in g.paths)
    page.select_row(row)
    group = page.groups.grouping.groups[row]
    qtbot.waitUntil(lambda: page.candidates.rowCount() == len(group.paths), timeout=LONG)
    return row, group


def test_dropping_a_folder_indexes_it_and_lists_what_was_skipped(
    qtbot: QtBot, window: MainWindow, photos: Path, qtmodeltester: ModelTester
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
    qtbot.waitUntil(lambda: window.session.report is not None and settled(window), timeout=LONG)
    report = window.session.report
    assert report is not None and (report.indexed, len(report.skipped)) == (SCENES * FRAMES, 1)
    assert window.browse.model.rowCount() == SCENES * FRAMES
    assert window.skipped_button.isVisibleTo(window) and window.skipped_button.text() == "1 file skipped"
    assert [p.relpath for p in window.session.skipped] == ["broken.jpg"]
    assert window.settings.recent_folders[0] == str(photos.resolve())
    assert SettingsStore(window.store.path).load().recent_folders[0] == str(photos.resolve())
    qtbot.waitUntil(lambda: not window.progress.isVisibleTo(window), timeout=LONG)
    qtmodeltester.check(window.browse.model)  # type: ignore[no-untyped-call]
    qtmodeltester.check(window.browse.folders.folders)  # type: ignore[no-untyped-call]


def test_reopening_an_indexed_folder_embeds_nothing(qtbot: QtBot, window: MainWindow, photos: Path) -> None:
    open_and_wait(qtbot, window, photos)
    open_and_wait(qtbot, window, photos)
    report = window.session.report
    assert report is not None and (report.indexed, report.reused) == (0, SCENES * FRAMES)


def test_a_damaged_catalog_is_set_aside_and_the_window_says_so(
    qtbot: QtBot, tmp_path: Path, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "catalog.sqlite").write_bytes(b"not a database, a damaged header " * 64)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, photos)
    report = window.session.report
    assert report is not None and report.indexed == SCENES * FRAMES  # rebuilt from the folder
    assert len(window.notices) == 1 and "catalog" in window.notices[0] and "fresh one" in window.notices[0]
    assert len(list(data.glob("catalog.sqlite.damaged-*"))) == 1  # kept for whoever wants to look
    window.close()


def test_similar_images_with_back_and_forward(qtbot: QtBot, window: MainWindow, photos: Path) -> None:
    open_and_wait(qtbot, window, photos)
    query = str(photos.resolve() / "s0_f0.jpg")
    window.show_similar(query)
    assert window.tabs.currentWidget() is window.similar
    qtbot.waitUntil(lambda: window.similar.results.rowCount() == SCENES * FRAMES - 1, timeout=LONG)
    results = window.similar.results.items()
    assert {Path(i.path).name[:2] for i in results[: FRAMES - 1]} == {"s0"}  # its own scene first
    model = window.similar.results
    assert all(model.detail_text(row).startswith("similarity ") for row in range(len(results)))

    second = results[-1].path  # another scene becomes the query
    window.similar.grid.activated_path.emit(second)
    qtbot.waitUntil(
        lambda: window.similar.history.current == second and window.similar.results.rowCount() > 0
    )
    assert Path(window.similar.results.items()[0].path).name[:2] == Path(second).name[:2]
    window.similar.back_button.click()
    assert window.similar.history.current == query
    assert window.similar.forward_button.isEnabled()


def test_move_ticked_clusters_keeps_the_groups_then_undo_and_redo(
    qtbot: QtBot, window: MainWindow, photos: Path, qtmodeltester: ModelTester
) -> None:
    open_and_wait(qtbot, window, photos)
    before = tree(photos)
    page = window.pages[CLUSTERS]
    window.tabs.setCurrentWidget(page)
    qtmodeltester.check(page.groups)  # type: ignore[no-untyped-call]
    model = page.groups
    model.setData(model.index(0), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    assert model.setData(model.index(0), "Chosen ones", Qt.ItemDataRole.EditRole)
    chosen = list(model.grouping.groups[0].paths)
    others = [(g.name, list(g.paths)) for g in model.grouping.groups[1:]]
    window.moves.choose_destination = lambda mode: photos  # type: ignore[method-assign]  # the folder dialog
    page.action_buttons[MoveMode.MOVE].click()

    qtbot.waitUntil(
        lambda: window.moves.plan_dialog is not None and window.moves.plan_dialog.isVisible(), timeout=LONG
    )
    dialog = window.moves.plan_dialog
    assert dialog is not None and dialog.model.rowCount() == len(chosen)
    qtmodeltester.check(dialog.model)  # type: ignore[no-untyped-call]
    assert "Move" in dialog.headline.text()
    assert tree(photos) == before  # the preview changes nothing
    dialog.apply_button.click()

    target = photos / "Chosen ones"
    qtbot.waitUntil(lambda: target.is_dir() and len(list(target.iterdir())) == len(chosen), timeout=LONG)
    qtbot.waitUntil(lambda: settled(window) and window.window_actions.undo.isEnabled(), timeout=LONG)
    assert (
        window.session.report is not None and window.session.report.indexed == 0
    )  # followed, not re-embedded
    # The groups are the same groups: name, members (at their new paths), the other clusters untouched.
    moved = model.grouping.groups[0]
    assert (moved.name, moved.paths) == ("Chosen ones", sorted(f"Chosen ones/{Path(p).name}" for p in chosen))
    assert [(g.name, list(g.paths)) for g in model.grouping.groups[1:]] == others
    assert window.window_actions.undo.text() == f"&Undo Move of {len(chosen)} Files"

    window.window_actions.undo.trigger()
    qtbot.waitUntil(lambda: tree(photos) == before and not target.exists() and settled(window), timeout=LONG)
    assert window.status_line.text().startswith(f"Undo finished: {len(chosen)} files put back")
    assert model.grouping.groups[0].paths == chosen and model.grouping.groups[0].name == "Chosen ones"
    window.window_actions.undo.trigger()  # the rename, made before the move
    assert model.grouping.groups[0].name != "Chosen ones"
    assert window.window_actions.redo.text().startswith("&Redo Rename")
    window.window_actions.redo.trigger()
    assert model.grouping.groups[0].name == "Chosen ones"


def test_duplicates_page_keep_compare_trash_with_kept_column_and_back(
    qtbot: QtBot, window: MainWindow, photos: Path, tmp_path: Path, qtmodeltester: ModelTester
) -> None:
    (photos / "Backup").mkdir()
    shutil.copyfile(photos / "s0_f0.jpg", photos / "Backup" / "copy_of_s0_f0.jpg")
    open_and_wait(qtbot, window, photos)
    before = tree(photos)
    page = found_duplicates(qtbot, window)
    row, group = show_group_holding(qtbot, page, "Backup/copy_of_s0_f0.jpg")
    assert group.keep != "Backup/copy_of_s0_f0.jpg" and "old" not in group.note
    qtmodeltester.check(page.candidates)  # type: ignore[no-untyped-call]
    qtbot.waitUntil(lambda: page.compare.paths is not None, timeout=LONG)
    assert page.compare.paths is not None and page.compare.paths[0].endswith(group.keep or "")

    page.groups.setData(page.groups.index(row), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    page.action_buttons[MoveMode.TRASH].click()
    qtbot.waitUntil(
        lambda: window.moves.plan_dialog is not None and window.moves.plan_dialog.isVisible(), timeout=LONG
    )
    dialog = window.moves.plan_dialog
    assert dialog is not None and dialog.model.headerData(1, Qt.Orientation.Horizontal) == "Kept instead"
    extra = [p for p in group.paths if p != group.keep]
    assert dialog.model.rowCount() == len(extra)
    kept = {dialog.model.index(r, 1).data() for r in range(dialog.model.rowCount())}
    assert kept == {group.keep}
    groups_before = [g.paths for g in page.groups.grouping.groups]
    line_before = page.status.text()
    window.session.analyses.recompute_duplicates()  # "Find again": the same groups, found anew
    qtbot.waitUntil(lambda: window.session.analyses.states[DUPLICATES].status == "done", timeout=LONG)
    chosen = page.current_group()
    assert chosen is not None
    qtbot.waitUntil(lambda: page.candidates.rowCount() == len(chosen.paths), timeout=LONG)
    dialog.apply_button.click()
    qtbot.waitUntil(lambda: not any((photos / p).exists() for p in extra), timeout=LONG)
    assert (photos / (group.keep or "")).exists()
    qtbot.waitUntil(lambda: settled(window) and window.window_actions.undo.isEnabled(), timeout=LONG)
    # A newcomer's finds: the line kept the count from before the trash, and the copies' table of
    # the group still selected stayed empty until another group was clicked.
    assert page.status.text() != line_before
    assert str(len(page.groups.grouping.groups)) in page.status.text()
    shown = page.current_group()
    assert shown is not None
    qtbot.waitUntil(lambda: page.candidates.rowCount() == len(shown.paths), timeout=LONG)
    window.window_actions.undo.trigger()
    qtbot.waitUntil(lambda: tree(photos) == before, timeout=LONG)
    qtbot.waitUntil(lambda: settled(window), timeout=LONG)
    # The group comes back with the copies Undo put back, and the line says so.
    qtbot.waitUntil(lambda: [g.paths for g in page.groups.grouping.groups] == groups_before, timeout=LONG)
    assert page.status.text() == line_before
    current = page.current_group()
    assert current is not None
    qtbot.waitUntil(lambda: page.candidates.rowCount() == len(current.paths), timeout=LONG)


def test_long_file_names_never_widen_the_window(qtbot: QtBot, window: MainWindow, photos: Path) -> None:
    """Found by a newcomer run: the duplicates' compare captions asked for the width of two whole
    paths, and the window grew past a 1600-px screen. Names with "<" and "&" are shown as text."""
    long_name = "<b>&amp;" + "_".join(f"part{i}c9101ba5e5767ae535943560e02980d3" for i in range(4)) + ".jpg"
    (photos / ("Backup_" + "x" * 80)).mkdir()
    shutil.copyfile(photos / "s0_f0.jpg", photos / ("Backup_" + "x" * 80) / long_name)
    open_and_wait(qtbot, window, photos)
    width = window.width()
    page = found_duplicates(qtbot, window)
    row = next(r for r, g in enumerate(page.groups.grouping.groups) if any(long_name in p for p in g.paths))
    page.select_row(row)
    qtbot.waitUntil(lambda: page.compare.paths is not None, timeout=LONG)
    qtbot.wait(50)  # the layout settles
    assert window.minimumSizeHint().width() < 1200 and window.width() == width
    assert long_name in page.compare.titles[1].text()
    assert page.compare.titles[1].textFormat() == Qt.TextFormat.PlainText
    kept = next(p for p in page.groups.grouping.groups[row].paths if long_name in p)
    window.session.groups.set_keep(DUPLICATES, row, kept)  # "Keep this copy": Undo names the file
    undo = window.window_actions.undo
    qtbot.waitUntil(lambda: undo.isEnabled() and "Keep" in undo.text(), timeout=LONG)
    shown = undo.text().replace("&&", "&")  # "&&" is one "&" in the menu
    assert len(shown) <= len("&Undo ") + 40 and "…" in shown
    assert undo.iconText() == "Undo" and long_name in undo.toolTip()  # the tool bar keeps its place


def test_del_trashes_the_selection_and_a_closed_context_menu_is_gone(
    qtbot: QtBot, window: MainWindow, photos: Path
) -> None:
    """Found by a newcomer run: the menu said "Move to Trash  Del" and Del did nothing; each
    right-click also left its menu behind, its shortcuts listed again in Keyboard Shortcuts."""
    open_and_wait(qtbot, window, photos)
    grid = window.browse.grid
    target = str(photos / "s1_f2.jpg")
    grid.select_path(target)
    menu = window.moves.menu_for(grid, grid.selected_paths(), browse=True)
    (clear,) = [a for a in menu.actions() if a.text() == "Clear Correction"]
    assert not clear.isEnabled()  # nothing to clear on an image never corrected
    with qtbot.waitSignal(menu.destroyed, timeout=LONG):  # closed, as after a pick or Esc
        menu.close()
    window.window_actions.shortcuts.trigger()
    dialog = window.shortcuts_dialog
    assert dialog is not None
    table = dialog.findChild(QTableWidget)
    assert table is not None
    names = [item.text() for row in range(table.rowCount()) if (item := table.item(row, 0)) is not None]
    assert "Move to Trash" not in names and "Grid: move the selected images to the trash" in names
    dialog.close()
    grid.setFocus()
    QTest.keyClick(grid, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: not Path(target).exists(), timeout=LONG)
    qtbot.waitUntil(lambda: settled(window) and window.window_actions.undo.isEnabled(), timeout=LONG)
    window.window_actions.undo.trigger()
    qtbot.waitUntil(lambda: Path(target).exists(), timeout=LONG)


def test_look_alikes_are_a_group_apart_with_nothing_to_keep_or_trash(
    qtbot: QtBot, window: MainWindow, datasets: Path, tmp_path: Path, qtmodeltester: ModelTester
) -> None:
    """Three different cloudy skies the embedding puts very close: a "similar" group whose rows say
    look-alike, compared side by side, with no copy to keep and no trash to offer."""
    folder = tmp_path / "skies"
    skies = builders.copy_look_alike_skies(datasets, folder)
    open_and_wait(qtbot, window, folder)
    page = found_duplicates(qtbot, window)
    (group,) = page.groups.grouping.groups
    assert (group.tier, group.keep, group.paths) == ("similar", None, skies)
    page.select_row(0)
    qtbot.waitUntil(lambda: page.candidates.rowCount() == len(skies), timeout=LONG)
    qtmodeltester.check(page.candidates)  # type: ignore[no-untyped-call]
    assert {page.candidates.index(r, 1).data() for r in range(len(skies))} == {"look-alike"}
    qtbot.waitUntil(lambda: page.compare.paths is not None, timeout=LONG)
    assert page.compare.paths is not None and page.compare.paths[0].endswith(skies[0])
    assert not page.keep_button.isEnabled()
    page.groups.setData(page.groups.index(0), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    assert not page.action_buttons[MoveMode.TRASH].isEnabled()


def test_correction_reaches_the_detail_pane_and_the_filter(
    qtbot: QtBot, window: MainWindow, photos: Path, tmp_path: Path
) -> None:
    open_and_wait(qtbot, window, photos)
    image = str(photos.resolve() / "s1_f2.jpg")
    browse = window.browse
    box = browse.filter_box  # filled after it was first shown: it still fits its widest label
    widest = max(box.fontMetrics().horizontalAdvance(box.itemText(i)) for i in range(box.count()))
    qtbot.waitUntil(lambda: box.width() > widest, timeout=LONG)
    browse.grid.select_path(image)
    assert browse.details.path == Path(image)
    browse.details.correction_requested.emit(image, "kitchen")
    qtbot.waitUntil(
        lambda: "Room: kitchen · corrected by you" in browse.details.predictions.text(), timeout=LONG
    )
    row = browse.model.row_of(image)  # its caption is not the one remembered for its old prediction
    assert row is not None
    qtbot.waitUntil(lambda: browse.model.detail_text(row) == "kitchen ✓", timeout=LONG)

    browse.filter_box.setCurrentIndex(browse.filter_box.findData("kitchen"))
    assert [i.path for i in browse.model.items()] == [image]
    assert browse.model.detail_text(0) == "kitchen ✓"
    browse.grid.select_path(image)
    browse.filter_box.setCurrentIndex(browse.filter_box.findData("outdoor"))  # hides it
    assert browse.details.path is None  # no stale image beside a grid that does not show it
    browse.filter_box.setCurrentIndex(0)
    assert browse.model.rowCount() == SCENES * FRAMES

    destination = tmp_path / "labels.csv"
    window.moves.export(destination, None)
    qtbot.waitUntil(destination.exists, timeout=LONG)
    rows = {Path(r["path"]).name: r for r in csv.DictReader(destination.open(encoding="utf-8"))}
    assert (rows["s1_f2.jpg"]["room"], rows["s1_f2.jpg"]["label_source"]) == ("kitchen", "corrected")


def test_ratings_from_the_keyboard_in_the_grid_and_the_viewer_shown_filtered_and_undone(
    qtbot: QtBot, window: MainWindow, photos: Path
) -> None:
    """digiKam's and Bridge's keys: Ctrl+1…5 stars, Ctrl+0 none, Alt+Del reject."""
    open_and_wait(qtbot, window, photos)
    browse, grid = window.browse, window.browse.grid
    first, second = (str(photos.resolve() / name) for name in ("s0_f1.jpg", "s2_f3.jpg"))
    grid.select_path(first)
    grid.selectionModel().select(
        browse.model.index(browse.model.row_of(second) or 0, 0), QItemSelectionModel.SelectionFlag.Select
    )
    grid.setFocus()
    QTest.keyClick(grid, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.session.items["s2_f3.jpg"].rating == 3, timeout=LONG)
    qtbot.waitUntil(lambda: browse.model.detail_text(browse.model.row_of(second) or 0).startswith("★★★ · "))
    assert grid.selected_paths() == [first, second]  # the grid's rebuild kept the selection
    assert browse.details.info["Rating"].text() == "★★★"
    assert window.session.groups.undo_text() == "Rate 2 Images ★★★"

    browse.rating_box.setCurrentIndex(browse.rating_box.findData(4))  # 4 stars or more
    assert browse.model.rowCount() == 0
    browse.rating_box.setCurrentIndex(browse.rating_box.findData(3))
    assert [i.path for i in browse.model.items()] == [first, second]
    browse.rating_box.setCurrentIndex(0)
    grid.select_paths([second], first)
    QTest.keyClick(grid, Qt.Key.Key_Delete, Qt.KeyboardModifier.AltModifier)  # reject: no file moves
    qtbot.waitUntil(lambda: window.session.items["s0_f1.jpg"].rating == -1, timeout=LONG)
    assert Path(first).exists() and browse.details.info["Rating"].text() == "rejected"
    browse.rating_box.setCurrentIndex(browse.rating_box.findData(-1))
    assert [i.path for i in browse.model.items()] == [first, second]
    browse.rating_box.setCurrentIndex(0)

    grid.select_path(first)
    QTest.keyClick(grid, Qt.Key.Key_Space)
    assert window.viewer.current == first
    QTest.keyClick(window.viewer, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)  # not 100 %
    qtbot.waitUntil(lambda: window.viewer.facts.info["Rating"].toolTip() == "★★★★★", timeout=LONG)
    assert window.viewer.image.zoom is None
    QTest.keyClick(window.viewer, Qt.Key.Key_Escape)
    window.window_actions.undo.trigger()
    qtbot.waitUntil(lambda: window.session.items["s0_f1.jpg"].rating == -1, timeout=LONG)
    window.window_actions.undo.trigger()
    qtbot.waitUntil(lambda: window.session.items["s0_f1.jpg"].rating == 3, timeout=LONG)
    menu = window.moves.menu_for(grid, [first, second], browse=True)
    (rating,) = [m for a in menu.actions() if a.text() == "Rating" and isinstance(m := a.menu(), QMenu)]
    assert [(a.text(), a.shortcut().toString(), a.isChecked()) for a in rating.actions()][2:5] == [
        ("★★", "Ctrl+2", False), ("★★★", "Ctrl+3", True), ("★★★★", "Ctrl+4", False),
    ]  # fmt: skip
    menu.close()


def test_ratings_show_in_the_similar_grid_the_cluster_members_and_the_duplicates_table(
    qtbot: QtBot, window: MainWindow, photos: Path
) -> None:
    """Stars under every thumbnail, as in digiKam, not only in Browse; updated in place when an
    image is rated, so the grid keeps its selection."""
    (photos / "Backup").mkdir()
    shutil.copyfile(photos / "s0_f0.jpg", photos / "Backup" / "copy_of_s0_f0.jpg")
    open_and_wait(qtbot, window, photos)
    query = str(photos.resolve() / "s0_f0.jpg")
    window.show_similar(query)
    model = window.similar.results
    qtbot.waitUntil(lambda: model.rowCount() > 0, timeout=LONG)
    rated = model.items()[1].path
    window.similar.grid.select_path(rated)
    window.similar.grid.setFocus()
    QTest.keyClick(window.similar.grid, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    row = model.row_of(rated) or 0
    qtbot.waitUntil(lambda: model.detail_text(row).startswith("★★★★ · similarity "), timeout=LONG)
    assert window.similar.grid.selected_paths() == [rated]
    assert not model.detail_text(0).startswith("★")

    clusters = window.pages[CLUSTERS]
    window.tabs.setCurrentWidget(clusters)
    qtbot.waitUntil(lambda: clusters.groups.rowCount() > 0, timeout=LONG)
    member = next(
        r for r, g in enumerate(clusters.groups.grouping.groups) if window.session.relpath(rated) in g.paths
    )
    clusters.select_row(member)
    cell = clusters.members.row_of(rated)
    assert cell is not None and clusters.members.detail_text(cell).startswith("★★★★")

    page = found_duplicates(qtbot, window)
    show_group_holding(qtbot, page, "Backup/copy_of_s0_f0.jpg")
    column = page.candidates.COLUMNS.index("Rating")
    copies = [
        r
        for r in range(page.candidates.rowCount())
        if page.candidates.candidate(r).relpath in ("s0_f0.jpg", "Backup/copy_of_s0_f0.jpg")
    ]

    def stars() -> list[str]:
        return [page.candidates.index(r, column).data() for r in copies]

    assert len(copies) == 2 and stars() == ["", ""]
    window.session.rate([query], 2)  # a rating follows the content: both copies
    qtbot.waitUntil(lambda: stars() == ["★★", "★★"], timeout=LONG)


def test_a_new_folder_starts_with_no_filter_and_no_old_skipped_files(
    qtbot: QtBot, window: MainWindow, photos: Path, tmp_path: Path
) -> None:
    open_and_wait(qtbot, window, photos)
    window.browse.search.setText("s1_")
    assert window.browse.model.rowCount() == FRAMES
    other = tmp_path / "other"
    builders.write_jpeg(other / "a.jpg", seed=9)
    window.open_folder(other)
    assert window.session.filter == BrowseFilter() and window.browse.search.text() == ""
    assert not window.skipped_button.isVisibleTo(window)  # the old folder's "1 file skipped" is gone
    qtbot.waitUntil(lambda: window.browse.model.rowCount() == 1, timeout=LONG)


def test_browse_sorted_by_cluster_has_headers_and_the_folder_tree_filters(
    qtbot: QtBot, window: MainWindow, photos: Path
) -> None:
    (photos / "sub").mkdir()
    shutil.move(photos / "s2_f5.jpg", photos / "sub" / "s2_f5.jpg")
    open_and_wait(qtbot, window, photos)
    browse = window.browse
    browse.sort_box.setCurrentIndex(browse.sort_box.findData("cluster"))
    headers = [i for i in browse.model.items() if i.header]
    assert headers and sum(int(h.caption.rpartition("· ")[2]) for h in headers) == SCENES * FRAMES
    under = ""
    for cell in browse.model.items():  # each image under its cluster's header, named in its tooltip
        if cell.header:
            under = cell.caption.rpartition(" · ")[0]
        else:
            assert cell.tooltip.split("\n")[1] == under
    sub = browse.folders.folders.item(0).child(0)
    browse.folders.setCurrentIndex(sub.index())
    assert [Path(i.path).name for i in browse.model.items() if not i.header] == ["s2_f5.jpg"]


def test_map_legend_lasso_stays_and_the_selection_grid(
    qtbot: QtBot, window: MainWindow, photos: Path
) -> None:
    assert window.map.map.placeholder == NO_FOLDER
    open_and_wait(qtbot, window, photos)
    window.tabs.setCurrentWidget(window.map)
    # While it is laid out, the empty map says so, not "Open a folder".
    assert window.map.map.placeholder not in ("", NO_FOLDER)
    qtbot.waitUntil(window.map.map.has_points, timeout=LONG)
    clusters = window.session.groups.grouping(CLUSTERS).groups
    numbered = [g for g in clusters if g.key != "unsorted"]
    assert window.map.legend.count() == len(numbered) + (len(numbered) < len(clusters))
    assert window.map.legend.item(0).text() == f"{numbered[0].name} · {len(numbered[0].paths)}"
    legend = window.map.legend  # one row of a few clusters: as tall as that row, not a fixed 110 px
    row = legend.visualItemRect(legend.item(0)).height()
    assert row <= legend.height() <= row + 2 * legend.frameWidth() + 2 * legend.spacing() + 2
    view = window.map.map
    w, h = view.width(), view.height()
    QTest.mousePress(view, Qt.MouseButton.LeftButton, pos=QPointF(2, 2).toPoint())
    for x, y in ((w - 2, 2), (w - 2, h - 2), (2, h - 2), (2, 2)):
        QTest.mouseMove(view, QPointF(x, y).toPoint())
    QTest.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPointF(2, 2).toPoint())
    assert len(view.selected_paths()) == SCENES * FRAMES  # every point, and they stay selected
    assert window.map.selection.rowCount() == SCENES * FRAMES
    assert all(b.isEnabled() for b in window.map.action_buttons)
    QTest.keyClick(view, Qt.Key.Key_Escape)
    assert view.selected_paths() == []


@pytest.mark.slow  # ~25 s: indexes 30 camera-sized JPEGs twice (cancelled, then resumed) on 2 cores
def test_cancel_keeps_every_image_in_view_and_resume_finishes(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "big"
    # More than a cancel at the first progress can reach: that progress comes after a batch (32),
    # and the files in flight when the cancel lands (up to 2 batches + the workers) are kept.
    images = 200
    for i in range(images):
        builders.write_jpeg(folder / f"img{i:03d}.jpg", seed=i, size=(640, 480))
    seen: list[bool] = []

    def cancel_at_first_progress(value: int) -> None:  # in the same event, not at the next poll
        if value > 0 and not seen:
            seen.append(window.progress.cancel_button.isVisibleTo(window))
            window.progress.cancel_button.click()

    window.progress.bar.valueChanged.connect(cancel_at_first_progress)
    window.open_folder(folder)
    qtbot.waitUntil(lambda: bool(seen), timeout=LONG)
    label = window.progress.label.text()
    assert seen == [True] and label.startswith(("Indexing", "Stopping")), label
    qtbot.waitUntil(lambda: window.session.report is not None and settled(window), timeout=LONG)
    report = window.session.report
    assert report is not None and report.cancelled and 0 < report.indexed < images, report
    assert window.browse.model.rowCount() == images  # the images not reached are still in Browse
    assert window.window_actions.resume.isVisible()
    window.window_actions.resume.trigger()
    qtbot.waitUntil(lambda: not window.session.indexing_incomplete and settled(window), timeout=LONG)
    assert window.session.report is not None and window.session.report.indexed == images - report.indexed


def test_the_viewer_pages_with_arrows_and_esc_returns(qtbot: QtBot, window: MainWindow, photos: Path) -> None:
    open_and_wait(qtbot, window, photos)
    grid = window.browse.grid
    first = window.browse.model.item(0).path
    grid.select_path(first)
    grid.setFocus()
    QTest.keyClick(grid, Qt.Key.Key_Space)
    assert window.stack.currentWidget() is window.viewer and window.viewer.current == first
    qtbot.waitUntil(lambda: (image := window.viewer.image.image()) is not None and image.width() == 320)
    QTest.keyClick(window.viewer, Qt.Key.Key_Right)
    second = window.browse.model.item(1).path
    assert window.viewer.current == second and window.viewer.position.text() == f"2 of {SCENES * FRAMES}"
    QTest.keyClick(window.viewer, Qt.Key.Key_1)
    assert window.viewer.image.zoom == 1.0 and window.viewer.zoom_label.text() == "100 %"
    QTest.keyClick(window.viewer, Qt.Key.Key_Escape)
    assert window.stack.currentWidget() is window.tabs
    assert grid.currentIndex().data(Qt.ItemDataRole.UserRole + 1) == second  # the grid follows


def test_the_viewer_shows_a_file_of_another_folder_without_its_facts(
    qtbot: QtBot, window: MainWindow, photos: Path, tmp_path: Path
) -> None:
    open_and_wait(qtbot, window, photos)
    elsewhere = builders.write_jpeg(tmp_path / "elsewhere" / "big.jpg", seed=9, size=(640, 480))
    window.view_images([str(elsewhere)], str(elsewhere))
    assert window.stack.currentWidget() is window.viewer and window.viewer.current == str(elsewhere)
    qtbot.waitUntil(lambda: (image := window.viewer.image.image()) is not None and image.width() == 640)


def test_the_viewer_decodes_a_screen_sized_copy_first_and_the_full_image_at_100_percent(
    qtbot: QtBot, window: MainWindow, photos: Path, tmp_path: Path
) -> None:
    """Paging through 12-MP photos decoded each at full size and kept the window's threads busy;
    a photo browser shows a screen-sized copy, and the file's pixels when the user zooms in."""
    open_and_wait(qtbot, window, photos)
    side = window.viewer.preview_side()
    big = builders.write_jpeg(tmp_path / "camera" / "big.jpg", seed=9, size=(2 * side + 400, side + 200))
    window.view_images([str(big)], str(big))
    viewer = window.viewer
    qtbot.waitUntil(lambda: (image := viewer.image.image()) is not None and image.width() > 320)
    preview = viewer.image.image()
    assert preview is not None and max(preview.width(), preview.height()) <= side
    assert viewer.facts.info["Dimensions"].text() == f"{2 * side + 400} × {side + 200}"  # the file's size
    QTest.keyClick(viewer, Qt.Key.Key_1)  # 100 %: the copy has too few pixels for it
    qtbot.waitUntil(lambda: (image := viewer.image.image()) is not None and image.width() == 2 * side + 400)
    assert viewer.image.zoom == 1.0


def test_hand_off_rename_from_the_context_menu_is_undoable(
    qtbot: QtBot, window: MainWindow, photos: Path
) -> None:
    open_and_wait(qtbot, window, photos)
    path = str(photos.resolve() / "s0_f3.jpg")
    menu = window.moves.menu_for(window.browse.grid, [path], browse=True)
    texts = [a.text() for a in menu.actions() if a.text()]
    wanted = ["View Full Size", "Show Similar Images", "Open in Default Viewer", "Show in File Manager"]
    wanted += ["Copy Path", "Rename…", "Move to Trash", "Move to Folder…", "Copy to Folder…", "Use as Seed"]
    assert set(wanted) <= set(texts)
    window.session.files.rename_file(path, "harbour.jpg")
    qtbot.waitUntil(lambda: (photos / "harbour.jpg").exists() and settled(window), timeout=LONG)
    assert "harbour.jpg" in window.session.items
    window.window_actions.undo.trigger()
    qtbot.waitUntil(lambda: (photos / "s0_f3.jpg").exists() and settled(window), timeout=LONG)


def test_native_bits_shortcuts_about_settings_key_and_remembered_geometry(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    assert window.window_actions.settings.shortcut().toString() == "Ctrl+,"
    assert not window.window_actions.open.icon().isNull()
    window.window_actions.shortcuts.trigger()
    assert window.shortcuts_dialog is not None and window.shortcuts_dialog.isVisible()
    window.shortcuts_dialog.close()
    window.window_actions.about.trigger()
    assert window.about_box is not None and "Image Sorter" in window.about_box.text()
    window.about_box.close()
    window.resize(window.minimumSizeHint().width(), 613)  # fits the offscreen screen: not clamped
    window.browse.splitter.setSizes([100, 600, 300])
    size, sizes = window.size(), window.browse.splitter.sizes()
    window.close()
    again = make_window(qtbot, tmp_path)
    assert again.size() == size
    assert again.browse.splitter.sizes() == sizes
    again.close()


def test_export_starts_in_documents_or_home_never_in_the_photo_folder(
    qtbot: QtBot, window: MainWindow, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newcomer with no Documents folder got a save dialog in the photo folder itself."""
    open_and_wait(qtbot, window, photos)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(QStandardPaths, "writableLocation", lambda _: str(home / "Documents"))
    suggested: list[str] = []

    def cancelled_dialog(parent: object, title: str, path: str, filters: str) -> tuple[str, str]:
        suggested.append(path)
        return "", ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", cancelled_dialog)
    window.moves.choose_export(None)
    assert Path(suggested[0]).parent == home  # Documents does not exist
    (home / "Documents").mkdir()
    window.moves.choose_export(None)
    assert Path(suggested[1]).parent == home / "Documents"


def test_file_operations_started_together_are_each_undoable_and_undo_twice_is_once(
    qtbot: QtBot, window: MainWindow, photos: Path
) -> None:
    """A monkey test's finds: a second trash while the first ran replaced it in its slot (the first
    became no undo step), and Undo pressed twice undid one plan twice ("already undone")."""
    open_and_wait(qtbot, window, photos)
    before = tree(photos)
    files = window.session.files
    first = [str(photos / f"s0_f{i}.jpg") for i in range(FRAMES)]
    files.trash_files(first)
    files.trash_files([str(photos / "s1_f0.jpg")])  # at once, while the first still runs
    history = window.session.groups.history
    qtbot.waitUntil(lambda: settled(window) and len(history._undo) == 2, timeout=LONG)
    errors: list[tuple[str, str]] = []
    window.session.failed.connect(errors.append)
    undo = window.window_actions.undo
    undo.trigger()
    undo.trigger()  # pressed again before the first finished: dropped, as for labels
    qtbot.waitUntil(lambda: settled(window) and len(history._undo) == 1, timeout=LONG)
    undo.trigger()
    qtbot.waitUntil(lambda: settled(window) and history.next_undo is None, timeout=LONG)
    assert tree(photos) == before and errors == []


def test_a_long_message_is_shortened_beside_the_progress_strip_and_whole_in_its_tooltip(
    qtbot: QtBot, window: MainWindow
) -> None:
    """QStatusBar's own message was cut mid-letter where the strip began, with no "…"."""
    window.resize(900, 600)
    window.progress.set_task("Training labels")
    long = "Set “photos”: 265 images labelled; labels " + ", ".join(f"label{i} ({i})" for i in range(40))
    window.session.message.emit(long)
    line = window.status_line
    qtbot.waitUntil(lambda: line.isVisible() and window.progress.isVisible(), timeout=LONG)
    shown = QLabel.text(line)  # what is drawn; text() is the whole message
    assert line.text() == line.toolTip() == long
    assert shown.endswith("…") and long.startswith(shown[:-1])
    assert line.geometry().right() < window.progress.geometry().left()
    assert line.fontMetrics().horizontalAdvance(shown) <= line.contentsRect().width()
