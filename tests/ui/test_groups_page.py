"""A group view, offscreen, on a session: tick, rename, merge, split, take images out — through its
buttons — and undo each; seed threshold and outlier count controls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from sorter_app.core.grouping import Group, Grouping
from sorter_app.core.kinds import AnalysisKind, MoveMode
from sorter_app.paths import bundled_model_sidecar
from sorter_app.session import Session, SyncRunner
from sorter_app.session.seeds import SeedScores
from sorter_app.session.wording import ANALYSIS
from sorter_app.ui.groups_page import GroupsPage
from sorter_app.ui.thumbnails import ThumbnailCache
from tests import builders

CLUSTERS = AnalysisKind.CLUSTERS


@pytest.fixture
def session(tmp_path: Path) -> Session:
    runner = SyncRunner(tmp_path / "data", bundled_model_sidecar(), lambda what, why: None)
    session = Session(runner, tmp_path / "data")
    session.root = tmp_path
    return session


@pytest.fixture
def page(qtbot: QtBot, tmp_path: Path, session: Session) -> GroupsPage:
    for name in ("a1", "a2", "a3", "b1", "b2", "c1"):
        builders.write_jpeg(tmp_path / f"{name}.jpg", seed=len(name) + ord(name[0]))
    cache = ThumbnailCache()
    view = GroupsPage(session, CLUSTERS, cache)
    view.cache = cache  # type: ignore[attr-defined]  # the page does not own it; keep it alive
    qtbot.addWidget(view)
    grouping = Grouping(
        CLUSTERS,
        [
            Group("cluster-1", "kitchen", ["a1.jpg", "a2.jpg", "a3.jpg"]),
            Group("cluster-2", "garden", ["b1.jpg", "b2.jpg"]),
            Group("cluster-3", "sky", ["c1.jpg"]),
        ],
    )
    session.groups.set_computed(CLUSTERS, grouping)
    view.show()
    return view


def names(page: GroupsPage) -> list[tuple[str, list[str]]]:
    return [(g.name, g.paths) for g in page.groups.grouping.groups]


def test_group_model_passes_the_model_tester(page: GroupsPage, qtmodeltester: ModelTester) -> None:
    qtmodeltester.check(page.groups)  # type: ignore[no-untyped-call]
    model = page.groups
    assert model.data(model.index(0)) == "kitchen · 3"
    assert model.data(model.index(0), Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked


def test_tick_and_rename_change_the_grouping(page: GroupsPage) -> None:
    model = page.groups
    assert not page.action_buttons[MoveMode.MOVE].isEnabled()
    assert model.setData(model.index(1), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    assert page.groups.grouping.groups[1].ticked and page.action_buttons[MoveMode.MOVE].isEnabled()
    assert page.ticked_label.text() == "1 of 3 clusters ticked · 2 images"
    assert model.setData(model.index(1), "Garden party", Qt.ItemDataRole.EditRole)
    assert model.data(model.index(1)) == "Garden party · 2"
    assert not model.setData(model.index(1), "   ", Qt.ItemDataRole.EditRole)  # a folder needs a name
    assert page.groups.grouping.groups[1].name == "Garden party"
    page.session.groups.undo()  # a rename is undone like any edit; the tick is not an edit
    assert model.data(model.index(1)) == "garden · 2" and page.groups.grouping.groups[1].ticked


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
    assert page.groups.data(page.groups.index(0)) == "kitchen · 4"  # the count follows the merge
    assert page.session.groups.undo_text() == "Merge of 2 groups into “kitchen”"
    page.session.groups.undo()
    assert [n for n, _ in names(page)] == ["kitchen", "garden", "sky"]
    page.session.groups.redo()
    assert [n for n, _ in names(page)] == ["kitchen", "garden"]


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
    assert "a1.jpg" not in {p for g in page.groups.grouping.groups for p in g.paths}


def test_the_action_buttons_ask_the_window(qtbot: QtBot, page: GroupsPage) -> None:
    page.groups.tick_all(True)
    with qtbot.waitSignal(page.act_requested) as asked:
        page.action_buttons[MoveMode.COPY].click()
    assert asked.args == [MoveMode.COPY]
    page.groups.tick_all(False)
    assert not page.action_buttons[MoveMode.COPY].isEnabled()


def test_seed_threshold_shows_the_count_live(qtbot: QtBot, session: Session, tmp_path: Path) -> None:
    page = GroupsPage(session, AnalysisKind.SEED_GROUPS, ThumbnailCache())
    qtbot.addWidget(page)
    session.analyses.seed_scores = SeedScores(
        ["s.jpg"],
        ["a.jpg", "b.jpg", "c.jpg"],
        np.zeros(3, np.int64),
        np.array([0.9, 0.6, 0.3], np.float32),
        [[]],
    )
    page.controls.threshold.setValue(40)
    assert page.controls.threshold_label.text() == "0.40 → 3 images"  # the seed and two members
    page.controls.threshold.setValue(80)
    assert page.controls.threshold_label.text() == "0.80 → 2 images"
    group = session.groups.grouping(AnalysisKind.SEED_GROUPS).groups[0]
    assert group.paths == ["s.jpg", "a.jpg"]
    page.select_row(0)
    assert [i.detail for i in page.members.items()] == ["similarity 1.00", "similarity 0.90"]


def test_an_empty_page_says_why(qtbot: QtBot, session: Session) -> None:
    page = GroupsPage(session, AnalysisKind.SEED_GROUPS, ThumbnailCache())
    qtbot.addWidget(page)
    session.analyses.compute(AnalysisKind.SEED_GROUPS)  # no folder indexed: nothing happens
    session.analyses._state(AnalysisKind.SEED_GROUPS, "done", ANALYSIS[AnalysisKind.SEED_GROUPS].empty)
    said = ANALYSIS[AnalysisKind.SEED_GROUPS].empty
    assert said.startswith("No seeds yet.")
    assert page.status.text() == said and page.member_grid.placeholder_text == said
