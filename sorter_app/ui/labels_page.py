"""The Labels tab: the user's label sets, their labels with counts and the model's quality, and
what to do with them (import sub-folder names, review, move into folders, export).

It renders `session.label_sets` and owns no state; its buttons are wired by the controller
(labels_controller.py), which asks the questions (names, folders) and sends the commands.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..session import Changes, Session
from .column_table import rows_table
from .icons import icon
from .label_table import LabelTableModel

HINT = (
    "Label images anywhere — Browse, Similar, a cluster, a seed group, the map's loop: select them, "
    "then right-click → Label As, or Ctrl+L and the label's number. The model retrains in the "
    "background after every change."
)


def _button(text: str, tip: str, icon_name: str | None = None) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(tip)
    if icon_name:
        button.setIcon(icon(icon_name))
    return button


class LabelSetBox(QComboBox):
    """The active label set, chosen from every set: one on the Labels tab, one on the Review tab,
    both showing and choosing the session's one active set."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.setMinimumWidth(200)
        self.setToolTip("The label set you label with, review and act on")
        self.currentIndexChanged.connect(self._chosen)
        session.changed.connect(self._session_changed)
        self._session_changed(Changes(labels=True))

    def _session_changed(self, changes: Changes) -> None:
        if not (changes.labels or changes.folder):
            return
        sets = self.session.label_sets
        self.blockSignals(True)
        self.clear()
        for label_set in sets.sets:
            self.addItem(label_set.name, label_set.name)
        self.setCurrentIndex(max(0, self.findData(sets.active)))
        self.blockSignals(False)

    def _chosen(self, index: int) -> None:
        name = self.itemData(index)
        self.session.label_sets.choose(str(name) if name is not None else None)


class LabelsPage(QWidget):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.set_box = LabelSetBox(session)
        self.new_set = _button("New Set…", "A new label set: its name and labels")
        self.rename_set = _button("Rename Set…", "Rename the label set")
        self.delete_set = _button("Delete Set…", "Forget the set, its labels and every image's label of it")
        top = QHBoxLayout()
        top.addWidget(QLabel("Label set"))
        top.addWidget(self.set_box)
        for button in (self.new_set, self.rename_set, self.delete_set):
            top.addWidget(button)
        top.addStretch(1)

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.table_model = LabelTableModel(session, self)
        self.table = rows_table(self.table_model, QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setAlternatingRowColors(True)
        self.add_label = _button("Add Label…", "A new label of this set")
        self.rename_label = _button("Rename Label…", "Rename the selected label")
        self.remove_label = _button(
            "Remove Label…", "Take the selected label out of the set and off its images"
        )
        label_buttons = QHBoxLayout()
        for button in (self.add_label, self.rename_label, self.remove_label):
            label_buttons.addWidget(button)
        label_buttons.addStretch(1)

        self.in_browse = QCheckBox("Show this set in Browse")
        self.in_browse.setToolTip(
            "Browse's captions, label filter and label sort use this set instead of the model"
        )
        self.in_browse.toggled.connect(session.label_sets.show_in_browse)
        self.name_clusters = _button(
            "Name Clusters by This Set",
            "Find the clusters again, named after this set's labels (edits of the clusters are lost)",
            "refresh",
        )
        self.import_folders = _button(
            "Import Sub-folder Names…",
            "Each sub-folder of a folder becomes a label, its images labelled",
            "folder",
        )
        self.review = _button(
            "Review…", "The images whose label would teach the model most, one at a time", "view"
        )
        self.move_by_label = _button(
            "Move into Folders by Label…", "A folder per label; previewed first, undoable", "move"
        )
        self.export = _button(
            "Export Labels", "Labels and predictions of this folder as CSV or JSON", "export"
        )
        export_menu = QMenu(self.export)
        self.export_set = export_menu.addAction("This Set…")
        self.export_set.setToolTip("A column group for the set shown here")
        self.export_all = export_menu.addAction("All Sets…")
        self.export_all.setToolTip("A column group per label set, in one file")
        self.export.setMenu(export_menu)
        actions = QHBoxLayout()
        actions.addWidget(self.in_browse)
        for button in (self.name_clusters, self.import_folders, self.review, self.move_by_label, self.export):
            actions.addWidget(button)
        actions.addStretch(1)
        hint = QLabel(HINT)
        hint.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addLayout(label_buttons)
        layout.addLayout(actions)
        layout.addWidget(hint)
        session.changed.connect(self._session_changed)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self._session_changed(Changes(labels=True))

    def selected_label(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table_model.label_at(rows[0].row()) if rows else None

    def _session_changed(self, changes: Changes) -> None:
        if not (changes.labels or changes.folder):
            return
        sets = self.session.label_sets
        self.in_browse.blockSignals(True)
        self.in_browse.setChecked(sets.in_browse)
        self.in_browse.blockSignals(False)
        unknown = sets.predicted_counts().get("unknown", 0)
        self.status.setText(
            sets.status_text() + (f" {unknown:,} images of this folder are “unknown” now." if unknown else "")
        )
        self._update_buttons()

    def _update_buttons(self) -> None:
        sets = self.session.label_sets
        has_set, has_folder = sets.current is not None, self.session.root is not None
        for button in (self.rename_set, self.delete_set, self.add_label, self.in_browse):
            button.setEnabled(has_set)
        for button in (self.rename_label, self.remove_label):
            button.setEnabled(self.selected_label() is not None)
        for button in (self.name_clusters, self.review, self.move_by_label, self.export):
            button.setEnabled(has_set and has_folder)
        chosen, count = sets.current, len(sets.sets)
        self.export_set.setText(f"Only “{chosen.name}”…" if chosen else "This Set…")
        self.export_all.setText(f"All {count} Sets…" if count > 1 else "All Sets…")
        self.export_all.setEnabled(count > 1)
        self.import_folders.setEnabled(has_folder)
