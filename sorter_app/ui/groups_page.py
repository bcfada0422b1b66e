"""One page per kind of grouping (duplicates, clusters, outliers, seed groups, a lasso selection).

Left, the groups: tick the ones to act on, rename them (the name becomes the folder's), merge
several, split the selected images out, take images out of a group. Right, the selected group's
images. At the bottom, what can be done with the ticked groups. The page edits a core Grouping;
computing one and acting on it is the window's business, so the page only asks (signals).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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

from ..core.grouping import Grouping
from .group_model import GroupListModel
from .image_grid import GridItem, ImageGridModel, ImageGridView
from .thumbnails import ThumbnailCache

ACTION_TEXT = {
    "move": "Move ticked into folders…",
    "copy": "Copy ticked into folders…",
    "trash": "Send extra copies to the trash…",
}


class GroupsPage(QWidget):
    compute_requested = Signal()
    act_requested = Signal(str)  # "move", "copy" or "trash"
    similar_requested = Signal(str)  # absolute path

    def __init__(
        self,
        kind: str,
        hint: str,
        thumbnails: ThumbnailCache,
        *,
        actions: tuple[str, ...] = ("move", "copy"),
        controls: QWidget | None = None,
        compute_text: str = "Find again",
    ) -> None:
        super().__init__()
        self.kind = kind
        self._root: Path | None = None
        self.groups = GroupListModel(Grouping(kind, []))

        self.status = QLabel(hint)
        self.status.setWordWrap(True)
        self.compute_button = QPushButton(compute_text)
        self.compute_button.clicked.connect(self.compute_requested)
        header = QHBoxLayout()
        header.addWidget(self.status, 1)
        if controls is not None:
            header.addWidget(controls)
        header.addWidget(self.compute_button)

        self.group_list = QListView()
        self.group_list.setModel(self.groups)
        self.group_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.group_list.setEditTriggers(
            QAbstractItemView.EditTrigger.EditKeyPressed | QAbstractItemView.EditTrigger.DoubleClicked
        )
        self.group_list.setUniformItemSizes(True)
        self.group_list.selectionModel().currentChanged.connect(lambda *_: self._show_members())
        self.group_list.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.groups.modelReset.connect(self._show_members)
        self.groups.dataChanged.connect(lambda *_: self._update_buttons())

        self.merge_button = QPushButton("Merge")
        self.merge_button.setToolTip("Join the selected groups into the first of them")
        self.merge_button.clicked.connect(self._merge)
        self.rename_button = QPushButton("Rename")
        self.rename_button.setToolTip("Rename the group (F2); the name becomes its folder's")
        self.rename_button.clicked.connect(lambda: self.group_list.edit(self.group_list.currentIndex()))
        tick_all = QPushButton("Tick all")
        tick_all.clicked.connect(lambda: self.groups.tick_all(True))
        tick_none = QPushButton("Tick none")
        tick_none.clicked.connect(lambda: self.groups.tick_all(False))
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
        self.member_grid.activated_path.connect(self.similar_requested)
        self.member_grid.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.split_button = QPushButton("Split out selected")
        self.split_button.setToolTip("Make a new group of the selected images")
        self.split_button.clicked.connect(self._split)
        self.drop_button = QPushButton("Remove selected from group")
        self.drop_button.setToolTip("The images stay where they are; they just leave this group")
        self.drop_button.clicked.connect(self._drop)
        self.keep_button = QPushButton("Keep this copy")
        self.keep_button.setToolTip("Keep the selected copy; the others are the extra copies")
        self.keep_button.clicked.connect(self._keep)
        self.keep_button.setVisible(kind == "duplicates")
        member_buttons = QHBoxLayout()
        member_buttons.addWidget(self.split_button)
        member_buttons.addWidget(self.drop_button)
        member_buttons.addWidget(self.keep_button)
        member_buttons.addStretch(1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.member_grid, 1)
        right_layout.addLayout(member_buttons)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([260, 700])

        self.action_buttons: dict[str, QPushButton] = {}
        footer = QHBoxLayout()
        self.ticked_label = QLabel()
        footer.addWidget(self.ticked_label, 1)
        for mode in actions:
            button = QPushButton(ACTION_TEXT[mode])
            button.clicked.connect(lambda _=False, m=mode: self.act_requested.emit(m))
            self.action_buttons[mode] = button
            footer.addWidget(button)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(splitter, 1)
        layout.addLayout(footer)
        self._update_buttons()

    @property
    def grouping(self) -> Grouping:
        return self.groups.grouping

    def set_root(self, root: Path | None) -> None:
        self._root = root
        self.groups.set_grouping(Grouping(self.kind, []))

    def set_grouping(self, grouping: Grouping, status: str) -> None:
        self.groups.set_grouping(grouping)
        self.status.setText(status)
        if grouping.groups:
            self.group_list.setCurrentIndex(self.groups.index(0))

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def selected_rows(self) -> list[int]:
        return sorted(i.row() for i in self.group_list.selectionModel().selectedRows())

    def current_row(self) -> int | None:
        index = self.group_list.currentIndex()
        return index.row() if index.isValid() else None

    def select_row(self, row: int) -> None:
        self.group_list.selectionModel().setCurrentIndex(
            self.groups.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect
        )

    def _relpaths(self, absolute: list[str]) -> list[str]:
        assert self._root is not None
        return [Path(p).relative_to(self._root).as_posix() for p in absolute]

    def _show_members(self) -> None:
        row = self.current_row()
        if self._root is None or row is None or row >= len(self.grouping.groups):
            self.members.set_items([])
        else:
            group = self.grouping.groups[row]
            self.members.set_items(
                [
                    GridItem(
                        path=str(self._root / p),
                        caption=Path(p).name,
                        detail="keep" if p == group.keep else "",
                        tooltip=p,
                    )
                    for p in group.paths
                ]
            )
        self._update_buttons()

    def _merge(self) -> None:
        rows = self.selected_rows()
        if len(rows) >= 2:
            self._edit(lambda: self.groups.merge(rows))

    def _split(self) -> None:
        row = self.current_row()
        chosen = self.member_grid.selected_paths()
        if row is not None and chosen:
            self._edit(lambda: self.groups.split(row, self._relpaths(chosen)))

    def _edit(self, edit: Callable[[], int]) -> None:
        """Run a grouping edit; one the rules refuse (a duplicate group of one) says why instead."""
        try:
            self.select_row(edit())
        except ValueError as exc:
            self.status.setText(f"Not done: {exc}")

    def _drop(self) -> None:
        row = self.current_row()
        chosen = self.member_grid.selected_paths()
        if row is None or not chosen:
            return
        group = self.grouping.groups[row]
        self.groups.drop(row, self._relpaths(chosen))
        rows = [i for i, g in enumerate(self.grouping.groups) if g is group]
        if rows or self.grouping.groups:
            self.select_row(rows[0] if rows else min(row, len(self.grouping.groups) - 1))

    def _keep(self) -> None:
        row = self.current_row()
        chosen = self.member_grid.selected_paths()
        if row is not None and len(chosen) == 1:
            try:
                self.grouping.set_keep(row, self._relpaths(chosen)[0])
            except ValueError as exc:
                self.status.setText(f"Not done: {exc}")
                return
            self.groups.dataChanged.emit(self.groups.index(row), self.groups.index(row))
            self._show_members()

    def _update_buttons(self) -> None:
        row = self.current_row()
        group_paths = len(self.grouping.groups[row].paths) if row is not None else 0
        chosen = len(self.member_grid.selected_paths())
        self.merge_button.setEnabled(len(self.selected_rows()) >= 2)
        self.rename_button.setEnabled(row is not None)
        self.split_button.setEnabled(0 < chosen < group_paths)
        self.drop_button.setEnabled(chosen > 0)
        self.keep_button.setEnabled(chosen == 1)
        ticked = [g for g in self.grouping.groups if g.ticked]
        images = sum(len(g.paths) for g in ticked)
        self.ticked_label.setText(
            f"{len(ticked)} of {len(self.grouping.groups)} groups ticked · {images} images"
            if self.grouping.groups
            else ""
        )
        for button in self.action_buttons.values():
            button.setEnabled(bool(ticked))
