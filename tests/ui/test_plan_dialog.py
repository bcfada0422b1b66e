"""The plan review dialog on a real plan made from real files: what it says is what the mover will do."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import SIGNAL, QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QDialog
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from sorter_app.core.plan import MovePlan, make_plan
from sorter_app.ui.plan_dialog import RENAMED_BACKGROUND, THUMBNAIL_SIDE, PlanPreviewDialog, PlanTableModel
from sorter_app.ui.thumbnails import ThumbnailCache
from tests import builders


@pytest.fixture
def photos(tmp_path: Path) -> dict[str, Path]:
    source = tmp_path / "dump"
    files = {name: builders.write_jpeg(source / f"{name}.jpg", seed=i) for i, name in enumerate("abc")}
    files["missing"] = source / "gone.jpg"
    return files


@pytest.fixture
def sorted_root(tmp_path: Path) -> Path:
    root = tmp_path / "sorted"
    builders.write_jpeg(root / "Kitchen" / "a.jpg", seed=9)  # already there: the plan must step around it
    return root


def _plan(photos: dict[str, Path], root: Path, mode: str = "move") -> MovePlan:
    groups = [("Kitchen", [photos["a"], photos["b"]]), ("Garden", [photos["c"], photos["missing"]])]
    return make_plan(groups, root, mode, trash_root=root.parent / "trash")  # type: ignore[arg-type]


def _cells(model: PlanTableModel, role: Qt.ItemDataRole = Qt.ItemDataRole.DisplayRole) -> list[list[object]]:
    return [
        [model.data(model.index(row, column), role) for column in range(model.columnCount())]
        for row in range(model.rowCount())
    ]


def test_every_source_is_listed_with_its_destination_or_reason(
    qtbot: QtBot, qtmodeltester: ModelTester, photos: dict[str, Path], sorted_root: Path
) -> None:
    dialog = PlanPreviewDialog(_plan(photos, sorted_root))
    qtbot.addWidget(dialog)
    qtmodeltester.check(dialog.model)  # type: ignore[no-untyped-call]

    kitchen, garden = sorted_root / "Kitchen", sorted_root / "Garden"
    assert _cells(dialog.model) == [  # shown relative to the sources' folder and the destination
        ["a.jpg", "Kitchen/a (1).jpg", "renamed: a.jpg was taken"],
        ["b.jpg", "Kitchen/b.jpg", ""],
        ["c.jpg", "Garden/c.jpg", ""],
        ["gone.jpg", "", "skipped: does not exist"],
    ]
    assert dialog.roots.text() == f"Sources in {photos['a'].parent} · destinations in {sorted_root}"
    assert _cells(dialog.model, Qt.ItemDataRole.ToolTipRole) == [
        [str(photos["a"]), str(kitchen / "a (1).jpg"), "renamed: a.jpg was taken"],
        [str(photos["b"]), str(kitchen / "b.jpg"), ""],
        [str(photos["c"]), str(garden / "c.jpg"), ""],
        [str(photos["missing"]), "", "skipped: does not exist"],
    ]
    backgrounds = [row[0] for row in _cells(dialog.model, Qt.ItemDataRole.BackgroundRole)]
    assert backgrounds == [RENAMED_BACKGROUND, None, None, None]
    assert [dialog.model.headerData(c, Qt.Orientation.Horizontal) for c in range(3)] == [
        "Source",
        "Destination",
        "Note",
    ]
    assert dialog.headline.text() == f"Move 3 files into 2 folders under {sorted_root}"
    size = sum(photos[name].stat().st_size for name in "abc")
    assert dialog.details.text() == (
        f"{size / 1000:.0f} KB in all · 1 file renamed because the name was taken · 1 file left alone"
    )


def test_apply_accepts_and_cancel_rejects(qtbot: QtBot, photos: dict[str, Path], sorted_root: Path) -> None:
    plan = _plan(photos, sorted_root)
    for button, outcome in ((0, QDialog.DialogCode.Accepted), (1, QDialog.DialogCode.Rejected)):
        dialog = PlanPreviewDialog(plan)
        qtbot.addWidget(dialog)
        dialog.show()
        if button == 0:
            assert dialog.apply_button.isEnabled() and dialog.apply_button.isDefault()
            dialog.apply_button.click()
        else:
            dialog.reject()
        assert dialog.result() == outcome
        assert dialog.plan is plan


def test_copy_and_trash_headlines(qtbot: QtBot, photos: dict[str, Path], sorted_root: Path) -> None:
    copy = PlanPreviewDialog(_plan(photos, sorted_root, "copy"))
    trash = PlanPreviewDialog(_plan(photos, sorted_root, "trash"))
    qtbot.addWidget(copy)
    qtbot.addWidget(trash)
    assert copy.headline.text() == f"Copy 3 files into 2 folders under {sorted_root}"
    assert trash.headline.text() == "Send 3 files to the trash"


def test_the_note_column_shows_only_when_a_row_has_a_note(
    qtbot: QtBot, photos: dict[str, Path], tmp_path: Path
) -> None:
    with_notes = PlanPreviewDialog(_plan(photos, tmp_path / "sorted"))
    plain = PlanPreviewDialog(make_plan([("Kitchen", [photos["a"], photos["b"]])], tmp_path / "sorted"))
    qtbot.addWidget(with_notes)
    qtbot.addWidget(plain)
    assert not with_notes.table.isColumnHidden(2)  # "skipped: does not exist"
    assert plain.table.isColumnHidden(2)


def test_a_plan_with_nothing_to_do_cannot_be_applied(
    qtbot: QtBot, qtmodeltester: ModelTester, tmp_path: Path
) -> None:
    plan = make_plan([("Kitchen", [tmp_path / "nowhere.jpg"])], tmp_path / "sorted")
    dialog = PlanPreviewDialog(plan)
    qtbot.addWidget(dialog)
    qtmodeltester.check(dialog.model)  # type: ignore[no-untyped-call]
    assert dialog.headline.text() == "Nothing to move"
    assert not dialog.apply_button.isEnabled()
    assert dialog.model.rowCount() == 1
    assert dialog.details.text() == "0 B in all · 1 file left alone"


def _pictured(model: PlanTableModel) -> list[list[bool]]:
    return [
        [isinstance(cell, QIcon) for cell in row] for row in _cells(model, Qt.ItemDataRole.DecorationRole)
    ]


def test_each_row_shows_its_picture_once_the_thumbnail_cache_has_it(
    qtbot: QtBot, qtmodeltester: ModelTester, photos: dict[str, Path], sorted_root: Path
) -> None:
    """Names alone do not say which photo goes where (IMG_0001.jpg …): each source has its thumbnail,
    asked of the window's cache only for rows painted; in a trash plan the copy kept has its own."""
    thumbnails = ThumbnailCache(max_side=64)
    dialog = PlanPreviewDialog(_plan(photos, sorted_root), thumbnails=thumbnails)
    qtbot.addWidget(dialog)
    qtmodeltester.check(dialog.model)  # type: ignore[no-untyped-call]
    dialog.show()
    assert dialog.table.iconSize() == QSize(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    sources = [[True, False, False]] * 3 + [[False, False, False]]  # gone.jpg: nothing to show, no error
    qtbot.waitUntil(lambda: _pictured(dialog.model) == sources, timeout=30_000)

    kept = {str(photos["a"]): str(photos["c"])}  # a goes, c stays in its place: both pictured
    trash = PlanPreviewDialog(
        make_plan([("dup", [photos["a"]])], sorted_root, "trash", trash_root=sorted_root.parent / "trash"),
        kept=kept,
        thumbnails=thumbnails,
    )
    qtbot.addWidget(trash)
    trash.show()
    qtbot.waitUntil(lambda: _pictured(trash.model) == [[True, True, False]], timeout=30_000)
    listening = thumbnails.receivers(SIGNAL("ready(QString)"))
    dialog.reject()
    trash.accept()  # closed either way, a preview stops listening to the cache (a review: it never did)
    assert thumbnails.receivers(SIGNAL("ready(QString)")) == listening - 2
    without = PlanPreviewDialog(_plan(photos, sorted_root))  # no cache (as in the tests above): names only
    qtbot.addWidget(without)
    assert _pictured(without.model) == [[False] * 3] * 4
