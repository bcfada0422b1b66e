"""Browse: the whole folder as a thumbnail grid, sorted and filtered, with a detail pane.

Sorting and filtering are core functions (core/browse.py) over plain items; the page only keeps
the user's choices and shows the result. The grid fills as soon as the folder is listed, before
indexing has finished; predictions and clusters arrive later and re-sort without losing the
selection.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..core.browse import SORT_KEYS, BrowseItem, filter_items, sort_items
from ..core.predictions import UNKNOWN, Prediction
from .detail_pane import DetailPane, ImageFacts
from .image_grid import PATH_ROLE, GridItem, ImageGridModel, ImageGridView
from .thumbnails import ThumbnailCache

ALL_IMAGES = "All images"


def prediction_caption(prediction: Prediction | None) -> str:
    """The second line under a thumbnail: the most specific answer, its confidence, or a tick."""
    if prediction is None:
        return ""
    answers = [a for a in prediction.answers.values() if a.label is not None]
    if not answers:
        return ""
    if any(getattr(a, "corrected", False) for a in answers):
        return f"{prediction.best_label} ✓"
    for answer in reversed(answers):  # room before scene, as Prediction.best_label does
        if answer.label != UNKNOWN and answer.confidence is not None:
            return f"{answer.label} {answer.confidence:.0%}"
    return UNKNOWN


class BrowsePage(QWidget):
    similar_requested = Signal(str)  # absolute path
    seeds_requested = Signal(list)  # absolute paths
    correction_requested = Signal(str, str)  # absolute path, label
    correction_cleared = Signal(str)
    details_requested = Signal(str)  # absolute path of the new current image

    def __init__(self, thumbnails: ThumbnailCache) -> None:
        super().__init__()
        self._root: Path | None = None
        self._items: list[BrowseItem] = []
        self._by_path: dict[str, BrowseItem] = {}
        self._prefix = ""
        self._labels: list[str] = []

        self.sort_box = QComboBox()
        for key in SORT_KEYS:
            self.sort_box.addItem(key.capitalize(), key)
        self.sort_box.currentIndexChanged.connect(self.refresh)
        self.filter_box = QComboBox()
        self.filter_box.addItem(ALL_IMAGES, None)
        self.filter_box.currentIndexChanged.connect(self.refresh)
        self.confidence = QDoubleSpinBox()
        self.confidence.setRange(0.0, 100.0)
        self.confidence.setDecimals(0)
        self.confidence.setSingleStep(5.0)
        self.confidence.setSuffix(" %")
        self.confidence.setToolTip("Show only images whose prediction is at least this confident")
        self.confidence.valueChanged.connect(self.refresh)
        self.count = QLabel()
        toolbar = QHBoxLayout()
        for text, widget in (("Sort by", self.sort_box), ("Show", self.filter_box)):
            toolbar.addWidget(QLabel(text))
            toolbar.addWidget(widget)
        toolbar.addWidget(QLabel("at least"))
        toolbar.addWidget(self.confidence)
        toolbar.addStretch(1)
        toolbar.addWidget(self.count)

        self.model = ImageGridModel(thumbnails)
        self.grid = ImageGridView()
        self.grid.setModel(self.model)
        self.grid.activated_path.connect(self.similar_requested)
        self.grid.current_path_changed.connect(self._current_changed)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._context_menu)
        self.details = DetailPane()
        self.details.set_thumbnails(thumbnails)
        self.details.correction_requested.connect(self.correction_requested)
        self.details.correction_cleared.connect(self.correction_cleared)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.grid)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([760, 300])

        layout = QVBoxLayout(self)
        layout.addLayout(toolbar)
        layout.addWidget(splitter, 1)

    def set_labels(self, labels: Sequence[str], correction_labels: Sequence[str]) -> None:
        """Filter choices (with "unknown") and the labels a user may correct an image to."""
        self._labels = list(correction_labels)
        self.details.set_labels(self._labels)
        chosen = self.filter_box.currentData()
        self.filter_box.blockSignals(True)
        self.filter_box.clear()
        self.filter_box.addItem(ALL_IMAGES, None)
        for label in labels:
            self.filter_box.addItem(label.replace("_", " "), label)
        self.filter_box.setCurrentIndex(max(0, self.filter_box.findData(chosen)))
        self.filter_box.blockSignals(False)

    def set_items(self, root: Path, items: Sequence[BrowseItem]) -> None:
        """A new folder clears the view; the same folder re-sorts and keeps the current image."""
        if root != self._root:
            self._root = root
            self.details.clear()
            self.model.set_items([])
        self._items = list(items)
        self._prefix = f"{root}/"  # plain strings: pathlib costs 40 ms per 5,000 items on the UI thread
        self._by_path = {self._prefix + i.relpath: i for i in self._items}
        self.refresh()

    def items(self) -> list[BrowseItem]:
        return list(self._items)

    def item(self, path: str) -> BrowseItem | None:
        return self._by_path.get(path)

    def refresh(self) -> None:
        if self._root is None:
            return
        prefix = self._prefix
        shown = filter_items(self._items, self.filter_box.currentData(), self.confidence.value() / 100.0)
        shown = sort_items(shown, self.sort_box.currentData())
        current = self.grid.currentIndex().data(PATH_ROLE)
        self.model.set_items(
            [
                GridItem(
                    path=prefix + i.relpath,
                    caption=i.relpath.rpartition("/")[2],
                    detail=prediction_caption(i.prediction),
                    tooltip=i.relpath + (f"\n{i.group}" if i.group else ""),
                )
                for i in shown
            ]
        )
        self.count.setText(f"{len(shown):,} of {len(self._items):,} images")
        if current:
            self.grid.select_path(current)

    def show_details(self, path: str, facts: ImageFacts | None) -> None:
        item = self._by_path.get(path)
        if item is not None and path == self.grid.currentIndex().data(PATH_ROLE):
            self.details.show_image(Path(path), facts, item.prediction)

    def _current_changed(self, path: str) -> None:
        item = self._by_path.get(path)
        if item is not None:
            self.details.show_image(Path(path), None, item.prediction)
            self.details_requested.emit(path)

    def _correct_all(self, paths: list[str], label: str | None) -> None:
        for path in paths:
            if label is None:
                self.correction_cleared.emit(path)
            else:
                self.correction_requested.emit(path, label)

    def _context_menu(self, pos: QPoint) -> None:
        chosen = self.grid.selected_paths()
        if not chosen:
            return
        menu = QMenu(self)
        menu.addAction("Show similar images", lambda: self.similar_requested.emit(chosen[0]))
        menu.addAction(
            "Use as seed" + (f"s ({len(chosen)})" if len(chosen) > 1 else ""),
            lambda: self.seeds_requested.emit(chosen),
        )
        if self._labels:
            correct = menu.addMenu("This is…")
            for label in self._labels:
                action = correct.addAction(label.replace("_", " "))
                action.triggered.connect(partial(self._correct_all, chosen, label))
            menu.addAction("Clear correction").triggered.connect(partial(self._correct_all, chosen, None))
        menu.exec(self.grid.viewport().mapToGlobal(pos))
