"""Duplicates you can decide in: each group's copies as rows of facts, the keeper and why, a
synchronised side-by-side compare, and one click to keep another copy or to say "not duplicates".

The facts (folder, size, resolution, date, format, camera) come from the catalog and each file's
header, read in a job for the group on screen. Every decision is a session command: undoable, and
kept in user.sqlite by content, so it holds when the folder is opened again. A folder can be made
a reference folder: its files are always the ones kept, and never go to the trash.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..core import keeper
from ..core.catalog import FileFacts
from ..core.grouping import Group
from ..core.kinds import AnalysisKind, MoveMode
from ..core.library import Library
from ..core.ratings import rating_text
from ..session import Changes, Job, Session
from ..session.wording import ANALYSIS, MOVES, format_size
from .column_table import ColumnTableModel, rows_table
from .compare_view import ComparePane
from .groups_page import GroupsPage
from .icons import icon
from .long_text import breakable
from .thumbnails import ThumbnailCache

ModelIndex = QModelIndex | QPersistentModelIndex
DUPLICATES = AnalysisKind.DUPLICATES
FOLDER_COLUMN_MAX = 220  # px: a deep folder is elided in the middle, its path in the tooltip


class CandidateModel(ColumnTableModel):
    """One row per copy of the current group: thumbnail, keep mark, and the facts that decide."""

    COLUMNS = ("", "Keep", "Name", "Folder", "Size", "Resolution", "Modified", "Format", "Camera", "Rating")

    def __init__(
        self, thumbnails: ThumbnailCache, rating_of: Callable[[str], int], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._thumbnails = thumbnails
        self._rating_of = rating_of  # relpath → the user's stars: near-duplicates may differ
        self._root = Path("/")
        self._rows: list[keeper.Candidate] = []
        self._keep: str | None = None
        thumbnails.ready.connect(self._thumbnail_ready)

    def set_candidates(self, root: Path, rows: list[keeper.Candidate], keep: str | None) -> None:
        self.beginResetModel()
        self._root, self._rows, self._keep = root, rows, keep
        self.endResetModel()

    def candidate(self, row: int) -> keeper.Candidate:
        return self._rows[row]

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        c, column = self._rows[index.row()], index.column()
        kept = c.relpath == self._keep
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return self._thumbnails.pixmap(str(self._root / c.relpath))
        if role == Qt.ItemDataRole.FontRole and kept:
            bold = QFont()
            bold.setBold(True)
            return bold
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(self._root / c.relpath)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        path = PurePosixPath(c.relpath)
        return (
            "",
            "keep" if kept else "extra copy" if self._keep is not None else "look-alike",
            path.name,
            str(path.parent) if str(path.parent) != "." else "(top)",
            format_size(c.size),
            f"{c.width} × {c.height}",
            time.strftime("%Y-%m-%d %H:%M", time.localtime(c.mtime_ns / 1e9)),
            c.format or "?",
            c.camera or "",
            rating_text(self._rating_of(c.relpath)),
        )[column]

    def ratings_changed(self) -> None:
        if self._rows:
            last = len(self.COLUMNS) - 1
            self.dataChanged.emit(self.index(0, last), self.index(len(self._rows) - 1, last))

    def _thumbnail_ready(self, path: str) -> None:
        for row, c in enumerate(self._rows):
            if str(self._root / c.relpath) == path:
                self.dataChanged.emit(
                    self.index(row, 0), self.index(row, 0), [Qt.ItemDataRole.DecorationRole]
                )


class DuplicatesPage(GroupsPage):
    act_on_selection = Signal(list)  # absolute paths: the context menu's hand-off

    def __init__(self, session: Session, thumbnails: ThumbnailCache) -> None:
        super().__init__(session, DUPLICATES, thumbnails, actions=(MoveMode.TRASH, MoveMode.MOVE))
        self.candidates = CandidateModel(thumbnails, session.rating_of, self)
        self.table = rows_table(self.candidates, QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setIconSize(QSize(56, 56))
        self.table.verticalHeader().setDefaultSectionSize(62)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(0, 64)
        # Name takes what the facts leave; Folder is as wide as its longest entry up to a limit
        # (mostly "(top)": sharing the width cut names needlessly). Long names and folders are
        # elided in the middle, and the tooltip has the path.
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Interactive)
        self.candidates.modelReset.connect(self._fit_folder_column)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._compare_current())
        self.table.doubleClicked.connect(lambda _: self._keep())
        self.why = QLabel()
        self.why.setWordWrap(True)
        self.keep_button = self._button(
            "Keep this copy", "Keep the selected copy; the others are extra", self._keep
        )
        self.keep_button.setIcon(icon("keep"))
        self.dismiss_button = self._button(
            "Not duplicates",
            "These are different pictures: never offer them as duplicates again",
            self._dismiss,
        )
        self.dismiss_button.setIcon(icon("dismiss"))
        self.reference_button = self._button(
            "Always keep this folder",
            "Make the selected copy's folder a reference folder: its files are the originals, never trashed",
            self._toggle_reference,
        )
        buttons = QHBoxLayout()
        for button in (self.keep_button, self.dismiss_button, self.reference_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.compare = ComparePane()
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addWidget(self.why)
        upper_layout.addWidget(self.table, 1)
        upper_layout.addLayout(buttons)
        self.right = QSplitter(Qt.Orientation.Vertical)
        self.right.setObjectName("duplicates-right-splitter")
        self.right.addWidget(upper)
        self.right.addWidget(self.compare)
        self.right.setSizes([400, 300])  # a group's five copies without scrolling
        # The copies' table and the compare take the place of the plain member grid.
        self._member_panel = self.splitter.replaceWidget(1, self.right)  # kept: the base class reads it
        if self._member_panel is not None:
            self._member_panel.hide()
        self.split_button.setParent(None)
        self.drop_button.setParent(None)
        self._loaded_key: tuple[str, ...] = ()

    def _fit_folder_column(self) -> None:
        """As wide as its entries and its title ("(top)" is narrower than "Folder"), up to a limit."""
        header = self.table.horizontalHeader()
        widest = max(self.table.sizeHintForColumn(3), header.sectionSizeFromContents(3).width())
        header.resizeSection(3, min(FOLDER_COLUMN_MAX, widest))

    def _show_members(self) -> None:
        """The current group's copies: facts read in a job, the compare of keeper and another."""
        group = self.current_group()
        root = self.session.root
        if group is None or root is None:
            self.candidates.set_candidates(Path("/"), [], None)
            self._loaded_key = ()  # emptied: the same group selected again must load its copies again
            self.why.setText("")
            self.compare.clear()
            self._update_buttons()
            return
        self.why.setText(  # rich text: the note names files, which may hold "<" or "&" and need to wrap
            f"<b>{html.escape(group.tier or 'duplicate')}</b> · {html.escape(breakable(group.note))}"
        )
        key = (*group.paths, group.keep or "")
        if key != self._loaded_key:  # set when the copies arrive: a load replaced in its slot
            self._load_candidates(root, group)  # by a later one left the table empty for good
        else:
            self.candidates.set_candidates(
                root, [self.candidates.candidate(r) for r in range(self.candidates.rowCount())], group.keep
            )
        self._update_buttons()

    def _load_candidates(self, root: Path, group: Group) -> None:
        paths, keep, references = list(group.paths), group.keep, self.session.references

        def read(lib: Library, progress: object, cancelled: object) -> list[keeper.Candidate]:
            root_id = lib.catalog.root_id(root, create=False)
            facts: dict[str, FileFacts] = lib.catalog.file_facts(root_id) if root_id is not None else {}
            return keeper.candidates(
                paths, {p: facts[p] for p in paths if p in facts}, root=root, references=references
            )

        def show(found: list[keeper.Candidate]) -> None:
            current = self.current_group()
            if current is not None and current.paths == paths:
                self._loaded_key = (*paths, keep or "")
                self.candidates.set_candidates(root, found, keep)
                self.table.selectRow(next((r for r, c in enumerate(found) if c.relpath != keep), 0))
                self._compare_current()

        self.session.run(Job("candidates", read, show))

    def _selected(self) -> keeper.Candidate | None:
        index = self.table.currentIndex()
        return self.candidates.candidate(index.row()) if index.isValid() else None

    def _compare_current(self) -> None:
        group, chosen, root = self.current_group(), self._selected(), self.session.root
        if group is None or chosen is None or root is None:
            self.compare.clear()
        elif group.keep is None:  # look-alikes: the first against the chosen one (or the second)
            first = group.paths[0]
            other = chosen.relpath if chosen.relpath != first else group.paths[1]
            self.compare.compare(str(root / first), str(root / other), first, other)
        else:
            other = (
                chosen.relpath
                if chosen.relpath != group.keep
                else next(p for p in group.paths if p != group.keep)
            )
            self.compare.compare(
                str(root / group.keep), str(root / other), f"kept: {group.keep}", f"extra copy: {other}"
            )
        self._update_buttons()

    def _keep(self) -> None:
        row, chosen, group = self.current_row(), self._selected(), self.current_group()
        if row is not None and chosen is not None and group is not None and group.keep is not None:
            self.session.groups.set_keep(DUPLICATES, row, chosen.relpath)

    def _dismiss(self) -> None:
        row = self.current_row()
        if row is not None:
            self.session.groups.dismiss(DUPLICATES, row)
            if self.groups.rowCount():
                self.select_row(min(row, self.groups.rowCount() - 1))

    def _toggle_reference(self) -> None:
        chosen, root = self._selected(), self.session.root
        if chosen is None or root is None:
            return
        folder = str((root / chosen.relpath).parent)
        self.session.set_reference_folder(folder, folder not in self.session.reference_folders)

    def _session_changed(self, changes: Changes) -> None:
        super()._session_changed(changes)
        if changes.folder:
            self._loaded_key = ()

    def _members_changed(self) -> None:
        self.candidates.ratings_changed()  # a reload would reset the table and read every header again

    def _update_buttons(self) -> None:
        super()._update_buttons()
        if not hasattr(self, "keep_button"):
            return
        group, chosen, root = self.current_group(), self._selected(), self.session.root
        self.keep_button.setEnabled(
            chosen is not None
            and group is not None
            and group.keep is not None
            and chosen.relpath != group.keep
        )
        self.dismiss_button.setEnabled(group is not None)
        self.reference_button.setEnabled(chosen is not None)
        if chosen is not None and root is not None:
            folder = str((root / chosen.relpath).parent)
            is_reference = folder in self.session.reference_folders
            self.reference_button.setText(
                "Stop always keeping this folder" if is_reference else "Always keep this folder"
            )
        trashable = [g for g in self.groups.grouping.groups if g.ticked and g.tier != "similar"]
        self.action_buttons[MoveMode.TRASH].setEnabled(bool(trashable))
        self.action_buttons[MoveMode.TRASH].setToolTip(
            f"{MOVES[MoveMode.TRASH].act_on_groups} Each ticked group keeps its kept copy and every "
            "file in a reference folder; look-alike (“similar”) groups are never sent to the trash."
        )
        self.status.setToolTip(ANALYSIS[DUPLICATES].hint)
