"""The list of groups beside a group view: names to edit, boxes to tick, counts to read.

A window onto one grouping of the session: every edit is a session command (undoable, and kept
in user.sqlite where it must be), and the session's change notification resets the list, so the
counts in the rows can never go stale (as they did after a merge).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from ..core.grouping import Grouping
from ..core.kinds import AnalysisKind
from ..session import Changes, Session

Index = QModelIndex | QPersistentModelIndex
COUNT_ROLE = Qt.ItemDataRole.UserRole + 1
KEY_ROLE = Qt.ItemDataRole.UserRole + 2


class GroupListModel(QAbstractListModel):
    def __init__(self, session: Session, kind: AnalysisKind) -> None:
        super().__init__()
        self.session = session
        self.kind = kind
        self._keys: list[str] = []
        session.changed.connect(self._session_changed)

    @property
    def grouping(self) -> Grouping:
        return self.session.groups.grouping(self.kind)

    def _session_changed(self, changes: Changes) -> None:
        """The same groups (a rename, a tick, a keep): rows change in place and the selection
        stays; other groups (merge, split, a new result): the list starts over."""
        if self.kind not in changes.groupings and not changes.folder:
            return
        keys = [g.key for g in self.grouping.groups]
        if keys == self._keys and keys:
            self.dataChanged.emit(self.index(0), self.index(len(keys) - 1))
            return
        self.beginResetModel()
        self._keys = keys
        self.endResetModel()

    def row_of(self, key: str) -> int | None:
        return next((row for row, g in enumerate(self.grouping.groups) if g.key == key), None)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt signature
        return 0 if parent.isValid() else len(self.grouping.groups)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        groups = self.grouping.groups
        if not index.isValid() or not 0 <= index.row() < len(groups):
            return None
        group = groups[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            tier = f" · {group.tier}" if group.tier else ""
            return f"{group.name} · {len(group.paths)}{tier}"
        if role == Qt.ItemDataRole.EditRole:
            return group.name
        if role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Checked if group.ticked else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole:
            renamed = f"\nfound as “{group.computed_name}”" if group.renamed else ""
            return (group.note or group.name) + renamed
        if role == COUNT_ROLE:
            return len(group.paths)
        if role == KEY_ROLE:
            return group.key
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
            if not str(value).strip():
                return False  # an empty name: the editor closes and the old name stays
            self.session.groups.rename(self.kind, row, str(value))
        elif role == Qt.ItemDataRole.CheckStateRole:
            self.session.groups.tick(self.kind, [row], Qt.CheckState(value) == Qt.CheckState.Checked)
        else:
            return False
        return True

    def tick_all(self, ticked: bool) -> None:
        self.session.groups.tick(self.kind, range(len(self.grouping.groups)), ticked)
