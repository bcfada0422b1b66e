"""Label sets in the real window, offscreen: the Labels tab, "Label As" from a grid's selection and a
whole cluster, retraining in the background, the review queue's keys, Undo, Browse by a set, and
move-by-label previewed, applied and undone byte-exactly.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from sorter_app.core.kinds import AnalysisKind, MoveMode
from sorter_app.ui.main_window import MainWindow
from sorter_app.ui.review_page import ALL_LABELLED, EMPTY
from tests import builders

from .test_window import FRAMES, LONG, make_window, open_and_wait, tree

LABELS = ("one", "two", "three")


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    win = make_window(qtbot, tmp_path)
    yield win
    win.close()


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """Three time-lapse scenes of six frames: similar within a scene."""
    folder = tmp_path / "photos"
    for scene in range(3):
        for frame in range(FRAMES):
            builders.write_frame(folder / f"s{scene}_f{frame}.jpg", seed=scene + 1, frame=frame)
    return folder


def counts(window: MainWindow) -> dict[str, int]:
    return window.session.label_sets.counts()


def trained(window: MainWindow) -> bool:
    sets = window.session.label_sets
    return not sets.training and sets.trained is not None and not window.labels._retrain.isActive()


def select_in_browse(window: MainWindow, names: list[str]) -> None:
    grid, model = window.browse.grid, window.browse.model
    selection = grid.selectionModel()
    selection.clearSelection()
    for name in names:
        row = model.row_of(f"{window.session.root}/{name}")
        assert row is not None
        selection.select(model.index(row), QItemSelectionModel.SelectionFlag.Select)


def action(menu: QMenu, text: str) -> QAction:
    found = [a for a in menu.actions() if a.text() and a.text().replace("&", "").split()[-1] == text]
    assert found, [a.text() for a in menu.actions()]
    return found[0]


def test_labelling_from_grids_and_groups_retrains_and_reviews(
    qtbot: QtBot, window: MainWindow, photos: Path, qtmodeltester: ModelTester
) -> None:
    open_and_wait(qtbot, window, photos)
    labels = window.labels
    labels._ask = lambda *a, **k: None  # type: ignore[method-assign]
    window.session.label_sets.create_set("scenes", list(LABELS))
    qtbot.waitUntil(lambda: window.session.label_sets.active == "scenes", timeout=LONG)
    window.show_tab(window.tabs.indexOf(window.browse))

    select_in_browse(window, [f"s0_f{f}.jpg" for f in range(3)])  # Ctrl+L, then the label's key
    menu = labels.selection_label_menu()  # what Ctrl+L pops up
    assert menu is not None and action(menu, "one").text() == "&1  one"
    header = menu.actions()[0]  # a popup has no title: its first line says what and which set
    assert header.text() == "Label 3 Images As (scenes)" and not header.isEnabled()
    action(menu, "one").trigger()
    qtbot.waitUntil(lambda: counts(window).get("one") == 3, timeout=LONG)

    menu = window.moves.menu_for(window.browse.grid, [f"{window.session.root}/s1_f{f}.jpg" for f in range(3)])
    label_as = next(a.menu() for a in menu.actions() if a.text().startswith("Label As"))
    assert isinstance(label_as, QMenu)
    action(label_as, "two").trigger()  # the context menu of any grid
    qtbot.waitUntil(lambda: counts(window).get("two") == 3, timeout=LONG)

    clusters = window.pages[AnalysisKind.CLUSTERS]  # a whole cluster from its list's menu
    group = next(
        row
        for row, g in enumerate(window.session.groups.grouping(AnalysisKind.CLUSTERS).groups)
        if any(p.startswith("s2_") for p in g.paths)
    )
    members = len(window.session.groups.grouping(AnalysisKind.CLUSTERS).groups[group].paths)
    clusters.select_row(group)
    menu = labels.group_label_menu(AnalysisKind.CLUSTERS)
    assert menu is not None
    group_menu = menu.actions()[0].menu()
    assert isinstance(group_menu, QMenu)
    action(group_menu, "three").trigger()
    qtbot.waitUntil(lambda: counts(window).get("three") == members, timeout=LONG)

    qtbot.waitUntil(lambda: trained(window), timeout=LONG)  # retrained in the background
    sets = window.session.label_sets
    assert sets.trained is not None and sets.trained.model is not None
    page = labels.page
    qtmodeltester.check(page.table_model)  # type: ignore[no-untyped-call]
    assert page.table_model.rowCount() == 3
    assert page.table_model.index(0, 2).data() == "3"
    assert page.status.text().startswith("Estimated accuracy")

    window.show_tab(window.tabs.indexOf(labels.review))  # the review queue: Enter, then a key
    review = labels.review
    assert sets.review and review.shown == sets.review[0].path
    total = sum(counts(window).values())
    head = sets.review[0]
    QTest.keyClick(review, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: sum(counts(window).values()) == total + 1, timeout=LONG)
    assert counts(window)[head.guess] >= 1 and review.shown != head.path
    second = review.shown
    QTest.keyClick(review, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: sum(counts(window).values()) == total + 2, timeout=LONG)
    assert "Label 1 Image “two”" in window.window_actions.undo.text() and review.shown != second
    window.window_actions.undo.trigger()  # the wrong key undone: that image is asked again
    qtbot.waitUntil(lambda: sum(counts(window).values()) == total + 1, timeout=LONG)
    assert review.shown == second
    qtbot.waitUntil(lambda: trained(window), timeout=LONG)
    assert "images labelled" in review.progress.text()


def test_browse_by_a_set_and_move_by_label_undone_byte_exactly(
    qtbot: QtBot, window: MainWindow, photos: Path
) -> None:
    open_and_wait(qtbot, window, photos)
    before = tree(photos)
    sets = window.session.label_sets
    sets.create_set("scenes", ["one", "two"])
    qtbot.waitUntil(lambda: sets.active == "scenes", timeout=LONG)
    window.session.image_labels.label([f"s0_f{f}.jpg" for f in range(FRAMES)], "one")
    window.session.image_labels.label([f"s1_f{f}.jpg" for f in range(FRAMES)], "two")
    qtbot.waitUntil(lambda: counts(window) == {"one": FRAMES, "two": FRAMES}, timeout=LONG)
    qtbot.waitUntil(lambda: trained(window), timeout=LONG)

    window.labels.page.in_browse.setChecked(True)  # Browse shows and filters by the set
    box = window.browse.filter_box
    assert [box.itemData(i) for i in range(box.count())] == [None, "one", "two", "unknown"]
    box.setCurrentIndex(box.findData("one"))
    shown = {Path(p).name for p in window.browse.visible_paths()}
    assert {f"s0_f{f}.jpg" for f in range(FRAMES)} <= shown and not any(n.startswith("s1_") for n in shown)

    window.session.label_files.propose_move(
        MoveMode.MOVE, photos, 1.0
    )  # what the Move button does after its questions
    qtbot.waitUntil(
        lambda: window.moves.plan_dialog is not None and window.moves.plan_dialog.isVisible(), timeout=LONG
    )
    dialog = window.moves.plan_dialog
    assert dialog is not None
    dialog.accept()
    qtbot.waitUntil(lambda: (photos / "one" / "s0_f0.jpg").is_file(), timeout=LONG)
    qtbot.waitUntil(lambda: window.window_actions.undo.text().startswith("&Undo Move of"), timeout=LONG)
    window.window_actions.undo.trigger()
    qtbot.waitUntil(lambda: tree(photos) == before, timeout=LONG)


def test_sets_are_made_renamed_and_deleted_on_the_labels_tab(
    qtbot: QtBot, window: MainWindow, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_and_wait(qtbot, window, photos)
    page, sets = window.labels.page, window.session.label_sets
    window.show_tab(window.tabs.indexOf(page))
    assert page.status.text().startswith("No label set yet") and not page.delete_set.isEnabled()
    answers = iter(["style", "baroque, realism"])
    monkeypatch.setattr(window.labels, "_ask", lambda *a, **k: next(answers))
    page.new_set.click()
    qtbot.waitUntil(lambda: sets.current is not None and sets.current.labels == ("baroque", "realism"))
    assert page.set_box.currentText() == "style" and page.table_model.rowCount() == 2
    answers = iter(["period"])
    page.rename_set.click()
    qtbot.waitUntil(lambda: page.set_box.currentText() == "period", timeout=LONG)
    page.table.selectRow(1)
    answers = iter(["modern"])
    page.rename_label.click()
    qtbot.waitUntil(lambda: page.table_model.label_at(1) == "modern", timeout=LONG)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    page.delete_set.click()
    qtbot.waitUntil(lambda: not sets.sets and page.set_box.count() == 0, timeout=LONG)


def test_the_review_tab_picks_its_set_and_export_offers_every_set(
    qtbot: QtBot, window: MainWindow, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_and_wait(qtbot, window, photos)
    sets, labels = window.session.label_sets, window.labels
    sets.create_set("scenes", ["one", "two"])
    qtbot.waitUntil(lambda: sets.active == "scenes", timeout=LONG)
    window.session.image_labels.label([f"s0_f{f}.jpg" for f in range(2)], "one")
    window.session.image_labels.label([f"s1_f{f}.jpg" for f in range(2)], "two")
    qtbot.waitUntil(lambda: counts(window) == {"one": 2, "two": 2}, timeout=LONG)
    sets.create_set("keep", ["yes", "no"])  # the newest set is the active one
    qtbot.waitUntil(lambda: sets.active == "keep", timeout=LONG)

    review = labels.review
    window.show_tab(window.tabs.indexOf(review))
    box = review.set_box
    assert [box.itemText(i) for i in range(box.count())] == ["keep", "scenes"]
    assert box.currentText() == "keep" and review.image.message() == EMPTY
    box.setCurrentIndex(box.findData("scenes"))  # the Review tab's own picker
    qtbot.waitUntil(lambda: sets.active == "scenes" and labels.page.set_box.currentText() == "scenes")
    qtbot.waitUntil(lambda: trained(window) and review.shown is not None, timeout=LONG)
    assert review.shown == sets.review[0].path
    QTest.keyClick(review, Qt.Key.Key_1)  # the keys still reach the page, not the picker
    qtbot.waitUntil(lambda: counts(window)["one"] == 3, timeout=LONG)
    undo = window.window_actions.undo  # two sets: Undo says which one it changes
    qtbot.waitUntil(lambda: undo.text() == "&Undo Label 1 Image “one” in “scenes”", timeout=LONG)

    page = labels.page
    assert page.export_set.text() == "Only “scenes”…" and page.export_all.text() == "All 2 Sets…"
    destination = tmp_path / "out.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(destination), "CSV (*.csv)"))
    for action_, wanted in ((page.export_all, {"set:keep", "set:scenes"}), (page.export_set, {"set:scenes"})):
        destination.unlink(missing_ok=True)
        action_.trigger()
        qtbot.waitUntil(destination.is_file, timeout=LONG)
        with destination.open(newline="", encoding="utf-8") as f:
            header = next(csv.reader(f))
        assert {c for c in header if c.startswith("set:") and c.count(":") == 1} == wanted

    rest = [p for p in window.session.items if p.startswith("s2_") or p.startswith("s0_")]
    window.session.image_labels.label(rest, "one")  # every image labelled: the queue runs dry
    window.session.image_labels.label([f"s1_f{f}.jpg" for f in range(FRAMES)], "two")
    qtbot.waitUntil(lambda: sum(counts(window).values()) == 3 * FRAMES, timeout=LONG)
    qtbot.waitUntil(lambda: trained(window) and review.shown is None, timeout=LONG)
    assert review.image.message() == ALL_LABELLED.format("scenes")


def test_importing_subfolder_names_undoes_in_one_step_from_the_edit_menu(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "half sorted"
    for n, name in enumerate(("forest", "desert")):
        for f in range(3):
            builders.write_frame(folder / name / f"{f}.jpg", seed=n + 1, frame=f)
    builders.write_frame(folder / "loose.jpg", seed=3, frame=0)
    open_and_wait(qtbot, window, folder)
    sets, page = window.session.label_sets, window.labels.page
    window.show_tab(window.tabs.indexOf(page))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    monkeypatch.setattr(window.labels, "_ask", lambda *a, **k: "terrain")
    page.import_folders.click()
    qtbot.waitUntil(lambda: counts(window) == {"desert": 3, "forest": 3}, timeout=LONG)
    undo = window.window_actions.undo
    qtbot.waitUntil(lambda: undo.text() == "&Undo Import Labels from Folders", timeout=LONG)
    undo.trigger()
    qtbot.waitUntil(lambda: not sets.sets and page.set_box.count() == 0, timeout=LONG)
    assert page.status.text().startswith("No label set yet")
    window.window_actions.redo.trigger()
    qtbot.waitUntil(lambda: counts(window) == {"desert": 3, "forest": 3}, timeout=LONG)
    assert page.set_box.currentText() == "terrain"
