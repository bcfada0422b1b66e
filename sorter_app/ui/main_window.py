"""The main window: the session, its views, and the order of events.

The window builds the parts and wires them: the session (sorter_app/session) holds the folder's
state and runs every piece of work as a job through `QtJobRunner`; the pages render it
(analyses.py), file operations and hand-off go through `MovesController` (moves.py), menus and
toolbar through `WindowActions` (actions.py). What is left here: opening folders, the status bar,
the viewer, settings, and remembering the window's geometry.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QThread, QThreadPool
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QDialog, QFileDialog, QMainWindow, QMessageBox, QPushButton, QStackedWidget

from ..core.kinds import AnalysisKind
from ..core.label_source import describe
from ..paths import AppPaths
from ..session import Changes, Session
from ..session.wording import plural
from .actions import WindowActions
from .analyses import AnalysesController
from .detail_pane import facts_text
from .image_grid import PATH_ROLE, ImageGridView
from .labels_controller import LabelsController
from .moves import MovesController
from .progress_strip import ProgressStrip
from .settings import Settings, SettingsDialog, SettingsStore
from .skipped_dialog import SkippedFilesDialog
from .status_line import StatusLine
from .tasks import QtJobRunner
from .thumbnails import ThumbnailCache
from .viewer import Viewer
from .welcome import WelcomePage
from .window_state import WindowState


class MainWindow(QMainWindow):
    def __init__(self, paths: AppPaths | None = None, *, settings: SettingsStore | None = None) -> None:
        super().__init__()
        self.store = settings or SettingsStore.default()
        self.settings = self.store.load()
        self.window_state = WindowState(self.store.path.with_name("window.ini"))
        self._paths_override = paths
        self.last_error: str | None = None
        self.shortcuts_dialog: QDialog | None = None
        self.about_box: QMessageBox | None = None
        pool = QThreadPool.globalInstance()  # index, analyses and queries may overlap; most wait on I/O
        pool.setMaxThreadCount(max(4, QThread.idealThreadCount()))
        self.setWindowTitle("Image Sorter")
        self.setAcceptDrops(True)
        self.resize(1280, 820)

        self.runner = QtJobRunner(self._library_paths, parent=self)
        self.notices: list[str] = []  # repairs made on opening the data folder, for the record
        self.session = Session(self.runner, self._library_paths()[0])
        self.thumbnails = ThumbnailCache(max_side=256, parent=self)
        self.analyses = AnalysesController(self.session, self.thumbnails, self)
        self.tabs = self.analyses.tabs
        self.browse, self.similar, self.pages, self.map = (
            self.analyses.browse, self.analyses.similar, self.analyses.pages, self.analyses.map,
        )  # fmt: skip
        self.viewer = Viewer(self.thumbnails, self._viewer_facts)
        self.viewer.closed.connect(self.close_viewer)
        self.viewer.rating_requested.connect(self.session.rate)
        self.moves = MovesController(
            self,
            self.session,
            self.window_state,
            view=self.view_images,
            similar=self.show_similar,
            seeds=self.add_seeds,
            thumbnails=self.thumbnails,
        )
        self.analyses.connect_moves(self.moves)
        for grid in self.analyses.grids():
            grid.view_requested.connect(lambda path, g=grid: self.view_images(g.shown_paths(), path))
        self.browse.grid.activated_path.connect(self.show_similar)
        self.welcome = WelcomePage()
        self.welcome.open_requested.connect(self.choose_folder)
        self.welcome.recent_requested.connect(lambda path: self.open_folder(Path(path)))
        self.stack = QStackedWidget()
        for page in (self.welcome, self.tabs, self.viewer):
            self.stack.addWidget(page)
        self.setCentralWidget(self.stack)

        self.labels = LabelsController(self)
        self.window_actions = WindowActions(self)
        self.progress = ProgressStrip()
        self.progress.cancel_requested.connect(self.runner.cancel_visible)
        self.runner.busy.connect(self.progress.set_task)
        self.runner.progressed.connect(self.progress.set_progress)
        self.skipped_button = QPushButton()
        self.skipped_button.setFlat(True)
        self.skipped_button.setToolTip("Files that could not be used, with the reason for each")
        self.skipped_button.clicked.connect(self.show_skipped)
        self.status_line = StatusLine()
        self.statusBar().addWidget(self.status_line, 1)
        self.statusBar().addPermanentWidget(self.skipped_button)
        self.statusBar().addPermanentWidget(self.progress)
        self.session.message.connect(lambda text: self.status_line.say(text, 30_000))
        self.session.failed.connect(lambda failure: self._show_error(*failure))
        self.runner.noticed.connect(self._show_notice)
        self.session.changed.connect(self._session_changed)
        self._session_changed(Changes(skipped=True))
        self._apply_settings()
        if not self.window_state.restore(self):
            self.resize(1280, 820)
        self.session.files.recover()

    # settings ----------------------------------------------------------------------------------------

    def _library_paths(self) -> tuple[Path, Path]:
        paths = self._paths_override or self.settings.resolved_paths()
        return paths.ensure().data_dir, self.settings.resolved_sidecar()

    def _apply_settings(self) -> None:
        analyses = self.session.analyses
        analyses.near_threshold = self.settings.near_duplicate_threshold
        analyses.seed_threshold = self.settings.seed_threshold
        analyses.set_granularity(self.settings.cluster_granularity)
        for grid in self.analyses.grids():
            grid.set_thumbnail_size(self.settings.thumbnail_size)
        self._show_recent()

    def _show_recent(self) -> None:
        menu = self.window_actions.recent_menu
        menu.clear()
        for folder in self.settings.recent_folders:
            action = menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: self.open_folder(Path(f)))
            action.setEnabled(Path(folder).is_dir())
        menu.setEnabled(bool(self.settings.recent_folders))
        self.welcome.set_recent(self.settings.recent_folders)

    def _save_settings(self, settings: Settings) -> None:
        self.settings = settings
        try:
            self.store.save(settings)
        except OSError as exc:  # the settings still apply to this session
            self._show_error("Saving settings", f"{self.store.path}: {exc.strerror or exc}")

    def edit_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        dialog.accepted.connect(lambda: self._settings_edited(dialog.settings()))
        dialog.open()

    def _settings_edited(self, settings: Settings) -> None:
        self._save_settings(settings)
        self._apply_settings()

    # opening -----------------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if any(Path(url.toLocalFile()).is_dir() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        folder = next(
            (Path(u.toLocalFile()) for u in event.mimeData().urls() if Path(u.toLocalFile()).is_dir()), None
        )
        if folder is not None:
            self.open_folder(folder)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Open a folder of photos", str(self.session.root or Path.home())
        )
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path) -> None:
        root = folder.expanduser().resolve()
        if not root.is_dir():
            self._show_error("Open", f"not a folder: {root}")
            return
        if root != self.session.root:
            self.thumbnails.clear()
        self.setWindowTitle(f"{root.name} — Image Sorter")
        self.stack.setCurrentWidget(self.tabs)
        self._save_settings(self.settings.with_recent(str(root)))
        self._show_recent()
        self.session.open_folder(root)

    def _session_changed(self, changes: Changes) -> None:
        if changes.skipped:
            count = len(self.session.skipped)
            self.skipped_button.setText(f"{plural(count, 'file')} skipped")
            self.skipped_button.setVisible(bool(count))
        if changes.items and self.stack.currentWidget() is self.viewer:
            self.viewer.refresh_facts()

    # tabs, the viewer, similar images, seeds -------------------------------------------------------

    def show_tab(self, index: int) -> None:
        if self.stack.currentWidget() is self.viewer:
            self.close_viewer()
        self.tabs.setCurrentIndex(index)

    def view_images(self, paths: Sequence[str], start: str) -> None:
        if paths:
            self.stack.setCurrentWidget(self.viewer)
            self.viewer.open(paths, start)

    def view_current(self) -> None:
        grid = self.tabs.currentWidget().findChild(ImageGridView)
        if isinstance(grid, ImageGridView) and grid.currentIndex().isValid():
            self.view_images(grid.shown_paths(), grid.currentIndex().data(PATH_ROLE))

    def close_viewer(self) -> None:
        self.viewer.loader.cancel()
        self.stack.setCurrentWidget(self.tabs)
        current = self.viewer.current
        grid = self.tabs.currentWidget().findChild(ImageGridView)
        if current and isinstance(grid, ImageGridView):
            grid.select_path(current)
            grid.setFocus()

    def _viewer_facts(self, path: str) -> tuple[dict[str, str], list[str]]:
        root = self.session.root  # the viewer may show files of another folder (none of its facts)
        item = (
            self.session.items.get(self.session.relpath(path))
            if root and Path(path).is_relative_to(root)
            else None
        )
        facts = facts_text(Path(path), None)
        if item is None:
            return facts, []
        from ..session.session import ImageFacts

        facts = facts_text(Path(path), ImageFacts(item.size, item.mtime_ns, None, None, None), item.rating)
        return facts, [describe(a) for a in self.session.labels.answers(item) if a.label is not None]

    def show_similar(self, path: str) -> None:
        self.show_tab(self.tabs.indexOf(self.similar))
        self.similar.open_query(path)

    def add_seeds(self, paths: list[str]) -> None:
        self.show_tab(self.tabs.indexOf(self.pages[AnalysisKind.SEED_GROUPS]))
        self.session.analyses.add_seeds([self.session.relpath(p) for p in paths])

    # export, skipped files, errors -------------------------------------------------------------------

    def export(self) -> None:
        self.moves.choose_export(self.analyses.current_kind())

    def show_skipped(self) -> None:
        SkippedFilesDialog(self.session.skipped, self, folder=str(self.session.root or "")).open()

    def _show_notice(self, line: str) -> None:
        """A repair the user must know of (a damaged catalog set aside): said once, not in passing."""
        self.notices.append(line)
        self.status_line.say(line, 60_000)
        QMessageBox(QMessageBox.Icon.Information, "Image Sorter", line, parent=self).open()

    def _show_error(self, what: str, message: str) -> None:
        self.last_error = message
        QMessageBox(QMessageBox.Icon.Warning, "Image Sorter", f"{what}: {message}", parent=self).open()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.window_state.save(self)
        self.runner.shutdown(5000)
        self.thumbnails.cancel_pending()
        super().closeEvent(event)
