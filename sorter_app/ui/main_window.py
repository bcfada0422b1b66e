"""The main window: open a folder, watch it index, browse it, group it, act on the groups.

The window owns the views and the order of events; every piece of work is a core call run by
`Tasks` off the UI thread. Opening a folder lists it first (so thumbnails fill in at once), indexes
it, then loads predictions and clusters; duplicates, outliers, seed groups and the map are computed
the first time their tab is shown. After a move, copy, trash or undo the folder is opened again:
the catalog followed every file, so that costs a stat walk, not a re-embedding.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QThread, QThreadPool
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QWidget,
)

from ..core import grouping as grouping_
from ..core.browse import BrowseItem, filter_labels
from ..core.clusters import RESOLUTIONS
from ..core.corrections import correction_labels
from ..core.indexer import CancelledFn, IndexReport, ProgressFn
from ..core.library import Library
from ..core.mover import ApplyResult, PlanSummary, UndoResult
from ..core.plan import MovePlan, make_plan
from ..core.scan import Problem, scan_folder
from ..paths import AppPaths
from .browse_page import BrowsePage
from .detail_pane import ImageFacts
from .groups_page import GroupsPage
from .map_page import MapPage
from .plan_dialog import PlanPreviewDialog
from .progress_strip import ProgressStrip
from .settings import Settings, SettingsDialog, SettingsStore
from .similar_page import NEIGHBOURS, SimilarPage
from .skipped_dialog import SkippedFilesDialog
from .tasks import Tasks
from .thumbnails import ThumbnailCache
from .welcome import WelcomePage
from .wording import plural

# Work a folder change makes obsolete: their late results must not land in the new folder's views.
FOLDER_SLOTS = ("list", "index", "load", "clusters", "duplicates", "outliers", "seeds", "map", "similar")
UNDOABLE = ("applied", "partly undone")


class MainWindow(QMainWindow):
    def __init__(self, paths: AppPaths | None = None, *, settings: SettingsStore | None = None) -> None:
        super().__init__()
        self.store = settings or SettingsStore.default()
        self.settings = self.store.load()
        self._paths_override = paths
        self.root: Path | None = None
        self.last_report: IndexReport | None = None
        self.last_error: str | None = None
        self.skipped: list[Problem] = []
        self.seeds: list[str] = []  # relpaths of the seed images
        self._analysed: set[str] = set()
        self.plan_dialog: PlanPreviewDialog | None = None
        self._undoable: PlanSummary | None = None
        self._map_points: tuple[NDArray[np.float32], list[str]] | None = None
        self._items: list[BrowseItem] = []
        self._recovering = True
        self._pending_open: Path | None = None
        pool = QThreadPool.globalInstance()  # index, analyses and queries may overlap; most wait on I/O
        pool.setMaxThreadCount(max(4, QThread.idealThreadCount()))

        self.setWindowTitle("Image Sorter")
        self.setAcceptDrops(True)
        self.resize(1200, 800)
        self.thumbnails = ThumbnailCache(max_side=256, parent=self)
        self.tasks = Tasks(self._library_paths, parent=self)
        self.tasks.failed.connect(self._show_error)
        self._build_pages()
        self.progress = ProgressStrip()
        self.progress.cancel_requested.connect(self.tasks.cancel_visible)
        self.tasks.busy.connect(self.progress.set_task)
        self.tasks.progressed.connect(self.progress.set_progress)
        self._build_menus()
        self.skipped_button = QPushButton()
        self.skipped_button.setFlat(True)
        self.skipped_button.setVisible(False)
        self.skipped_button.clicked.connect(self.show_skipped)
        self.statusBar().addPermanentWidget(self.skipped_button)
        self.statusBar().addPermanentWidget(self.progress)
        self._apply_settings()
        self.tasks.run("recover", lambda lib, p, c: lib.recover(), self._recovered, label="Checking moves")

    # construction -----------------------------------------------------------------------------

    def _build_pages(self) -> None:
        self.welcome = WelcomePage()
        self.welcome.open_requested.connect(self.choose_folder)
        self.welcome.recent_requested.connect(lambda path: self.open_folder(Path(path)))
        self.browse = BrowsePage(self.thumbnails)
        self.browse.similar_requested.connect(self.show_similar)
        self.browse.seeds_requested.connect(self.add_seeds)
        self.browse.correction_requested.connect(self.correct)
        self.browse.correction_cleared.connect(lambda path: self.correct(path, None))
        self.browse.details_requested.connect(self._load_details)
        self.browse_view = self.browse.grid
        self.similar = SimilarPage(self.thumbnails)
        self.similar.query_requested.connect(self._query_similar)

        self.granularity = QComboBox()
        self.granularity.addItems(list(RESOLUTIONS))
        self.granularity.setToolTip("Coarse makes few large clusters, fine many small ones")
        self.granularity.currentTextChanged.connect(lambda _: self._compute("clusters"))
        self.pages: dict[str, GroupsPage] = {
            "duplicates": GroupsPage(
                "duplicates",
                "Exact copies and edited copies (re-encoded, resized, cropped, flipped); the copy to keep is "
                "marked “keep”.",
                self.thumbnails,
                actions=("trash", "move"),
            ),
            "clusters": GroupsPage(
                "clusters", "Images grouped by what they show.", self.thumbnails, controls=self.granularity
            ),
            "outliers": GroupsPage(
                "outliers", "The images least like any other in the folder.", self.thumbnails
            ),
            "seeds": GroupsPage(
                "seeds",
                "Pick example images in Browse (right-click → Use as seed); each gathers the images most "
                "like it.",
                self.thumbnails,
                compute_text="Clear seeds",
            ),
        }
        for kind, page in self.pages.items():
            page.act_requested.connect(lambda mode, k=kind: self.act_on(self.pages[k].grouping, mode))
            page.similar_requested.connect(self.show_similar)
            page.compute_requested.connect(lambda k=kind: self._compute(k))
        self.pages["seeds"].compute_button.clicked.disconnect()
        self.pages["seeds"].compute_button.clicked.connect(self.clear_seeds)
        self.map = MapPage(self.thumbnails)
        self.map.compute_requested.connect(lambda: self._compute("map"))
        self.map.similar_requested.connect(self.show_similar)
        self.map.act_requested.connect(self._act_on_selection)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        tabs: tuple[tuple[str, QWidget], ...] = (
            ("Browse", self.browse),
            ("Similar", self.similar),
            ("Duplicates", self.pages["duplicates"]),
            ("Clusters", self.pages["clusters"]),
            ("Outliers", self.pages["outliers"]),
            ("Seed groups", self.pages["seeds"]),
            ("Map", self.map),
        )
        for title, tab in tabs:
            self.tabs.addTab(tab, title)
        self.tabs.currentChanged.connect(lambda _: self._compute_if_needed())
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.tabs)
        self.setCentralWidget(self.stack)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self._action("&Open Folder…", self.choose_folder, QKeySequence.StandardKey.Open))
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.export_action = self._action("&Export Groups and Predictions…", self.choose_export, "Ctrl+E")
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(
            self._action("&Settings…", self.edit_settings, QKeySequence.StandardKey.Preferences)
        )
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", self.close, QKeySequence.StandardKey.Quit))
        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action("&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.undo_action.setEnabled(False)
        edit_menu.addAction(self.undo_action)
        self.skipped_action = self._action("&Skipped Files…", self.show_skipped)
        edit_menu.addAction(self.skipped_action)
        view_menu = self.menuBar().addMenu("&View")
        for i in range(self.tabs.count()):
            view_menu.addAction(
                self._action(
                    self.tabs.tabText(i), lambda _=False, i=i: self.tabs.setCurrentIndex(i), f"Ctrl+{i + 1}"
                )
            )

    def _action(self, text: str, slot: Any, shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _=False: slot())
        return action

    # settings ---------------------------------------------------------------------------------

    def _library_paths(self) -> tuple[Path, Path]:
        paths = self._paths_override or self.settings.resolved_paths()
        return paths.ensure().data_dir, self.settings.resolved_sidecar()

    def _apply_settings(self) -> None:
        self.granularity.blockSignals(True)
        self.granularity.setCurrentText(self.settings.cluster_granularity)
        self.granularity.blockSignals(False)
        for view in (self.browse.grid, self.similar.grid, self.map.selection_grid):
            view.set_thumbnail_size(self.settings.thumbnail_size)
        for page in self.pages.values():
            page.member_grid.set_thumbnail_size(self.settings.thumbnail_size)
        self._show_recent()

    def _show_recent(self) -> None:
        self.recent_menu.clear()
        for folder in self.settings.recent_folders:
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: self.open_folder(Path(f)))
            action.setEnabled(Path(folder).is_dir())
        self.recent_menu.setEnabled(bool(self.settings.recent_folders))
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

    # opening ---------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if any(Path(url.toLocalFile()).is_dir() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        for url in event.mimeData().urls():
            folder = Path(url.toLocalFile())
            if folder.is_dir():
                self.open_folder(folder)
                return

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Open a folder of photos", str(self.root or Path.home())
        )
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path) -> None:
        """List, index and load `folder`; whatever was running for the previous folder is dropped."""
        root = folder.expanduser().resolve()
        if not root.is_dir():
            self._show_error("Open", f"not a folder: {root}")
            return
        if self._recovering:  # an interrupted move must be put right before anything reads the folder
            self._pending_open = root
            return
        for slot in FOLDER_SLOTS:
            self.tasks.cancel(slot)
        if root != self.root:
            self.root = root
            self.seeds = []
            self.thumbnails.clear()
        # After a move or an undo paths have changed: every view starts again from the catalog.
        self.last_report = None
        self._map_points = None
        self._analysed = set()  # analyses done (or under way) since the folder was opened
        self._items = []
        self.similar.clear()
        for page in self.pages.values():
            page.set_root(root)
        self.map.set_root(root)
        self.setWindowTitle(f"{root.name} — Image Sorter")
        self.stack.setCurrentWidget(self.tabs)
        self._save_settings(self.settings.with_recent(str(root)))
        self._show_recent()  # only the recent folders changed: the grids keep their layout
        data_dir = self._library_paths()[0]
        self.tasks.run(
            "list", lambda lib, p, c: scan_folder(root, exclude=[data_dir], cancelled=c), self._listed
        )
        self.tasks.run(
            "index",
            lambda lib, p, c: lib.index(root, progress=p, cancelled=c),
            self._indexed,
            label="Indexing",
        )

    def _listed(self, scan: Any) -> None:
        if not self._items:  # a small folder may be indexed before it is listed
            items = [BrowseItem(f.relpath, f.size, f.mtime_ns, None, None) for f in scan.files]
            assert self.root is not None
            self.browse.set_items(self.root, items)

    def _indexed(self, report: IndexReport) -> None:
        self.last_report = report
        self.skipped = list(report.skipped)
        state = "Indexing cancelled; kept" if report.cancelled else "Indexed"
        self.statusBar().showMessage(
            f"{state} {report.folder}: {report.indexed} new, {report.reused} already known, "
            f"{len(report.skipped)} skipped",
            15_000,
        )
        self.skipped_button.setText(f"{len(self.skipped)} skipped")
        self.skipped_button.setToolTip("Files that could not be used, with the reason for each")
        self.skipped_button.setVisible(bool(self.skipped))
        self._load()

    def _load(self) -> None:
        """Items with their predictions, then clusters (which also name and colour the map)."""
        root = self.root
        assert root is not None

        def load(lib: Library, progress: ProgressFn, cancelled: CancelledFn) -> Any:
            labels = (
                (filter_labels(lib.spec), correction_labels(lib.spec))
                if lib.spec.probability_heads
                else ([], [])
            )
            return lib.browse_items(root), labels

        self.tasks.run("load", load, self._loaded, label="Loading")
        self._compute("clusters")

    def _loaded(self, loaded: tuple[list[BrowseItem], tuple[list[str], list[str]]]) -> None:
        items, (labels, correction) = loaded
        assert self.root is not None
        self.browse.set_labels(labels, correction)
        self._set_items(items)
        self._compute_if_needed()

    def _set_items(self, items: list[BrowseItem]) -> None:
        groups = grouping_.group_of(self.pages["clusters"].grouping)
        self._items = [replace(i, group=groups.get(i.relpath)) for i in items]
        assert self.root is not None
        self.browse.set_items(self.root, self._items)

    # analyses, computed on demand -------------------------------------------------------------

    def _compute_if_needed(self) -> None:
        page = self.tabs.currentWidget()
        if self.root is None or not self._items:
            return
        shown: dict[QWidget, str] = {self.pages[k]: k for k in self.pages}
        shown[self.map] = "map"
        kind = shown.get(page)
        if kind is not None and kind not in self._analysed and not self.tasks.is_running(kind):
            self._compute(kind)

    def _compute(self, kind: str) -> None:
        root = self.root
        if root is None:
            return
        settings = self.settings
        seeds = [root / s for s in self.seeds]
        granularity = self.granularity.currentText()
        calls = {
            "clusters": (
                "Finding clusters",
                lambda lib, p, c: grouping_.from_clustering(lib.clusters(root, granularity)),
            ),
            "duplicates": (
                "Finding duplicates",
                lambda lib, p, c: grouping_.from_duplicates(
                    lib.duplicates(root, settings.near_duplicate_threshold)
                ),
            ),
            "outliers": ("Finding outliers", lambda lib, p, c: grouping_.from_outliers(lib.outliers(root))),
            "seeds": (
                "Gathering seed groups",
                lambda lib, p, c: grouping_.from_seed_groups(
                    lib.seed_groups(root, seeds, settings.seed_threshold)
                ),
            ),
            "map": ("Drawing the map", lambda lib, p, c: lib.map_2d(root, progress=p, cancelled=c)),
        }
        if kind == "seeds" and not seeds:
            self.clear_seeds()
            return
        label, call = calls[kind]
        self._analysed.add(kind)
        if kind == "map":
            self.map.set_status(f"{label}…")
        else:
            self.pages[kind].set_status(f"{label}…")
        self.tasks.run(kind, call, partial(self._computed, kind), label=label)

    def _computed(self, kind: str, result: Any) -> None:
        if kind == "map":
            self._map_points = result
            self._colour_map()
            return
        grouping: grouping_.Grouping = result
        images = sum(len(g.paths) for g in grouping.groups)
        groups = len(grouping.groups)
        summaries = {
            "clusters": f"{plural(groups, 'cluster')} of {plural(images, 'image')}. "
            "Tick the ones to move into folders.",
            "duplicates": f"{plural(groups, 'group')} of duplicates ({plural(images, 'image')})."
            if grouping.groups
            else "No duplicates found.",
            "outliers": f"The {plural(images, 'image')} least like any other, most unusual first.",
            "seeds": f"{plural(groups, 'seed group')} ({plural(images, 'image')}).",
        }
        self.pages[kind].set_grouping(grouping, summaries[kind])
        if kind == "clusters":
            self._clustering_changed()

    def _clustering_changed(self) -> None:
        """The clusters page holds new clusters: Browse's cluster sort and the map's colours follow."""
        if self._items:
            self._set_items(self._items)
        self._colour_map()

    def _colour_map(self) -> None:
        if self._map_points is not None:
            points, paths = self._map_points
            self.map.set_points(points, paths, self._cluster_numbers(paths))

    def _cluster_numbers(self, relpaths: list[str]) -> list[int]:
        """Each image's cluster as a colour index; -1 (grey) for unsorted or not yet clustered."""
        number = {
            p: i
            for i, g in enumerate(self.pages["clusters"].grouping.groups)
            if g.key != grouping_.UNSORTED
            for p in g.paths
        }
        return [number.get(p, -1) for p in relpaths]

    def add_seeds(self, paths: list[str]) -> None:
        assert self.root is not None
        for path in paths:
            relpath = Path(path).relative_to(self.root).as_posix()
            if relpath not in self.seeds:
                self.seeds.append(relpath)
        self.tabs.setCurrentWidget(self.pages["seeds"])
        self._compute("seeds")

    def clear_seeds(self) -> None:
        self.seeds = []
        self.pages["seeds"].set_root(self.root)

    # similar images and details -----------------------------------------------------------------

    def show_similar(self, path: str) -> None:
        self.tabs.setCurrentWidget(self.similar)
        self.similar.open_query(path)

    def _query_similar(self, path: str) -> None:
        root = self.root
        if root is None:
            return
        self.tasks.run(
            "similar",
            lambda lib, p, c: lib.similar(root, Path(path), NEIGHBOURS),
            lambda found: self.similar.show_results(path, root, found),
            on_error=lambda message: self.similar.show_error(path, message),
        )

    def _load_details(self, path: str) -> None:
        root, item = self.root, self.browse.item(path)
        if root is None or item is None:
            return

        def facts(lib: Library, progress: ProgressFn, cancelled: CancelledFn) -> ImageFacts:
            info = lib.image_info(root, Path(path))
            if info is None:
                return ImageFacts(item.size, item.mtime_ns, None, None, None)
            return ImageFacts(item.size, item.mtime_ns, info.width, info.height, info.format)

        self.tasks.run("details", facts, lambda found: self.browse.show_details(path, found))

    def correct(self, path: str, label: str | None) -> None:
        root = self.root
        if root is None:
            return

        def store(lib: Library, progress: ProgressFn, cancelled: CancelledFn) -> list[BrowseItem]:
            if label is None:
                lib.clear_correction(root, Path(path))
            else:
                lib.correct(root, Path(path), label)
            return lib.browse_items(root)

        self.tasks.run(f"correct:{path}", store, self._set_items)

    # acting on groups ---------------------------------------------------------------------------

    def act_on(self, grouping: grouping_.Grouping, mode: str) -> None:
        root = self.root
        if root is None:
            return
        groups = grouping_.to_plan_groups(grouping, root)
        if not groups:
            return
        destination = None if mode == "trash" else self.choose_destination(mode)
        if mode != "trash" and destination is None:
            return
        self.tasks.run(
            "plan",
            lambda lib, p, c: make_plan(groups, destination, mode, folder=root),  # type: ignore[arg-type]
            self.preview,
            label="Planning",
        )

    def choose_destination(self, mode: str) -> Path | None:
        """Where the group folders go; the folder itself unless the user picks another."""
        assert self.root is not None
        chosen = QFileDialog.getExistingDirectory(
            self, f"{mode.capitalize()} the ticked groups into folders under…", str(self.root)
        )
        return Path(chosen) if chosen else None

    def _act_on_selection(self, mode: str, relpaths: list[str]) -> None:
        name, ok = QInputDialog.getText(
            self, "Folder name", "Name of the folder for these images:", text="selection"
        )
        if ok and name.strip():
            group = grouping_.Group("selection", name.strip(), relpaths, ticked=True)
            self.act_on(grouping_.Grouping("selection", [group]), mode)

    def preview(self, plan: MovePlan) -> None:
        """Show every source → destination; nothing happens until Apply."""
        dialog = PlanPreviewDialog(plan, self)
        dialog.accepted.connect(lambda: self.apply(plan))
        self.plan_dialog = dialog
        dialog.open()

    def apply(self, plan: MovePlan) -> None:
        labels = {"move": "Moving files", "copy": "Copying files", "trash": "Moving to the trash"}
        self.tasks.run(
            "apply",
            lambda lib, p, c: lib.apply(plan, progress=p, cancelled=c),
            self._applied,
            label=labels[plan.mode],
        )

    def _applied(self, result: ApplyResult) -> None:
        done = {"move": result.moved, "copy": result.copied, "trash": result.trashed}[result.mode]
        verb = {"move": "moved", "copy": "copied", "trash": "moved to the trash"}[result.mode]
        message = f"{done} files {verb}" + (" (cancelled; Undo puts them back)" if result.cancelled else "")
        if result.skipped:
            message += f"; {len(result.skipped)} left alone: " + "; ".join(
                f"{src.name}: {reason}" for src, reason in result.skipped[:5]
            )
        self.statusBar().showMessage(message, 30_000)
        self.last_apply = result
        self._after_files_changed()

    def undo(self) -> None:
        if self._undoable is None:
            return
        plan_id = self._undoable.id
        self.tasks.run(
            "apply",
            lambda lib, p, c: lib.undo(plan_id, progress=p, cancelled=c),
            self._undone,
            label="Undoing",
        )

    def _undone(self, result: UndoResult) -> None:
        message = f"Undone: {result.restored} files put back"
        if result.not_restored:
            message += f"; {len(result.not_restored)} not: " + "; ".join(
                f"{path.name}: {reason}" for path, reason in result.not_restored[:5]
            )
        self.statusBar().showMessage(message, 30_000)
        self.last_undo = result
        self._after_files_changed()

    def _after_files_changed(self) -> None:
        self._refresh_undo()
        if self.root is not None:
            self.open_folder(self.root)

    def _refresh_undo(self) -> None:
        def undoable(lib: Library, progress: ProgressFn, cancelled: CancelledFn) -> PlanSummary | None:
            return next((p for p in lib.plans() if p.state in UNDOABLE), None)

        self.tasks.run("journal", undoable, self._set_undoable)

    def _set_undoable(self, plan: PlanSummary | None) -> None:
        self._undoable = plan
        self.undo_action.setEnabled(plan is not None)
        verbs = {"move": "Move", "copy": "Copy", "trash": "Move to Trash"}
        self.undo_action.setText(
            f"&Undo {verbs.get(plan.mode, plan.mode)} of {plan.done} Files" if plan else "&Undo"
        )

    def _recovered(self, results: list[UndoResult]) -> None:
        self._recovering = False
        if results:
            self.statusBar().showMessage(
                "Put right after an interruption: "
                + ", ".join(f"plan {r.plan_id} ({r.action})" for r in results),
                30_000,
            )
        self._refresh_undo()
        if self._pending_open is not None:
            folder, self._pending_open = self._pending_open, None
            self.open_folder(folder)

    # export, skipped files, errors ------------------------------------------------------------

    def choose_export(self) -> None:
        if self.root is None:
            self._show_error("Export", "Open a folder first.")
            return
        name, _ = QFileDialog.getSaveFileName(
            self,
            "Export groups and predictions",
            str(self.root / "image-sorter.csv"),
            "CSV (*.csv);;JSON (*.json)",
        )
        if name:
            self.export(Path(name))

    def current_grouping(self) -> grouping_.Grouping | None:
        page = self.tabs.currentWidget()
        if isinstance(page, GroupsPage) and page.grouping.groups:
            return page.grouping
        clusters = self.pages["clusters"].grouping
        return clusters if clusters.groups else None

    def export(self, destination: Path) -> None:
        root = self.root
        assert root is not None
        current = self.current_grouping()
        groups = grouping_.group_of(current) if current is not None else None
        self.tasks.run(
            "export",
            lambda lib, p, c: lib.export(root, destination, groups),
            lambda rows: self.statusBar().showMessage(f"Exported {rows} images to {destination}", 15_000),
            label="Exporting",
        )

    def show_skipped(self) -> None:
        SkippedFilesDialog(self.skipped, self, folder=str(self.root or "")).open()

    def _show_error(self, what: str, message: str) -> None:
        self.last_error = message
        box = QMessageBox(QMessageBox.Icon.Warning, "Image Sorter", f"{what}: {message}", parent=self)
        box.open()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.tasks.shutdown(5000)
        self.thumbnails.cancel_pending()
        super().closeEvent(event)
