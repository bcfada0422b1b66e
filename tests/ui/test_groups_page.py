"""A group view, offscreen: tick, rename, merge, split, take images out — through its buttons."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from sorter_app.core.grouping import Group, Grouping
from sorter_app.ui.groups_page import GroupsPage
from sorter_app.ui.thumbnails import ThumbnailCache
from tests import builders


@pytest.fixture
def page(qtbot: QtBot, tmp_path: Path) -> GroupsPage:
    for name in ("a1", "a2", "a3", "b1", "b2", "c1"):
        builders.write_jpeg(tmp_path / f"{name}.jpg", seed=len(name) + ord(name[0]))
    cache = ThumbnailCache()
    view = GroupsPage("clusters", "Images grouped by what they show.", cache)
    view.cache = cache  # type: ignore[attr-defined]  # the page does not own it; keep it alive
    qtbot.addWidget(view)
    view.set_root(tmp_path)
    grouping = Grouping(
        "clusters",
        [
            Group("cluster-1", "kitchen", ["a1.jpg", "a2.jpg", "a3.jpg"]),
            Group("cluster-2", "garden", ["b1.jpg", "b2.jpg"]),
            Group("cluster-3", "sky", ["c1.jpg"]),
        ],
    )
    view.set_grouping(grouping, "3 clusters")
    view.show()
    return view


def names(page: GroupsPage) -> list[tuple[str, list[str]]]:
    return [(g.name, g.paths) for g in page.grouping.groups]


def test_group_model_passes_the_model_tester(page: GroupsPage, qtmodeltester: ModelTester) -> None:
    qtmodeltester.check(page.groups)  # type: ignore[no-untyped-call]
    model = page.groups
    assert model.data(model.index(0)) == "kitchen · 3"
    assert model.data(model.index(0), Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked


def test_tick_and_rename_change_the_grouping(page: GroupsPage) -> None:
    model = page.groups
    assert not page.action_buttons["move"].isEnabled()
    assert model.setData(model.index(1), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    assert page.grouping.groups[1].ticked and page.action_buttons["move"].isEnabled()
    assert page.ticked_label.text() == "1 of 3 groups ticked · 2 images"
    assert model.setData(model.index(1), "Garden party", Qt.ItemDataRole.EditRole)
    assert model.data(model.index(1)) == "Garden party · 2"
    assert not model.setData(model.index(1), "   ", Qt.ItemDataRole.EditRole)  # a folder needs a name
    assert page.grouping.groups[1].name == "Garden party"


def test_merge_the_selected_groups(page: GroupsPage) -> None:
    selection = page.group_list.selectionModel()
    selection.select(page.groups.index(0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    selection.select(page.groups.index(2), QItemSelectionModel.SelectionFlag.Select)
    assert page.merge_button.isEnabled()
    page.merge_button.click()
    assert names(page) == [
        ("kitchen", ["a1.jpg", "a2.jpg", "a3.jpg", "c1.jpg"]),
        ("garden", ["b1.jpg", "b2.jpg"]),
    ]


def test_split_out_and_remove_selected_images(qtbot: QtBot, page: GroupsPage, tmp_path: Path) -> None:
    page.select_row(0)
    assert [Path(i.path).name for i in page.members.items()] == ["a1.jpg", "a2.jpg", "a3.jpg"]
    page.member_grid.select_path(str(tmp_path / "a3.jpg"))
    assert page.split_button.isEnabled()
    page.split_button.click()
    assert names(page)[:2] == [("kitchen", ["a1.jpg", "a2.jpg"]), ("kitchen (split)", ["a3.jpg"])]
    assert page.current_row() == 1  # the new group is shown

    page.select_row(0)
    page.member_grid.select_path(str(tmp_path / "a1.jpg"))
    page.drop_button.click()
    assert names(page)[0] == ("kitchen", ["a2.jpg"])
    assert "a1.jpg" not in {p for g in page.grouping.groups for p in g.paths}


def test_the_action_buttons_ask_the_window(qtbot: QtBot, page: GroupsPage) -> None:
    page.groups.tick_all(True)
    with qtbot.waitSignal(page.act_requested) as asked:
        page.action_buttons["copy"].click()
    assert asked.args == ["copy"]
    page.groups.tick_all(False)
    assert not page.action_buttons["copy"].isEnabled()


def test_keep_this_copy_in_a_duplicate_group(qtbot: QtBot, tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        builders.write_jpeg(tmp_path / f"{name}.jpg", seed=ord(name))
    cache = ThumbnailCache()
    page = GroupsPage("duplicates", "Copies.", cache, actions=("trash",))
    qtbot.addWidget(page)
    page.set_root(tmp_path)
    group = Group("dup-1", "duplicates of a.jpg", ["a.jpg", "b.jpg", "c.jpg"], keep="a.jpg", note="largest")
    page.set_grouping(Grouping("duplicates", [group]), "1 group")
    page.show()
    assert [i.detail for i in page.members.items()] == ["keep", "", ""]
    page.member_grid.select_path(str(tmp_path / "c.jpg"))
    assert page.keep_button.isVisibleTo(page) and page.keep_button.isEnabled()
    page.keep_button.click()
    assert page.grouping.groups[0].keep == "c.jpg"
    assert [i.detail for i in page.members.items()] == ["", "", "keep"]
    assert page.groups.data(page.groups.index(0), Qt.ItemDataRole.ToolTipRole) == "keep c.jpg: chosen by you"
