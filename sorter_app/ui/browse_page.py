"""Browse: the whole folder as a thumbnail grid, organised — sub-folders, name search, label filter,
sort with section headers — with the current image's details beside it.

The page renders the session: what is shown, in which order and under which headers is decided
by the session (core/browse.py); the page keeps only widgets. The grid fills as soon as the folder
is listed, before indexing has finished; labels and clusters arrive later and re-sort without
losing the current image. When the filter hides the current image, or a correction changes its
labels, the detail pane follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ..core.browse import SORT_KEYS, BrowseFilter, BrowseItem
from ..core.label_source import LabelSource, caption
from ..core.ratings import MAX_STARS, REJECTED, UNRATED, rating_text, with_rating
from ..session import Changes, Session
from .detail_pane import DetailPane
from .image_grid import PATH_ROLE, GridItem, ImageGridModel, ImageGridView, header_item
from .thumbnails import ThumbnailCache

ALL_IMAGES = "All images"
RATING_CHOICES = (
    ("Any", None),
    *((f"{rating_text(n)} or more" if n < MAX_STARS else rating_text(n), n) for n in range(1, MAX_STARS + 1)),
    ("No rating", UNRATED),
    ("Rejected", REJECTED),
)
FOLDER_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_TEXT = {"name": "Name", "date": "Date", "cluster": "Cluster", "prediction": "Label", "rating": "Rating"}


class FolderTree(QTreeView):
    """The folder and its sub-folders with their image counts; picking one filters Browse."""

    folder_chosen = Signal(str)  # relpath, '' = everything

    def __init__(self) -> None:
        super().__init__()
        self.folders = QStandardItemModel(self)
        self.setModel(self.folders)
        self.setHeaderHidden(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setUniformRowHeights(True)
        self.setToolTip("Show only the images in a sub-folder (and below it)")
        self.selectionModel().currentChanged.connect(self._chosen)

    def set_folders(self, root_name: str, counts: dict[str, int], chosen: str) -> None:
        self.selectionModel().blockSignals(True)
        self.folders.clear()
        top = QStandardItem(f"{root_name} · {counts.get('', 0):,}")
        top.setData("", FOLDER_ROLE)
        self.folders.appendRow(top)
        nodes = {"": top}
        for folder in sorted(f for f in counts if f):
            parent = nodes.get(folder.rpartition("/")[0], top)
            node = QStandardItem(f"{folder.rpartition('/')[2]} · {counts[folder]:,}")
            node.setData(folder, FOLDER_ROLE)
            node.setToolTip(folder)
            parent.appendRow(node)
            nodes[folder] = node
        self.expandToDepth(0)
        chosen_node = nodes.get(chosen, top)
        self.setCurrentIndex(chosen_node.index())
        self.selectionModel().blockSignals(False)

    def _chosen(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.folder_chosen.emit(str(current.data(FOLDER_ROLE)))


def item_caption(source: LabelSource, item: BrowseItem) -> str:
    """An image's second line in the grid: its best answer (a label of the shown set, or the
    model's)."""
    if not item.content_hash:
        return "not indexed yet"
    return caption(source.answers(item))


def browse_cell(
    rows: list[BrowseItem | GridItem],
    paths: list[str],
    source: LabelSource,
    cluster_names: Mapping[str, str],
    row: int,
) -> GridItem:
    """Row `row` of the grid (a header is a cell already). The grid asks for a cell when it is
    first drawn (`ImageGridModel.set_cells`), so a rebuild of 5,000 images makes the few dozen on
    screen, with the answers of `source` and the cluster names as they were at the rebuild."""
    item = rows[row]
    if isinstance(item, GridItem):
        return item
    return GridItem(
        path=paths[row],
        caption=item.name,
        detail=with_rating(item.rating, item_caption(source, item)),
        tooltip="\n".join(filter(None, (item.relpath, cluster_names.get(item.relpath)))),
    )


class BrowsePage(QWidget):
    def __init__(self, session: Session, thumbnails: ThumbnailCache) -> None:
        super().__init__()
        self.session = session
        self._shown: list[BrowseItem] = []
        self._tree_paths: frozenset[str] = frozenset()  # the images the folder tree counts
        # Rebuilding the grid is the biggest piece of work the UI thread does (85 ms of CPU for
        # 16,758 images): not inside the slot that took a result in (naming the clusters, or
        # loading the indexed items, took 40 ms more), and once for several changes in a row.
        # The user's own sort and filter changes show at once (_controls_changed).
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(0)
        self._refresh.timeout.connect(self.refresh)

        self.sort_box = QComboBox()
        for key in SORT_KEYS:
            self.sort_box.addItem(SORT_TEXT.get(key, key.capitalize()), key)
        self.sort_box.setToolTip("Sorted by cluster, label or rating, the grid has a header per section")
        self.filter_box = QComboBox()
        self.filter_box.setToolTip("Show only images with this label")
        # Its labels come after the first show (the model's, a set's): as wide as they are, or
        # "All images" reads "All image".
        self.filter_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.confidence = QDoubleSpinBox()
        self.confidence.setRange(0.0, 100.0)
        self.confidence.setDecimals(0)
        self.confidence.setSingleStep(5.0)
        self.confidence.setSuffix(" %")
        self.confidence.setToolTip("Show only images whose label is at least this confident")
        self.rating_box = QComboBox()
        self.rating_box.setToolTip("Show only images rated so (Ctrl+1…5 rates the selected images)")
        for text, rating in RATING_CHOICES:
            self.rating_box.addItem(text, rating)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search file names")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Show only images whose file name contains this text")
        self.count = QLabel()
        self.sort_box.currentIndexChanged.connect(self._controls_changed)
        self.filter_box.currentIndexChanged.connect(self._controls_changed)
        self.confidence.valueChanged.connect(self._controls_changed)
        self.rating_box.currentIndexChanged.connect(self._controls_changed)
        self.search.textChanged.connect(self._controls_changed)
        toolbar = QHBoxLayout()
        for text, widget in (
            ("Sort by", self.sort_box),
            ("Show", self.filter_box),
            ("at least", self.confidence),
            ("Rating", self.rating_box),
        ):
            toolbar.addWidget(QLabel(text))
            toolbar.addWidget(widget)
        toolbar.addWidget(self.search, 1)
        toolbar.addWidget(self.count)

        self.folders = FolderTree()
        self.folders.folder_chosen.connect(lambda _: self._controls_changed())
        self.model = ImageGridModel(thumbnails)
        self.grid = ImageGridView()
        self.grid.setModel(self.model)
        self.grid.set_placeholder_text("Open a folder: drop it on the window, or File → Open Folder…")
        self.grid.current_path_changed.connect(self._current_changed)
        self.details = DetailPane()
        self.details.set_thumbnails(thumbnails)
        self.details.correction_requested.connect(lambda path, label: session.correct([path], label))
        self.details.correction_cleared.connect(lambda path: session.correct([path], None))
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("browse-splitter")
        self.splitter.addWidget(self.folders)
        self.splitter.addWidget(self.grid)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 1)
        self.splitter.setSizes([180, 700, 300])

        layout = QVBoxLayout(self)
        layout.addLayout(toolbar)
        layout.addWidget(self.splitter, 1)
        session.changed.connect(self._session_changed)
        session.details_found.connect(lambda found: self._show_details(*found))

    # the session → the widgets ----------------------------------------------------------------------

    def _session_changed(self, changes: Changes) -> None:
        if changes.folder:
            self.details.clear()
            self.model.set_items([])
        if changes.items or changes.folder:
            self._show_labels()
            root = self.session.root
            paths = frozenset(self.session.items)
            if root is not None and (changes.folder or paths != self._tree_paths):  # not for new names
                self.folders.set_folders(root.name, self.session.subfolders(), self.session.filter.folder)
                self._tree_paths = paths
        if changes.filter or changes.folder:
            self._show_filter(self.session.filter)
        if changes.items or changes.filter or changes.folder:  # in a turn of its own
            self._refresh.start()

    def _show_labels(self) -> None:
        labels = self.session.labels
        self.details.set_labels(self.session.model_labels.correctable())  # corrections: the model's
        chosen = self.session.filter.label
        self.filter_box.blockSignals(True)
        self.filter_box.clear()
        self.filter_box.addItem(ALL_IMAGES, None)
        for label in labels.choices():
            self.filter_box.addItem(label.replace("_", " "), label)
        self.filter_box.setCurrentIndex(max(0, self.filter_box.findData(chosen)))
        self.filter_box.blockSignals(False)

    def _show_filter(self, chosen: BrowseFilter) -> None:
        """The controls say what the session filters by (a new folder starts from no filter)."""
        controls = (self.sort_box, self.filter_box, self.confidence, self.rating_box, self.search)
        for widget in controls:
            widget.blockSignals(True)
        self.sort_box.setCurrentIndex(max(0, self.sort_box.findData(self.session.sort)))
        self.filter_box.setCurrentIndex(max(0, self.filter_box.findData(chosen.label)))
        self.confidence.setValue(chosen.min_confidence * 100.0)
        self.rating_box.setCurrentIndex(max(0, self.rating_box.findData(chosen.rating)))
        if self.search.text() != chosen.text:
            self.search.setText(chosen.text)
        for widget in controls:
            widget.blockSignals(False)

    def refresh(self) -> None:
        session = self.session
        if session.root is None:
            return
        prefix = f"{session.root}/"  # plain strings: pathlib costs 40 ms per 5,000 items on the UI thread
        current = self.grid.currentIndex().data(PATH_ROLE)
        selected = self.grid.selected_paths()
        self._shown = session.visible_items()
        rows: list[BrowseItem | GridItem] = []
        sections = [session.section(i) for i in self._shown]
        counts: dict[str, int] = {}
        for section in sections:
            if section is not None:
                counts[section] = counts.get(section, 0) + 1
        last: str | None = None
        for item, section in zip(self._shown, sections, strict=True):
            if section is not None and section != last:
                rows.append(header_item(section, counts[section]))
                last = section
            rows.append(item)
        paths = [prefix + r.relpath if isinstance(r, BrowseItem) else r.path for r in rows]
        cell = partial(browse_cell, rows, paths, session.labels, session.cluster_names)
        self.model.set_cells(paths, cell, headers=bool(counts))
        self.count.setText(f"{len(self._shown):,} of {len(session.items):,} images")
        self.grid.set_placeholder_text(
            "No image matches the filter." if session.items else "No images in this folder (yet)."
        )
        if current and self.model.row_of(current) is not None:
            self.grid.select_paths(selected, current)
            self._current_changed(current)  # labels may have changed (a correction, a rating)
        elif current:
            self.details.clear()  # the filter hid it

    def visible_paths(self) -> list[str]:
        return self.grid.shown_paths()

    # the widgets → the session ----------------------------------------------------------------------

    def _controls_changed(self) -> None:
        """The user's own sort or filter: shown at once, not in a later turn."""
        index = self.folders.currentIndex()
        self.session.set_sort(str(self.sort_box.currentData()))
        self.session.set_filter(
            BrowseFilter(
                label=self.filter_box.currentData(),
                min_confidence=self.confidence.value() / 100.0,
                folder=str(index.data(FOLDER_ROLE)) if index.isValid() else "",
                text=self.search.text(),
                rating=self.rating_box.currentData(),
            )
        )
        if self._refresh.isActive():
            self._refresh.stop()
            self.refresh()

    def _current_changed(self, path: str) -> None:
        item = self.session.items.get(self.session.relpath(path)) if self.session.root else None
        if item is not None:
            self.details.show_image(Path(path), None, self.session.labels.answers(item), item.rating)
            self.session.image_facts(path)

    def _show_details(self, path: str, facts: object) -> None:
        item = self.session.items.get(self.session.relpath(path)) if self.session.root else None
        if item is not None and path == self.grid.currentIndex().data(PATH_ROLE):
            answers = self.session.labels.answers(item)
            self.details.show_image(Path(path), facts, answers, item.rating)  # type: ignore[arg-type]
