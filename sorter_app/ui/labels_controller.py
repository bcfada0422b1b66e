"""The window's side of label sets: the Labels and Review tabs, "Label As" in every grid's and group
list's context menu, Ctrl+L for the selection, the questions to ask (names, folders, confidence),
and the timer that debounces retraining.

State and commands are the session's (`session.label_sets`, session/labels.py); this controller
asks the user and passes the answers on.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPoint, Qt, QTimer
from PySide6.QtGui import QAction, QCursor, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMessageBox

from ..core.kinds import GROUPING_KINDS, AnalysisKind, MoveMode
from ..session.wording import plural
from .ask import ask_text
from .image_grid import ImageGridView
from .labels_page import LabelsPage
from .menus import transient_menu
from .review_page import ReviewPage

if TYPE_CHECKING:
    from collections.abc import Callable

    from .main_window import MainWindow

RETRAIN_DELAY_MS = 700  # labels given in a burst (a review at full speed) retrain once


class LabelsController(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.session = session = window.session
        self.sets = session.label_sets
        self.page = LabelsPage(session)
        self.review = ReviewPage(session, window.thumbnails)
        window.tabs.addTab(self.page, "Labels")
        window.tabs.setTabToolTip(window.tabs.indexOf(self.page), "Your own label sets: label, train, act")
        window.tabs.addTab(self.review, "Review")
        window.tabs.setTabToolTip(window.tabs.indexOf(self.review), "Label what the model is least sure of")
        self._retrain = QTimer(self)
        self._retrain.setSingleShot(True)
        self._retrain.setInterval(RETRAIN_DELAY_MS)
        self._pending: Callable[[], None] | None = None
        self._retrain.timeout.connect(self._run_retrain)
        self.sets.debounce = self._debounce
        self._wire_page()
        window.moves.menu_extensions.append(self.add_label_menu)
        for kind in GROUPING_KINDS:
            page = window.pages.get(kind)
            if page is not None:
                page.group_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
                page.group_list.customContextMenuRequested.connect(partial(self._group_menu, kind))
        self.label_selection = QAction("&Label Selection As…", window)
        self.label_selection.setShortcut(QKeySequence("Ctrl+L"))
        self.label_selection.setToolTip("Give the selected images a label of the active set (Ctrl+L)")
        self.label_selection.triggered.connect(lambda _=False: self.label_focused_selection())
        window.addAction(self.label_selection)

    # retraining, debounced ------------------------------------------------------------------------------

    def _debounce(self, retrain: Callable[[], None]) -> None:
        self._pending = retrain
        self._retrain.start()

    def _run_retrain(self) -> None:
        if self._pending is not None:
            retrain, self._pending = self._pending, None
            retrain()

    # the Labels tab ---------------------------------------------------------------------------------------

    def _wire_page(self) -> None:
        page = self.page
        page.new_set.clicked.connect(self.new_set)
        page.rename_set.clicked.connect(self.rename_set)
        page.delete_set.clicked.connect(self.delete_set)
        page.add_label.clicked.connect(self.add_label)
        page.rename_label.clicked.connect(self.rename_label)
        page.remove_label.clicked.connect(self.remove_label)
        page.import_folders.clicked.connect(self.import_folders)
        page.review.clicked.connect(lambda: self.window.tabs.setCurrentWidget(self.review))
        page.move_by_label.clicked.connect(self.move_by_label)
        page.export_set.triggered.connect(lambda _=False: self.export(every_set=False))
        page.export_all.triggered.connect(lambda _=False: self.export(every_set=True))
        page.name_clusters.clicked.connect(self.name_clusters)

    def _ask(self, title: str, question: str, text: str = "") -> str | None:
        return ask_text(self.window, title, question, text)

    def new_set(self) -> None:
        name = self._ask("New label set", "Name of the set (e.g. style, room, keep or discard):")
        if name is None:
            return
        labels = self._ask("New label set", f"Labels of “{name}”, separated by commas (more can come later):")
        self.sets.create_set(name, [label.strip() for label in (labels or "").split(",") if label.strip()])

    def rename_set(self) -> None:
        chosen = self.sets.current
        if chosen is not None and (name := self._ask("Rename label set", "New name:", chosen.name)):
            self.sets.rename_set(chosen.name, name)

    def delete_set(self) -> None:
        chosen = self.sets.current
        if chosen is None:
            return
        count = sum(self.sets.counts().values())
        answer = QMessageBox.question(
            self.window,
            "Delete label set",
            f"Delete “{chosen.name}”, its labels and the labels of {count:,} images? This cannot be undone.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.sets.delete_set(chosen.name)

    def add_label(self) -> None:
        if self.sets.current is not None and (label := self._ask("Add label", "Name of the new label:")):
            self.sets.add_label(label)

    def rename_label(self) -> None:
        label = self.page.selected_label()
        if label is not None and (name := self._ask("Rename label", f"New name for “{label}”:", label)):
            self.sets.rename_label(label, name)

    def remove_label(self) -> None:
        label = self.page.selected_label()
        if label is None:
            return
        count = self.sets.counts().get(label, 0)
        answer = QMessageBox.question(
            self.window, "Remove label", f"Remove “{label}” from the set and from {count:,} images?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.sets.remove_label(label)

    def import_folders(self) -> None:
        root = self.session.root
        if root is None:
            return
        chosen = QFileDialog.getExistingDirectory(
            self.window, "Folder whose sub-folders are labels", str(root)
        )
        if not chosen:
            return
        current = self.sets.current
        name = self._ask(
            "Import sub-folder names",
            "Label set to fill (a new one is created):",
            current.name if current else Path(chosen).name,
        )
        if name is not None:
            self.session.label_files.import_folders(Path(chosen), name)

    def move_by_label(self) -> None:
        root = self.session.root
        if root is None or self.sets.current is None:
            return
        confidence, ok = QInputDialog.getInt(
            self.window,
            "Move into folders by label",
            "Move images labelled by you, and those the model is at least this sure of (%):\n"
            "(images it is unsure of always stay where they are)",
            0,
            0,
            100,
        )
        if not ok:
            return
        chosen = QFileDialog.getExistingDirectory(self.window, "Put the label folders under…", str(root))
        if chosen:
            self.session.label_files.propose_move(MoveMode.MOVE, Path(chosen), confidence / 100.0)

    def export(self, *, every_set: bool) -> None:
        """The active set's labels and predictions, or every set's (a column group each), to a file."""
        root, chosen = self.session.root, self.sets.current
        if root is None or chosen is None:
            return
        folder = self.window.window_state.last_export_folder() or str(Path.home())
        what = "labels" if every_set else f"{chosen.name.replace('/', '-').replace(chr(92), '-')} labels"
        name, _ = QFileDialog.getSaveFileName(
            self.window,
            "Export every label set" if every_set else f"Export “{chosen.name}”",
            str(Path(folder) / f"{root.name} - {what}.csv"),
            "CSV (*.csv);;JSON (*.json)",
        )
        if name:
            self.window.window_state.set_last_export_folder(str(Path(name).parent))
            self.session.label_files.export(Path(name), every_set=every_set)

    def name_clusters(self) -> None:
        self.sets.show_in_browse(True)
        self.session.analyses.compute(AnalysisKind.CLUSTERS)

    # "Label As": every grid, every group list, Ctrl+L ---------------------------------------------------

    def add_label_menu(self, menu: QMenu, paths: Sequence[str]) -> None:
        """The grids' context menu: "Label As ▸" with the active set's labels (keys 1–9)."""
        menu.addSeparator()
        self._fill(menu.addMenu("Label As"), [self.session.relpath(p) for p in paths])

    def _fill(self, menu: QMenu, relpaths: list[str]) -> None:
        chosen = self.sets.current
        if chosen is None:
            menu.addAction("New Label Set…", self.new_set)
            return
        menu.setTitle(f"Label As ({chosen.name})")
        for label in chosen.labels:
            key = self.sets.key_for(label)
            menu.addAction(
                f"&{key}  {label}" if key else label,
                partial(self.session.image_labels.label, relpaths, label),
            )
        menu.addSeparator()
        menu.addAction("New Label…", lambda: self._label_new(relpaths))
        menu.addAction("Remove Label", partial(self.session.image_labels.label, relpaths, None))

    def _label_new(self, relpaths: list[str]) -> None:
        if (label := self._ask("New label", "Label these images as:")) is not None:
            self.session.image_labels.label(relpaths, label)

    def _group_menu(self, kind: AnalysisKind, pos: QPoint) -> None:
        menu = self.group_label_menu(kind)
        if menu is not None:
            menu.popup(self.window.pages[kind].group_list.viewport().mapToGlobal(pos))

    def group_label_menu(self, kind: AnalysisKind) -> QMenu | None:
        """ "Label Group As ▸" for the selected groups (all their images), or None without one."""
        page = self.window.pages[kind]
        current = page.current_row()
        rows = page.selected_rows() or ([current] if current is not None else [])
        groups = self.session.groups.grouping(kind).groups
        relpaths = [p for row in rows if row < len(groups) for p in groups[row].paths]
        if not relpaths:
            return None
        menu = transient_menu(self.window)
        self._fill(menu.addMenu("Label Group As"), relpaths)
        return menu

    def label_focused_selection(self) -> None:
        """Ctrl+L: a "Label As" menu for the images selected in the grid of the tab shown."""
        menu = self.selection_label_menu()
        if menu is not None:
            menu.popup(QCursor.pos())

    def selection_label_menu(self) -> QMenu | None:
        page = self.window.tabs.currentWidget()
        grid = page.findChild(ImageGridView)
        paths = grid.selected_paths() if isinstance(grid, ImageGridView) else []
        root = self.session.root
        if not paths and page is self.window.map and root is not None:  # the loop, when nothing is picked
            paths = [f"{root}/{p}" for p in self.window.map.selected_relpaths()]
        if not paths:
            self.session.message.emit("Select images first, then Ctrl+L gives them a label.")
            return None
        menu = transient_menu(self.window)
        chosen = self.sets.current
        if chosen is not None:  # a popup has no title: say what is labelled, in which set
            header = menu.addAction(f"Label {plural(len(paths), 'Image')} As ({chosen.name})")
            header.setEnabled(False)
            menu.addSeparator()
        self._fill(menu, [self.session.relpath(p) for p in paths])
        return menu
