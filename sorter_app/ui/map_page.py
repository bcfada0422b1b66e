"""Map: every image as a point laid out by similarity, coloured by cluster, with a legend.

Hover a point to see the image; draw a loop around some points to select them: the loop and the
selected points stay drawn, and the images fill the grid on the right, from where they can be
viewed, opened as similar-image queries, or moved or copied into a folder.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..core.kinds import AnalysisKind, MoveMode
from ..session import Changes, Session
from ..session.wording import ANALYSIS, plural
from .icons import icon
from .image_grid import GridItem, ImageGridModel, ImageGridView
from .map_points import colour
from .map_view import NO_FOLDER, MapView
from .thumbnails import ThumbnailCache

MAP = AnalysisKind.MAP


def swatch(color: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(color)
    return QIcon(pixmap)


class Legend(QListWidget):
    """The clusters' colours, as tall as its rows (up to MAX_HEIGHT, then it scrolls): a fixed
    110 px showed one row of seven clusters above 80 px of nothing."""

    MAX_HEIGHT = 110

    def fit_height(self) -> None:
        self.doItemsLayout()
        rows = self.visualItemRect(self.item(self.count() - 1)).bottom() + 1 if self.count() else 0
        self.setFixedHeight(min(rows + 2 * self.frameWidth() + 2 * self.spacing() + 2, self.MAX_HEIGHT))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.fit_height()  # a new width wraps the items into more or fewer rows


class MapPage(QWidget):
    act_requested = Signal(object, list)  # MoveMode, relpaths lassoed

    def __init__(self, session: Session, thumbnails: ThumbnailCache) -> None:
        super().__init__()
        self.session = session
        self._thumbnails = thumbnails
        self._selection: list[str] = []
        self.status = QLabel(ANALYSIS[MAP].hint)
        self.status.setWordWrap(True)
        self.compute_button = QPushButton("Draw again")
        self.compute_button.setIcon(icon("refresh"))
        self.compute_button.clicked.connect(lambda: session.analyses.compute(MAP))
        header = QHBoxLayout()
        header.addWidget(self.status, 1)
        header.addWidget(self.compute_button)

        self.map = MapView()
        self.map.setToolTip("Hover to preview; drag a loop to select; Esc clears the selection")
        self.map.lassoed.connect(self._lassoed)
        thumbnails.requests_dropped.connect(self.map.update)  # a hover preview asks again when painted
        self.legend = Legend()
        self.legend.setVisible(False)  # until there are clusters to name
        self.legend.setFlow(QListWidget.Flow.LeftToRight)
        self.legend.setWrapping(True)
        self.legend.setIconSize(QSize(12, 12))
        self.legend.setToolTip("Each cluster's colour; grey: in no cluster")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.map, 1)
        left_layout.addWidget(self.legend)

        self.selection = ImageGridModel(thumbnails)
        self.selection_grid = ImageGridView()
        self.selection_grid.setModel(self.selection)
        self.selection_grid.set_placeholder_text("Draw a loop around points to see their images here.")
        self.selection_label = QLabel("Draw a loop around points to see them here.")
        self.selection_label.setWordWrap(True)
        self.action_buttons: list[QPushButton] = []
        actions = QHBoxLayout()
        for mode, text in ((MoveMode.MOVE, "Move into a folder…"), (MoveMode.COPY, "Copy into a folder…")):
            button = QPushButton(text)
            button.setIcon(icon("move" if mode is MoveMode.MOVE else "copy"))
            button.setEnabled(False)
            button.clicked.connect(lambda _=False, m=mode: self.act_requested.emit(m, list(self._selection)))
            self.action_buttons.append(button)
            actions.addWidget(button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.selection_label)
        right_layout.addWidget(self.selection_grid, 1)
        right_layout.addLayout(actions)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("map-splitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([640, 440])

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.splitter, 1)
        session.changed.connect(self._session_changed)

    def _session_changed(self, changes: Changes) -> None:
        analyses = self.session.analyses
        if changes.folder:
            self.map.clear()
            if self.session.root is not None:
                self.map.set_thumbnails(self._thumbnails, self.session.root)
            self._lassoed([])
        if MAP in changes.analyses or changes.folder:
            state = analyses.states[MAP]
            self.status.setText(
                self.map.summary() if state.status == "done" and self.map.has_points() else state.text
            )
            self.map.set_placeholder(NO_FOLDER if self.session.root is None else state.text)
        if (
            MAP in changes.analyses or AnalysisKind.CLUSTERS in changes.groupings
        ) and analyses.map_points is not None:
            points, paths = analyses.map_points
            selected = self.map.selected_paths()
            self.map.set_points(points, paths, analyses.cluster_numbers(paths))
            self.status.setText(self.map.summary())
            self._show_legend()
            if selected:
                self._lassoed([])

    def _show_legend(self) -> None:
        self.legend.clear()
        clusters = self.session.groups.grouping(AnalysisKind.CLUSTERS).groups
        numbered = [g for g in clusters if g.key != "unsorted"]
        for number, group in enumerate(numbered):
            item = QListWidgetItem(swatch(colour(number)), f"{group.name} · {len(group.paths)}")
            self.legend.addItem(item)
        unsorted = [g for g in clusters if g.key == "unsorted"]
        if unsorted or not numbered:
            text = f"no cluster · {len(unsorted[0].paths)}" if unsorted else "not clustered yet"
            self.legend.addItem(QListWidgetItem(swatch(colour(-1)), text))
        self.legend.setVisible(True)
        self.legend.fit_height()

    def selected_relpaths(self) -> list[str]:
        """The images inside the loop."""
        return list(self._selection)

    def _lassoed(self, relpaths: list[str]) -> None:
        self._selection = list(relpaths)
        root = self.session.root
        self.selection.set_items(
            [GridItem(path=f"{root}/{p}", caption=Path(p).name, tooltip=p) for p in relpaths] if root else []
        )
        self.selection_label.setText(
            f"{plural(len(relpaths), 'image')} in the loop"
            if relpaths
            else "Draw a loop around points to see them here."
        )
        for button in self.action_buttons:
            button.setEnabled(bool(relpaths))
