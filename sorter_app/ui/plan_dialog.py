"""The dry run a user reviews before any file moves: every source, where it goes, and why not.

The dialog shows a core MovePlan exactly as the mover will act on it: collisions already resolved
(a renamed file is highlighted with the name that was taken), sources left alone listed with their
reason. A trash plan shows beside each file that goes the copy that stays in its place. Nothing
here changes the plan; accepting the dialog is the user's go-ahead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from ..core.plan import MovePlan
from ..session.wording import format_size, plural
from .column_table import ColumnTableModel, rows_table
from .thumbnails import ThumbnailCache

THUMBNAIL_SIDE = 48  # a row's picture: enough to recognise a photo, small enough for many rows
# Translucent amber reads as "look here" on light and dark themes alike.
RENAMED_BACKGROUND = QColor(255, 193, 7, 70)

ModelIndex = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class PlanRow:
    source: str
    destination: str  # empty for a source the plan leaves alone
    note: str
    kind: Literal["move", "renamed", "skipped"]


def plan_rows(plan: MovePlan) -> list[PlanRow]:
    """Moves in the plan's order, then the sources it leaves alone."""
    renamed = {r.src: r for r in plan.renamed}
    rows = []
    for move in plan.moves:
        if move.src in renamed:
            note = f"renamed: {renamed[move.src].planned.name} was taken"
            rows.append(PlanRow(str(move.src), str(move.dst), note, "renamed"))
        else:
            rows.append(PlanRow(str(move.src), str(move.dst), "", "move"))
    rows += [PlanRow(str(s.src), "", f"skipped: {s.reason}", "skipped") for s in plan.skipped]
    return rows


def display_roots(plan: MovePlan) -> tuple[Path, Path]:
    """The folders the table's paths are shown relative to: where the sources are, and the
    folder the group folders are made in (the trash's files folder in trash mode). Full paths
    would be elided to the same long prefix on every row and hide the part that matters."""
    sources = [m.src.parent for m in plan.moves] + [s.src.parent for s in plan.skipped]
    source_root = Path(os.path.commonpath(sources)) if sources else Path("/")
    folders = [m.dst.parent if plan.mode == "trash" else m.dst.parent.parent for m in plan.moves]
    return source_root, Path(os.path.commonpath(folders)) if folders else Path("/")


def _shown(path: str, root: Path) -> str:
    return os.path.relpath(path, root) if path else ""


def plan_headline(plan: MovePlan) -> str:
    n = len(plan.moves)
    if plan.mode == "trash":
        return f"Send {plural(n, 'file')} to the trash" if n else "Nothing to send to the trash"
    verb = "Move" if plan.mode == "move" else "Copy"
    if not n:
        return f"Nothing to {verb.lower()}"
    folders = {m.dst.parent for m in plan.moves}
    root = Path(os.path.commonpath([folder.parent for folder in folders]))
    return f"{verb} {plural(n, 'file')} into {plural(len(folders), 'folder')} under {root}"


def plan_details(plan: MovePlan) -> str:
    parts = [f"{format_size(sum(m.size for m in plan.moves))} in all"]
    if plan.renamed:
        parts.append(f"{plural(len(plan.renamed), 'file')} renamed because the name was taken")
    if plan.skipped:
        parts.append(f"{plural(len(plan.skipped), 'file')} left alone")
    return " · ".join(parts)


class PlanTableModel(ColumnTableModel):
    COLUMNS: tuple[str, ...] = ("Source", "Destination", "Note")
    TRASH_COLUMNS = ("Goes to the trash", "Kept instead", "Note")

    def __init__(
        self,
        plan: MovePlan,
        parent: QObject | None = None,
        kept: dict[str, str] | None = None,
        thumbnails: ThumbnailCache | None = None,
    ) -> None:
        super().__init__(parent)
        self._rows = plan_rows(plan)
        self._roots = display_roots(plan)
        self._pictured: tuple[int, ...] = (0,)  # the columns whose files exist now, and show their thumbnail
        if plan.mode == "trash" and kept:  # the kept copy is shown where the trash path would be
            self.COLUMNS = self.TRASH_COLUMNS
            self._roots = (self._roots[0], self._roots[0])
            self._rows = [
                PlanRow(r.source, kept.get(r.source, "") if r.kind != "skipped" else "", r.note, r.kind)
                for r in self._rows
            ]
            self._pictured = (0, 1)
        self._thumbnails = thumbnails
        self._cells: dict[str, list[tuple[int, int]]] = {}  # path → the (row, column) cells showing it
        if thumbnails is not None:
            for i, row in enumerate(self._rows):
                for column in self._pictured:
                    self._cells.setdefault(row.destination if column else row.source, []).append((i, column))
            thumbnails.ready.connect(self._thumbnail_ready)
            thumbnails.requests_dropped.connect(self._thumbnails_dropped)

    def release_thumbnails(self) -> None:
        """Stop following the cache: the dialog is closed (it was kept connected, one more
        receiver of every thumbnail for each preview shown)."""
        if self._thumbnails is not None:
            self._thumbnails.ready.disconnect(self._thumbnail_ready)
            self._thumbnails.requests_dropped.disconnect(self._thumbnails_dropped)
            self._thumbnails, self._cells = None, {}

    def _thumbnail_ready(self, path: str) -> None:
        for row, column in self._cells.get(path, ()):
            cell = self.index(row, column)
            self.dataChanged.emit(cell, cell, [Qt.ItemDataRole.DecorationRole])

    def _thumbnails_dropped(self) -> None:
        """Another view's requests replaced ours: the rows on screen ask again as they repaint."""
        if self._rows:
            last = self.index(len(self._rows) - 1, max(self._pictured))
            self.dataChanged.emit(self.index(0, 0), last, [Qt.ItemDataRole.DecorationRole])

    @property
    def has_notes(self) -> bool:
        return any(row.note for row in self._rows)

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            source, destination = self._roots
            return (_shown(row.source, source), _shown(row.destination, destination), row.note)[
                index.column()
            ]
        if role == Qt.ItemDataRole.ToolTipRole:
            return (row.source, row.destination, row.note)[index.column()]
        if role == Qt.ItemDataRole.DecorationRole and index.column() in self._pictured and self._thumbnails:
            path = row.destination if index.column() else row.source
            pixmap = self._thumbnails.pixmap(path) if path else None  # asked only for rows painted
            return QIcon(pixmap) if pixmap is not None else None  # an icon: drawn at the view's icon size
        if role == Qt.ItemDataRole.BackgroundRole and row.kind == "renamed":
            return RENAMED_BACKGROUND
        if role == Qt.ItemDataRole.ForegroundRole and row.kind == "skipped":
            return QGuiApplication.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        return None


class PlanPreviewDialog(QDialog):
    def __init__(
        self,
        plan: MovePlan,
        parent: QWidget | None = None,
        kept: dict[str, str] | None = None,
        thumbnails: ThumbnailCache | None = None,
    ) -> None:
        super().__init__(parent)
        self.plan = plan
        self.setWindowTitle("Review before anything moves")
        self.resize(1000, 600)

        self.headline = QLabel(plan_headline(plan))
        font = QFont(self.headline.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.headline.setFont(font)
        self.headline.setWordWrap(True)
        details = plan_details(plan)
        if plan.mode == "trash" and kept:
            details += f" · {len(set(kept.values()))} kept (one per group)"
        self.details = QLabel(details)
        source_root, destination_root = display_roots(plan)
        where = "the trash" if plan.mode == "trash" else str(destination_root)
        self.roots = QLabel(f"Sources in {source_root} · destinations in {where}")
        self.roots.setWordWrap(True)

        self.model = PlanTableModel(plan, self, kept, thumbnails)
        self.finished.connect(self.model.release_thumbnails)
        self.table = rows_table(self.model, QAbstractItemView.SelectionMode.ExtendedSelection)
        if thumbnails is not None:  # each file's picture beside its name, as a file manager's list
            self.table.setIconSize(QSize(THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            rows = self.table.verticalHeader()
            rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no measuring 100,000 rows
            rows.setDefaultSectionSize(THUMBNAIL_SIDE + 6)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # keep the file names in sight
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(2, 240)
        self.table.setColumnHidden(2, not self.model.has_notes)  # no renames, no skips: room for names

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.apply_button = buttons.addButton("Apply", QDialogButtonBox.ButtonRole.AcceptRole)
        self.apply_button.setEnabled(bool(plan.moves))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.details)
        layout.addWidget(self.roots)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.apply_button.setDefault(bool(plan.moves))  # only once the button is in the dialog
