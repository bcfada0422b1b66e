"""The list of groups beside a group view: names to edit, boxes to tick, counts to read.

The model is a window onto a core `Grouping`; every edit goes through the grouping's own
operations, which keep "each image in at most one group", so the view cannot break that rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from ..core.grouping import Grouping

Index = QModelIndex | QPersistentModelIndex
COUNT_ROLE = Qt.ItemDataRole.UserRole + 1


class GroupListModel(QAbstractListModel):
    def __init__(self, grouping: Grouping | None = None) -> None:
        super().__init__()
        self._grouping = grouping or Grouping("", [])

    @property
    def grouping(self) -> Grouping:
        return self._grouping

    def set_grouping(self, grouping: Grouping) -> None:
        self.beginResetModel()
        self._grouping = grouping
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt signature
        return 0 if parent.isValid() else len(self._grouping.groups)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._grouping.groups):
            return None
        group = self._grouping.groups[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{group.name} · {len(group.paths)}"
        if role == Qt.ItemDataRole.EditRole:
            return group.name
        if role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Checked if group.ticked else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole:
            return group.note or group.name
        if role == COUNT_ROLE:
            return len(group.paths)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsUserCheckable
            | Qt.ItemFlag.ItemIsEditable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if not index.isValid():
            return False
        row = index.row()
        if role == Qt.ItemDataRole.EditRole:
            try:
                self._grouping.rename(row, str(value))
            except ValueError:
                return False  # an empty name: the editor closes and the old name stays
        elif role == Qt.ItemDataRole.CheckStateRole:
            self._grouping.tick(row, Qt.CheckState(value) == Qt.CheckState.Checked)
        else:
            return False
        self.dataChanged.emit(index, index, [role, Qt.ItemDataRole.DisplayRole])
        return True

    # edits that change rows: a reset keeps this simple, and group lists are short ---------------

    def merge(self, rows: Sequence[int]) -> int:
        self.beginResetModel()
        try:
            return self._grouping.merge(list(rows))
        finally:
            self.endResetModel()

    def split(self, row: int, paths: Sequence[str]) -> int:
        self.beginResetModel()
        try:
            return self._grouping.split(row, list(paths))
        finally:
            self.endResetModel()

    def drop(self, row: int, paths: Sequence[str]) -> None:
        self.beginResetModel()
        try:
            group = self._grouping.groups[row]
            for path in paths:
                # Dropping may remove the group (emptied, or a lone duplicate): find it again each time.
                rows = [i for i, g in enumerate(self._grouping.groups) if g is group]
                if rows and path in group.paths:
                    self._grouping.drop(rows[0], path)
        finally:
            self.endResetModel()

    def tick_all(self, ticked: bool) -> None:
        for row in range(len(self._grouping.groups)):
            self._grouping.tick(row, ticked)
        if self._grouping.groups:
            self.dataChanged.emit(
                self.index(0), self.index(len(self._grouping.groups) - 1), [Qt.ItemDataRole.CheckStateRole]
            )
