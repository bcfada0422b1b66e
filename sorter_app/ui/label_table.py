"""The active label set's labels as a table: key, label, images labelled, predicted here, and how
well the model does on each (precision and recall from cross-validation inside the labelled images).

The model renders `session.label_sets` and owns nothing: every change of the session resets it.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from ..session import Changes, Session

COLUMNS = ("Key", "Label", "Labelled", "Predicted here", "Precision", "Recall")
_ALIGN_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_TIPS = {
    "Key": "Press it in the review queue to give this label (the first letter works too)",
    "Labelled": "Images you gave this label (by content, in every folder)",
    "Predicted here": "Images of this folder the model gives this label confidently",
    "Precision": "Of the held-out images the model called this, the share that were (cross-validation)",
    "Recall": "Of the held-out images with this label, the share the model found (cross-validation)",
}


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


class LabelTableModel(QAbstractTableModel):
    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._rows: list[tuple[str, ...]] = []
        self._labels: list[str] = []
        session.changed.connect(self._session_changed)
        self.refresh()

    def _session_changed(self, changes: Changes) -> None:
        if changes.labels or changes.folder:
            self.refresh()

    def refresh(self) -> None:
        sets = self.session.label_sets
        chosen = sets.current
        counts, predicted = sets.counts(), sets.predicted_counts()
        model = sets.trained.model if sets.trained else None
        quality = {q.label: q for q in model.per_label} if model else {}
        rows: list[tuple[str, ...]] = []
        for label in chosen.labels if chosen else ():
            q = quality.get(label)
            rows.append(
                (
                    sets.key_for(label),
                    label,
                    f"{counts.get(label, 0):,}",
                    f"{predicted.get(label, 0):,}",
                    percent(q.precision if q else None),
                    percent(q.recall if q else None),
                )
            )
        self.beginResetModel()
        self._rows = rows
        self._labels = [row[1] for row in rows]
        self.endResetModel()

    def label_at(self, row: int) -> str | None:
        return self._labels[row] if 0 <= row < len(self._labels) else None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() >= 2:
            return _ALIGN_RIGHT
        return None

    def headerData(  # noqa: N802 - Qt override
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation != Qt.Orientation.Horizontal or not (0 <= section < len(COLUMNS)):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return _TIPS.get(COLUMNS[section])
        return None
