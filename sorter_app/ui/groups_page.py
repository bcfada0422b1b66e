"""A page of groups: clusters, outliers or seed groups (duplicates have their own, duplicates_page.py).

Left, the groups: tick the ones to act on, rename them (the name becomes the folder's), merge
several. Right, the selected group's images, each with its score where the analysis has one
(similarity to the seed, how unusual): split the selected ones out, or take them out of the group.
Above, what the analysis is doing, and its own control (analysis_controls.py). Every edit is a
session command, so Undo and Redo (Edit menu) walk them.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..core.grouping import Group
from ..core.kinds import AnalysisKind, MoveMode
from ..core.ratings import with_rating
from ..session import Changes, Session
from ..session.wording import ANALYSIS, MOVES, plural
from .analysis_controls import AnalysisControls
from .group_model import KEY_ROLE, GroupListModel
from .icons import icon
from .image_grid import GridItem, ImageGridModel, ImageGridView
from .thumbnails import ThumbnailCache

SCORE_TEXT = {AnalysisKind.OUTLIERS: "unusual {:.2f}", AnalysisKind.SEED_GROUPS: "similarity {:.2f}"}


class GroupsPage(QWidget):
    act_requested = Signal(object)  # MoveMode

    def __init__(
        self,
        session: Session,
        kind: AnalysisKind,
        thumbnails: ThumbnailCache,
        *,
        actions: tuple[MoveMode, ...] = (MoveMode.MOVE, MoveMode.COPY),
    ) -> None:
        super().__init__()
        self.session = session
        self.kind = kind
        self.groups = GroupListModel(session, kind)
        words = ANALYSIS[kind]

        self.status = QLabel(words.hint)
        self.status.setWordWrap(True)
        self.compute_button = QPushButton("Find again")
        self.compute_button.setIcon(icon("refresh"))
        self.compute_button.setToolTip(f"{words.running} again, from the stored vectors")
        self.compute_button.clicked.connect(lambda: session.analyses.compute(kind))
        header = QHBoxLayout()
        header.addWidget(self.status, 1)
        self.controls = AnalysisControls(session, kind)
        header.addWidget(self.controls)
        header.addWidget(self.compute_button)

        self.group_list = QListView()
        self.group_list.setModel(self.groups)
        self.group_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.group_list.setEditTriggers(
            QAbstractItemView.EditTrigger.EditKeyPressed | QAbstractItemView.EditTrigger.DoubleClicked
        )
        self.group_list.setUniformItemSizes(True)
        self.group_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # long names: no sideways scroll
        self.group_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.group_list.selectionModel().currentChanged.connect(lambda *_: self._show_members())
        self.group_list.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.groups.modelReset.connect(self._show_members)
        self.groups.dataChanged.connect(lambda *_: self._show_members())

        self.merge_button = self._button(
            "Merge", "Join the selected groups into the first of them", self._merge
        )
        self.rename_button = self._button(
            "Rename", "Rename the group (F2); the name becomes its folder's", self._rename
        )
        tick_all = self._button("Tick all", "Tick every group", lambda: self.groups.tick_all(True))
        tick_none = self._button("Tick none", "Untick every group", lambda: self.groups.tick_all(False))
        group_buttons = QHBoxLayout()
        for button in (self.merge_button, self.rename_button, tick_all, tick_none):
            group_buttons.addWidget(button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.group_list, 1)
        left_layout.addLayout(group_buttons)

        self.members = ImageGridModel(thumbnails)
        self.member_grid = ImageGridView()
        self.member_grid.setModel(self.members)
        self.member_grid.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.split_button = self._button(
            "Split out selected", "Make a new group of the selected images", self._split
        )
        self.drop_button = self._button(
            "Remove selected from group",
            "The images stay where they are; they just leave this group",
            self._drop,
        )
        member_buttons = QHBoxLayout()
        member_buttons.addWidget(self.split_button)
        member_buttons.addWidget(self.drop_button)
        member_buttons.addStretch(1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.member_grid, 1)
        right_layout.addLayout(member_buttons)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName(f"{kind.value}-splitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([260, 700])

        self.action_buttons: dict[MoveMode, QPushButton] = {}
        footer = QHBoxLayout()
        self.ticked_label = QLabel()
        footer.addWidget(self.ticked_label, 1)
        for mode in actions:
            button = QPushButton(MOVES[mode].act_on_groups)
            button.setIcon(
                icon("trash" if mode is MoveMode.TRASH else "move" if mode is MoveMode.MOVE else "copy")
            )
            button.clicked.connect(lambda _=False, m=mode: self.act_requested.emit(m))
            self.action_buttons[mode] = button
            footer.addWidget(button)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(footer)
        session.changed.connect(self._session_changed)
        self._update_buttons()

    def _button(self, text: str, tip: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(lambda: slot())
        return button

    # the session → the widgets ----------------------------------------------------------------------

    def _session_changed(self, changes: Changes) -> None:
        state = self.session.analyses.states[self.kind]
        if self.kind in changes.analyses or changes.folder or self.kind in changes.groupings:
            line = self.session.analyses.summary(self.kind)
            self.status.setText(line)
            self.member_grid.set_placeholder_text(
                line if state.status != "done" or not self.groups.rowCount() else "Select a group"
            )
        if self.kind in changes.groupings and self.groups.rowCount() and self.current_row() is None:
            self.select_row(0)
        elif changes.items and self.current_row() is not None:
            self._members_changed()
        self.controls.follow(changes)
        self._update_buttons()

    def current_row(self) -> int | None:
        index = self.group_list.currentIndex()
        return index.row() if index.isValid() and index.row() < self.groups.rowCount() else None

    def current_group(self) -> Group | None:
        row = self.current_row()
        return self.groups.grouping.groups[row] if row is not None else None

    def selected_rows(self) -> list[int]:
        return sorted(i.row() for i in self.group_list.selectionModel().selectedRows())

    def select_row(self, row: int) -> None:
        self.group_list.selectionModel().setCurrentIndex(
            self.groups.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect
        )

    def _members_changed(self) -> None:
        """The images' ratings (or labels) changed: the same cells, updated in place, so the
        selection stays."""
        self._show_members()

    def _show_members(self) -> None:
        group = self.current_group()
        root = self.session.root
        if group is None or root is None:
            self.members.set_items([])
        else:
            score = SCORE_TEXT.get(self.kind)
            self.members.set_items(
                [
                    GridItem(
                        path=f"{root}/{p}",
                        caption=p.rpartition("/")[2],
                        detail=with_rating(
                            self.session.rating_of(p),
                            score.format(group.scores[p]) if score and p in group.scores else "",
                        ),
                        tooltip=p,
                    )
                    for p in group.paths
                ]
            )
        self._update_buttons()

    # the widgets → the session ----------------------------------------------------------------------

    def _edit(self, edit: Callable[[], int | None]) -> None:
        """Run a group edit; one the rules refuse (a duplicate group of one) says why instead."""
        try:
            row = edit()
        except ValueError as exc:
            self.status.setText(f"Not done: {exc}")
            return
        if row is not None:
            self.select_row(row)

    def _merge(self) -> None:
        rows = self.selected_rows()
        if len(rows) >= 2:
            self._edit(lambda: self.session.groups.merge(self.kind, rows))

    def _rename(self) -> None:
        self.group_list.edit(self.group_list.currentIndex())

    def _relpaths(self, paths: list[str]) -> list[str]:
        return [self.session.relpath(p) for p in paths]

    def _split(self) -> None:
        row, chosen = self.current_row(), self.member_grid.selected_paths()
        if row is not None and chosen:
            self._edit(lambda: self.session.groups.split(self.kind, row, self._relpaths(chosen)))

    def _drop(self) -> None:
        row, chosen = self.current_row(), self.member_grid.selected_paths()
        if row is None or not chosen:
            return
        key = self.groups.index(row).data(KEY_ROLE)
        self._edit(lambda: self.session.groups.drop(self.kind, row, self._relpaths(chosen)))
        again = self.groups.row_of(key)
        if again is not None or self.groups.rowCount():
            self.select_row(again if again is not None else min(row, self.groups.rowCount() - 1))

    def _update_buttons(self) -> None:
        group = self.current_group()
        chosen = len(self.member_grid.selected_paths())
        self.merge_button.setEnabled(len(self.selected_rows()) >= 2)
        self.rename_button.setEnabled(group is not None)
        self.split_button.setEnabled(group is not None and 0 < chosen < len(group.paths))
        self.drop_button.setEnabled(chosen > 0)
        groups = self.groups.grouping.groups
        ticked = [g for g in groups if g.ticked]
        images = sum(len(g.paths) for g in ticked)
        self.ticked_label.setText(
            f"{len(ticked)} of {plural(len(groups), ANALYSIS[self.kind].noun)} ticked · "
            f"{plural(images, 'image')}"
            if groups
            else ""
        )
        for button in self.action_buttons.values():
            button.setEnabled(bool(ticked))
