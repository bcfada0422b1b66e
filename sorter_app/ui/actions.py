"""The window's menus and toolbar, Help → Keyboard Shortcuts and About.

Every command the user can reach by menu is one QAction here, with its icon, shortcut and
tooltip, so the toolbar, the menus and the shortcuts list can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from .. import __version__
from ..session import Changes
from .icons import icon
from .long_text import action_text, shortened
from .rating_keys import REJECT_KEYS

UNDO_TEXT_LIMIT = 40  # characters of what Undo/Redo would do, in the menu and tool bar

if TYPE_CHECKING:
    from .main_window import MainWindow


class WindowActions:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        w = window
        self.open = self._action("&Open Folder…", w.choose_folder, QKeySequence.StandardKey.Open, "open",
                                 "Open a folder of photos (or drop one on the window)")  # fmt: skip
        self.export = self._action("&Export Groups and Labels…", w.export, "Ctrl+E", "export",
                                   "Write the groups shown and every label as CSV or JSON")  # fmt: skip
        self.settings = self._action("&Settings…", w.edit_settings, "Ctrl+,", "settings",
                                     "Data folder, model, thresholds, thumbnail size")  # fmt: skip
        self.quit = self._action("&Quit", w.close, QKeySequence.StandardKey.Quit)
        self.undo = self._action("&Undo", w.session.groups.undo, QKeySequence.StandardKey.Undo, "undo")
        self.redo = self._action("&Redo", w.session.groups.redo, QKeySequence.StandardKey.Redo, "redo")
        self.skipped = self._action("&Skipped Files…", w.show_skipped, None, None,
                                    "Files that could not be used, with the reason for each")  # fmt: skip
        self.resume = self._action("&Resume Indexing", w.session.resume_indexing, None, "resume",
                                   "Index the images a cancelled run did not reach")  # fmt: skip
        self.view_image = self._action("View &Full Size", w.view_current, None, "view",
                                       "The current image, large (Space, double-click)")  # fmt: skip
        self.shortcuts = self._action("&Keyboard Shortcuts", self.show_shortcuts, "Ctrl+/", "help")
        self.about = self._action("&About Image Sorter", self.show_about)
        self.tabs: list[QAction] = []

        menu = w.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.open)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addAction(self.export)
        file_menu.addSeparator()
        file_menu.addAction(self.settings)
        file_menu.addSeparator()
        file_menu.addAction(self.quit)
        edit_menu = menu.addMenu("&Edit")
        for action in (self.undo, self.redo):
            edit_menu.addAction(action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.skipped)
        edit_menu.addAction(self.resume)
        edit_menu.addSeparator()
        edit_menu.addAction(w.labels.label_selection)
        view_menu = menu.addMenu("&View")
        view_menu.addAction(self.view_image)
        view_menu.addSeparator()
        for i in range(w.tabs.count()):
            tab = self._action(w.tabs.tabText(i), partial(w.show_tab, i), f"Alt+{i + 1}")  # Ctrl: ratings
            view_menu.addAction(tab)
            self.tabs.append(tab)
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.shortcuts)
        help_menu.addAction(self.about)

        toolbar = w.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setIconSize(QSize(20, 20))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setMovable(False)
        for action in (
            self.open,
            self.undo,
            self.redo,
            self.view_image,
            self.resume,
            self.export,
            self.settings,
        ):
            toolbar.addAction(action)
        w.session.changed.connect(self._session_changed)
        self._session_changed(Changes(history=True, indexing=True))

    def _action(
        self,
        text: str,
        slot: Callable[[], object],
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
        icon_name: str | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if icon_name is not None:
            action.setIcon(icon(icon_name))
        plain = text.replace("&", "").rstrip("…")
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip or plain}" + (f" ({keys})" if keys else ""))
        action.setStatusTip(tip or plain)
        action.triggered.connect(lambda _=False: slot())
        return action

    def _session_changed(self, changes: Changes) -> None:
        session = self.window.session
        if changes.history:
            undo, redo = session.groups.undo_text(), session.groups.redo_text()
            self.undo.setEnabled(undo is not None)
            # The Edit menu says what is undone, shortened (it may name a file); the tool bar says
            # only "Undo" and "Redo", so its buttons keep their place whatever is undone (they
            # moved with every change), and the tooltip says it whole. Qt would derive the tool
            # bar's text from the menu's by deleting every "…".
            for action, verb, what in ((self.undo, "Undo", undo), (self.redo, "Redo", redo)):
                short = shortened(what, UNDO_TEXT_LIMIT) if what else ""
                action.setText(f"&{verb} {action_text(short)}" if what else f"&{verb}")
                action.setIconText(verb)
            self.undo.setToolTip(f"Undo {undo}" if undo else "Nothing to undo")
            self.redo.setEnabled(redo is not None)
            self.redo.setToolTip(f"Redo {redo}" if redo else "Nothing to redo")
        if changes.indexing or changes.folder:
            self.resume.setVisible(session.indexing_incomplete)
            self.resume.setEnabled(session.indexing_incomplete)
        self.export.setEnabled(session.root is not None)

    def show_shortcuts(self) -> None:
        """Every action with a shortcut, plus the keys the grids and the viewer understand."""
        named = {self.undo: "Undo", self.redo: "Redo"}  # not what they would undo now
        native = QKeySequence.SequenceFormat.NativeText
        delete_keys = QKeySequence(QKeySequence.StandardKey.Delete).toString(native)
        rows = [
            (named.get(a, a.text().replace("&", "")), a.shortcut().toString(native))
            for a in self.window.findChildren(QAction)
            if not a.shortcut().isEmpty() and a.text()
        ]
        rows += [
            ("Grid: similar images of the current one", "Enter"),
            ("Grid: view full size", "Space or double-click"),
            ("Grid: zoom thumbnails", "Ctrl+= / Ctrl+- or Ctrl+wheel"),
            ("Grid: move the selected images to the trash", delete_keys),
            ("Grid and viewer: rate 1–5 stars, no rating", "Ctrl+1 … Ctrl+5, Ctrl+0"),
            ("Grid and viewer: reject", REJECT_KEYS),
            ("Viewer: next / previous image", "→ / ←"),
            ("Viewer: fit / 100 %", "F / 1"),
            ("Viewer: back to the grid", "Esc"),
            ("Groups: rename", "F2"),
            ("Similar: back / forward", "Alt+← / Alt+→"),
            ("Map: clear the selection", "Esc"),
            ("Review: accept the model's best guess", "Enter"),
            ("Review: give a label", "1–9 or the label's first letter"),
            ("Review: skip the image for now", "Space"),
        ]
        rows = sorted(set(rows))  # an action in a menu and a tool bar is one row
        dialog = QDialog(self.window)
        dialog.setWindowTitle("Keyboard Shortcuts")
        table = QTableWidget(len(rows), 2)
        table.setHorizontalHeaderLabels(["Action", "Keys"])
        table.verticalHeader().setVisible(False)
        for row, (text, keys) in enumerate(rows):
            table.setItem(row, 0, QTableWidgetItem(text))
            table.setItem(row, 1, QTableWidgetItem(keys))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(table)
        layout.addWidget(buttons)
        dialog.resize(560, 520)
        self.window.shortcuts_dialog = dialog
        dialog.open()

    def show_about(self) -> None:
        box = QMessageBox(self.window)
        box.setWindowTitle("About Image Sorter")
        box.setIconPixmap(self.window.windowIcon().pixmap(64, 64))
        box.setText(f"<b>Image Sorter</b> {__version__}")
        box.setInformativeText(
            "Sorts folders of photos by what is in them: similar images, duplicates, clusters, "
            "outliers and labels, with every move previewed and undoable.<br><br>"
            "Apache-2.0. The bundled model's provenance: resources/models/MODELS.md."
        )
        self.window.about_box = box
        box.open()
