"""The window's side of acting on files: where things go, the preview, and hand-off to the desktop.

Every grid's context menu comes from here, so each offers the same things: view full size,
similar images, open in the default viewer, show in the file manager, copy the path, rename, move
to the trash (undoable), use as seed, "This is…", and in Browse, move or copy the selection into
a folder. The session makes plans and applies them; this controller asks the user where, shows
the plan, and passes the go-ahead.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, QPoint, QStandardPaths, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from ..core.grouping import group_of
from ..core.kinds import AnalysisKind, MoveMode
from ..session import Session
from ..session.files import Proposal
from ..session.wording import EXPORTING
from .ask import ask_text
from .icons import icon
from .image_grid import ImageGridView
from .menus import transient_menu
from .plan_dialog import PlanPreviewDialog
from .rating_keys import add_rating_menu
from .thumbnails import ThumbnailCache
from .window_state import WindowState


class MovesController(QObject):
    def __init__(
        self,
        window: QWidget,
        session: Session,
        state: WindowState,
        *,
        view: Callable[[Sequence[str], str], None],
        similar: Callable[[str], None],
        seeds: Callable[[list[str]], None],
        thumbnails: ThumbnailCache | None = None,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.thumbnails = thumbnails  # for the preview's rows
        self.session = session
        self.state = state
        self._view, self._similar, self._seeds = view, similar, seeds
        self.plan_dialog: PlanPreviewDialog | None = None
        # More entries for every grid's menu (e.g. "Label As"), each given the menu and the paths.
        self.menu_extensions: list[Callable[[QMenu, list[str]], None]] = []
        session.files.proposed.connect(self.preview)

    # groups and selections ---------------------------------------------------------------------------

    def act_on(self, kind: AnalysisKind, mode: MoveMode) -> None:
        destination = None if mode is MoveMode.TRASH else self.choose_destination(mode)
        if mode is MoveMode.TRASH or destination is not None:
            self.session.files.propose(kind, mode, destination)

    def choose_destination(self, mode: MoveMode) -> Path | None:
        """Where the group folders go; the folder itself unless the user picks another."""
        chosen = QFileDialog.getExistingDirectory(
            self.window,
            f"{mode.value.capitalize()} the ticked groups into folders under…",
            str(self.session.root),
        )
        return Path(chosen) if chosen else None

    def act_on_lasso(self, mode: MoveMode, relpaths: list[str]) -> None:
        name = ask_text(self.window, "Folder name", "Name of the folder for these images:", "selection")
        if name and self.session.root is not None:
            self.session.files.propose_selection(relpaths, name, mode, self.session.root)

    def move_selection(self, mode: MoveMode, paths: Sequence[str]) -> None:
        """Browse's Move/Copy to folder: the chosen folder receives the selected files."""
        chosen = QFileDialog.getExistingDirectory(
            self.window, f"{mode.value.capitalize()} {len(paths)} images into…", str(self.session.root)
        )
        if chosen:
            folder = Path(chosen)
            relpaths = [self.session.relpath(p) for p in paths]
            self.session.files.propose_selection(relpaths, folder.name, mode, folder.parent)

    def preview(self, proposal: Proposal) -> None:
        """Every source → destination (and for the trash, what is kept); nothing moves before Apply."""
        if self.plan_dialog is not None and not self.plan_dialog.isVisible():
            self.plan_dialog.deleteLater()  # the last preview, closed: one dialog alive, not one per preview
        dialog = PlanPreviewDialog(proposal.plan, self.window, proposal.kept, self.thumbnails)
        dialog.accepted.connect(lambda: self.session.files.apply(proposal.plan))
        self.plan_dialog = dialog
        dialog.open()

    # export ---------------------------------------------------------------------------------------------

    def choose_export(self, kind: AnalysisKind | None) -> None:
        root = self.session.root
        if root is None:
            self.session.failed.emit(("Export", "Open a folder first."))
            return
        folder = self.state.last_export_folder() or QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.DocumentsLocation
        )
        if not folder or not Path(folder).is_dir():  # no Documents folder: the dialog would start in the
            folder = str(Path.home())  # working folder, which may be the photo folder itself
        suggested = Path(folder) / f"{root.name} - image sorter.csv"
        name, _ = QFileDialog.getSaveFileName(
            self.window, "Export groups and labels", str(suggested), "CSV (*.csv);;JSON (*.json)"
        )
        if name:
            self.state.set_last_export_folder(str(Path(name).parent))
            self.export(Path(name), kind)

    def export(self, destination: Path, kind: AnalysisKind | None) -> None:
        """The groups of the view shown (else the clusters) and every label, as CSV or JSON."""
        root = self.session.root
        assert root is not None
        grouping = self.session.groups.grouping(kind) if kind is not None and kind.is_grouping else None
        if grouping is None or not grouping.groups:
            grouping = self.session.groups.grouping(AnalysisKind.CLUSTERS)
        groups = group_of(grouping) if grouping.groups else None
        from ..session import Job

        self.session.run(
            Job(
                "export",
                lambda lib, p, c: lib.export(root, destination, groups),
                lambda rows: self.session.message.emit(f"Exported {rows} images to {destination}"),
                label=EXPORTING,
            )
        )

    # hand-off: the one context menu of every grid ---------------------------------------------------

    def attach(self, grid: ImageGridView, *, browse: bool = False) -> None:
        grid.context_requested.connect(partial(self.context_menu, grid, browse))
        grid.trash_requested.connect(self.session.files.trash_files)  # Del, as the menu says
        grid.rating_requested.connect(self.session.rate)  # Ctrl+0…5, Alt+Del, as the menu says

    def context_menu(self, grid: ImageGridView, browse: bool, paths: list[str], pos: QPoint) -> None:
        menu = self.menu_for(grid, paths, browse=browse)
        menu.exec(pos)

    def menu_for(self, grid: ImageGridView, paths: list[str], *, browse: bool = False) -> QMenu:
        menu = transient_menu(self.window)
        first = paths[0]
        shown = grid.shown_paths()
        menu.addAction(icon("view"), "View Full Size", lambda: self._view(shown, first)).setShortcut(
            QKeySequence("Space")
        )
        menu.addAction(icon("similar"), "Show Similar Images", lambda: self._similar(first)).setShortcut(
            QKeySequence("Return")
        )
        menu.addSeparator()
        menu.addAction("Open in Default Viewer", lambda: self.open_default(paths))
        menu.addAction(icon("folder"), "Show in File Manager", lambda: self.show_in_file_manager(first))
        menu.addAction(
            icon("copy"), "Copy Path" + ("s" if len(paths) > 1 else ""), lambda: self.copy_paths(paths)
        )
        rename = menu.addAction("Rename…", lambda: self.rename(first))
        rename.setEnabled(len(paths) == 1)
        menu.addAction(
            icon("trash"), "Move to Trash", lambda: self.session.files.trash_files(paths)
        ).setShortcut(QKeySequence.StandardKey.Delete)
        if browse:
            menu.addSeparator()
            menu.addAction(icon("move"), "Move to Folder…", lambda: self.move_selection(MoveMode.MOVE, paths))
            menu.addAction(icon("copy"), "Copy to Folder…", lambda: self.move_selection(MoveMode.COPY, paths))
        menu.addSeparator()
        menu.addAction(
            "Use as Seed" + (f"s ({len(paths)})" if len(paths) > 1 else ""), lambda: self._seeds(paths)
        )
        labels = self.session.model_labels.correctable()
        if labels:
            correct = menu.addMenu("This Is…")
            for label in labels:
                correct.addAction(label.replace("_", " "), partial(self.session.correct, paths, label))
            clear = menu.addAction("Clear Correction", partial(self.session.correct, paths, None))
            clear.setEnabled(self.session.any_corrected(paths))  # as the detail pane's menu has it
        shared = {item.rating for p in paths if (item := self.session.items.get(self.session.relpath(p)))}
        add_rating_menu(menu, partial(self.session.rate, paths), shared.pop() if len(shared) == 1 else None)
        for extend in self.menu_extensions:
            extend(menu, paths)
        return menu

    def open_default(self, paths: Sequence[str]) -> None:
        for path in paths[:20]:  # a slip of Ctrl+A must not open a thousand windows
            QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    def show_in_file_manager(self, path: str) -> None:
        """The file selected in its folder where the platform can; else the folder opened."""
        if sys.platform == "darwin":
            subprocess.Popen(["open", "-R", path])
        elif sys.platform == "win32":
            subprocess.Popen(["explorer", "/select,", path])
        else:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))

    def copy_paths(self, paths: Sequence[str]) -> None:
        QGuiApplication.clipboard().setText("\n".join(paths))
        self.session.message.emit(f"Copied {len(paths)} path{'s' if len(paths) > 1 else ''}")

    def rename(self, path: str) -> None:
        name = ask_text(self.window, "Rename", f"New name for {Path(path).name}:", Path(path).name)
        if name and name != Path(path).name:
            self.session.files.rename_file(path, name)
