"""Map: every image as a point laid out by similarity, coloured by cluster.

Hover a point to see the image; draw a loop around some points to see them as a grid on the
right, from where they can be opened as similar-image queries or moved or copied into a folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from .image_grid import GridItem, ImageGridModel, ImageGridView
from .map_view import MapView
from .thumbnails import ThumbnailCache


class MapPage(QWidget):
    compute_requested = Signal()
    similar_requested = Signal(str)  # absolute path
    act_requested = Signal(str, list)  # "move" or "copy", relpaths lassoed

    def __init__(self, thumbnails: ThumbnailCache) -> None:
        super().__init__()
        self._root: Path | None = None
        self._thumbnails = thumbnails
        self._selection: list[str] = []
        self.status = QLabel("The map is drawn once the folder is indexed.")
        self.status.setWordWrap(True)
        self.compute_button = QPushButton("Draw again")
        self.compute_button.clicked.connect(self.compute_requested)
        header = QHBoxLayout()
        header.addWidget(self.status, 1)
        header.addWidget(self.compute_button)

        self.map = MapView()
        self.map.lassoed.connect(self._lassoed)
        thumbnails.requests_dropped.connect(self.map.update)  # a hover preview asks again when painted
        self.selection = ImageGridModel(thumbnails)
        self.selection_grid = ImageGridView()
        self.selection_grid.setModel(self.selection)
        self.selection_grid.activated_path.connect(self.similar_requested)
        self.selection_label = QLabel("Draw a loop around points to see them here.")
        self.selection_label.setWordWrap(True)
        self.action_buttons: list[QPushButton] = []
        actions = QHBoxLayout()
        for mode, text in (("move", "Move into a folder…"), ("copy", "Copy into a folder…")):
            button = QPushButton(text)
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
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.map)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([700, 300])

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(splitter, 1)

    def set_root(self, root: Path | None) -> None:
        self._root = root
        self.map.clear()
        if root is not None:
            self.map.set_thumbnails(self._thumbnails, root)
        self._lassoed([])

    def set_points(self, points: NDArray[np.float32], paths: Sequence[str], groups: Sequence[int]) -> None:
        self.map.set_points(points, paths, groups)
        self.status.setText(self.map.summary())

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def _lassoed(self, relpaths: list[str]) -> None:
        self._selection = list(relpaths)
        root = self._root
        self.selection.set_items(
            [GridItem(path=str(root / p), caption=Path(p).name, tooltip=p) for p in relpaths] if root else []
        )
        self.selection_label.setText(
            f"{len(relpaths)} images in the loop"
            if relpaths
            else "Draw a loop around points to see them here."
        )
        for button in self.action_buttons:
            button.setEnabled(bool(relpaths))
