"""The files indexing could not use, each with a reason a user can act on.

A folder of thousands of photos may hold dozens of bad files; the list is sortable (by folder, or by
reason to see which problem is common) and can be copied as tab-separated lines into a spreadsheet,
an issue report or a shell.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..core.scan import Problem
from .column_table import ColumnTableModel

ModelIndex = QModelIndex | QPersistentModelIndex


class ProblemTableModel(ColumnTableModel):
    COLUMNS = ("File", "Reason")

    def __init__(self, problems: Sequence[Problem], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._problems = list(problems)

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else len(self._problems)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        problem = self._problems[index.row()]
        return problem.relpath if index.column() == 0 else problem.reason


class SkippedFilesDialog(QDialog):
    def __init__(
        self, problems: Sequence[Problem], parent: QWidget | None = None, *, folder: str = ""
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Skipped files")
        self.resize(760, 420)
        count = f"{len(problems):,} file{'' if len(problems) == 1 else 's'}"
        where = f" in {folder}" if folder else ""
        self.headline = QLabel(
            f"{count}{where} could not be indexed; every other image was."
            if problems
            else f"No files{where} were skipped."
        )
        self.headline.setWordWrap(True)

        self.model = ProblemTableModel(problems, self)
        self.sorted_model = QSortFilterProxyModel(self)
        self.sorted_model.setSourceModel(self.model)
        self.sorted_model.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.table = QTableView()
        self.table.setModel(self.sorted_model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = buttons.addButton("Copy list", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setEnabled(bool(problems))
        self.copy_button.clicked.connect(self.copy_list)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def copy_list(self) -> None:
        """Tab-separated lines, in the order shown: they paste into a spreadsheet as two columns."""
        model = self.sorted_model
        rows = ((model.index(row, 0).data(), model.index(row, 1).data()) for row in range(model.rowCount()))
        QGuiApplication.clipboard().setText("".join(f"{path}\t{reason}\n" for path, reason in rows))
