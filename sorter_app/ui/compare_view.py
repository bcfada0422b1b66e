"""Two copies side by side, zoomed and panned together: is one really worse than the other?"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QWidget

from .icons import icon
from .image_view import FULL_MAX_SIDE, Decoded, ImageLoader, ZoomableImage
from .long_text import ElidedLabel


class ComparePane(QWidget):
    """Left the kept copy, right the other; zoom or drag either and the other follows."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.views = (ZoomableImage(), ZoomableImage())
        self.titles = (ElidedLabel(), ElidedLabel())  # a long path must not widen the window
        self.loaders = (ImageLoader(FULL_MAX_SIDE, self), ImageLoader(FULL_MAX_SIDE, self))
        for side, (view, loader) in enumerate(zip(self.views, self.loaders, strict=True)):
            loader.loaded.connect(lambda decoded, v=view: self._decoded(v, decoded))
            loader.failed.connect(lambda message, v=view: v.set_message(f"Cannot show this image: {message}"))
            other = self.views[1 - side]
            view.view_changed.connect(lambda zoom, cx, cy, o=other: o.set_view(zoom, cx, cy))
        fit = QPushButton("Fit")
        fit.setIcon(icon("zoom-fit"))
        fit.clicked.connect(self.views[0].fit)
        actual = QPushButton("100 %")
        actual.setIcon(icon("zoom-100"))
        actual.setToolTip("Both at 100 %: drag to look around, the other copy follows")
        actual.clicked.connect(lambda: self.views[0].set_zoom(1.0))
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("Zoom and drag either side; the other follows."))
        buttons.addStretch(1)
        buttons.addWidget(fit)
        buttons.addWidget(actual)
        grid = QGridLayout(self)
        grid.addLayout(buttons, 0, 0, 1, 2)
        for side in (0, 1):
            grid.addWidget(self.titles[side], 1, side)
            grid.addWidget(self.views[side], 2, side)
        grid.setRowStretch(2, 1)
        self.paths: tuple[str, str] | None = None

    def compare(self, left: str, right: str, left_title: str, right_title: str) -> None:
        self.paths = (left, right)
        for view, loader, title, path, text in zip(
            self.views, self.loaders, self.titles, (left, right), (left_title, right_title), strict=True
        ):
            view.set_message("Loading…")
            view.set_view(None, 0.5, 0.5)
            title.setText(text)
            title.setToolTip(path)
            loader.load(Path(path))

    def clear(self) -> None:
        self.paths = None
        for view, loader, title in zip(self.views, self.loaders, self.titles, strict=True):
            loader.cancel()
            view.set_message("Select a copy to compare it with the kept one")
            title.clear()

    def _decoded(self, view: ZoomableImage, decoded: Decoded) -> None:
        view.set_image(decoded.image, QSize(decoded.width, decoded.height))
