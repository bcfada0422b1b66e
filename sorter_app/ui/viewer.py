"""The full-size viewer: one image large, arrows to the next, fit or 100 %, its facts; Esc returns.

Opened from any grid (double-click or Space) on the images that grid shows, in its order. The
image decodes off the UI thread; the thumbnail stands in until it arrives, so paging through
12-MP photos never waits for a decode. What is decoded first is a screen-sized copy (a JPEG's
reduced-scale decode: a quarter of the pixels of a 12-MP photo on a 1920-px screen); the file's
full resolution is decoded only when the user zooms past what that copy holds, as photo browsers
do. Decoding and converting every photo at 12 MP while paging kept the other threads busy enough
to hold up the window's own (bench_ui's viewer phase: gaps of 100–180 ms).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from .detail_pane import FactsForm
from .icons import icon
from .image_view import DECODE_MIN_SIDE, FULL_MAX_SIDE, Decoded, ImageLoader, ZoomableImage
from .map_view import ThumbnailSource
from .rating_keys import rating_of_key

FactsFor = Callable[[str], tuple[dict[str, str], list[str]]]  # path → (facts, label lines)


class Viewer(QWidget):
    closed = Signal()
    current_changed = Signal(str)
    rating_requested = Signal(list, int)  # [the current path], rating: Ctrl+0…5, Alt+Del

    def __init__(
        self, thumbnails: ThumbnailSource, facts_for: FactsFor, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._thumbnails = thumbnails
        self._facts_for = facts_for
        self._paths: list[str] = []
        self._at = -1
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.loader = ImageLoader(FULL_MAX_SIDE, self)
        self.loader.loaded.connect(self._on_decoded)
        self._full_for: str | None = None  # the image whose full resolution was asked for
        self.image = ZoomableImage()
        self.image.detail_wanted.connect(self._load_full_resolution)
        self.loader.failed.connect(lambda message: self._failed(message))
        self.image.view_changed.connect(lambda *_: self._update_zoom_label())
        self.title = QLabel()
        self.position = QLabel()
        self.zoom_label = QLabel()
        bar = QHBoxLayout()
        self.back_button = self._button("close", "Back to the grid (Esc)", self.closed.emit)
        self.previous_button = self._button("back", "Previous image (←)", lambda: self.step(-1))
        self.next_button = self._button("forward", "Next image (→)", lambda: self.step(1))
        self.fit_button = self._button("zoom-fit", "Zoom to fit (F)", self.image.fit)
        self.actual_button = self._button("zoom-100", "100 % (1)", lambda: self.image.set_zoom(1.0))
        for widget in (self.back_button, self.previous_button, self.next_button, self.position, self.title):
            bar.addWidget(widget)
        bar.addStretch(1)
        for widget in (self.zoom_label, self.fit_button, self.actual_button):
            bar.addWidget(widget)

        self.facts = FactsForm()
        self.labels = QLabel()
        self.labels.setWordWrap(True)
        side = QVBoxLayout()
        side.addWidget(self.facts)
        side.addWidget(self.labels)
        side.addStretch(1)
        side_widget = QWidget()
        side_widget.setLayout(side)
        side_widget.setFixedWidth(260)
        body = QHBoxLayout()
        body.addWidget(self.image, 1)
        body.addWidget(side_widget)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(body, 1)

    def _button(self, name: str, tip: str, slot: Callable[[], object]) -> QToolButton:
        button = QToolButton()
        button.setIcon(icon(name))
        button.setIconSize(QSize(20, 20))
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(lambda: slot())
        return button

    @property
    def current(self) -> str | None:
        return self._paths[self._at] if 0 <= self._at < len(self._paths) else None

    def open(self, paths: Sequence[str], start: str) -> None:
        self._paths = list(paths)
        self._at = self._paths.index(start) if start in self._paths else 0
        self._show()
        self.setFocus()

    def step(self, offset: int) -> None:
        if self._paths:
            self._at = min(max(self._at + offset, 0), len(self._paths) - 1)
            self._show()

    def refresh_facts(self) -> None:
        if self.current is not None:
            facts, lines = self._facts_for(self.current)
            self.facts.show_facts(facts, self.current)
            self.labels.setText("\n".join(lines))

    def _show(self) -> None:
        path = self.current
        if path is None:
            return
        thumbnail = self._thumbnails.pixmap(path)
        if thumbnail is not None and not thumbnail.isNull():
            self.image.set_image(thumbnail)
        else:
            self.image.set_message("Loading…")
        self._full_for = None
        self.image.set_view(self.image.zoom, 0.5, 0.5)
        self.loader.load(Path(path), self.preview_side())
        self.title.setText(Path(path).name)
        self.position.setText(f"{self._at + 1:,} of {len(self._paths):,}")
        self.previous_button.setEnabled(self._at > 0)
        self.next_button.setEnabled(self._at < len(self._paths) - 1)
        self.refresh_facts()
        self._update_zoom_label()
        self.current_changed.emit(path)

    def preview_side(self) -> int:
        """The longer side of the first decode: the screen's, in device pixels (never less than
        what indexing decodes, never more than the full resolution's cap)."""
        screen = self.screen()
        size = screen.size() * screen.devicePixelRatio()
        return max(DECODE_MIN_SIDE, min(FULL_MAX_SIDE, max(size.width(), size.height())))

    def _load_full_resolution(self) -> None:
        path = self.current
        if path is not None and self._full_for != path:
            self._full_for = path
            self.loader.load(Path(path))  # the loader's own cap: full resolution

    def _failed(self, message: str) -> None:
        self.image.set_message(f"Cannot show this image: {message}")

    def _on_decoded(self, decoded: Decoded) -> None:
        self.image.set_image(decoded.image, QSize(decoded.width, decoded.height))
        if self.current is not None:
            self.facts.show_decoded(self.current, decoded)
        self._update_zoom_label()

    def _update_zoom_label(self) -> None:
        self.zoom_label.setText("fitted" if self.image.zoom is None else f"{self.image.scale() * 100:.0f} %")

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        key = event.key()
        if (rating := rating_of_key(event)) is not None and self.current is not None:
            self.rating_requested.emit([self.current], rating)  # before "1" (100 %): Ctrl+1 is a star
        elif key == Qt.Key.Key_Escape:
            self.closed.emit()
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_PageDown, Qt.Key.Key_Space):
            self.step(1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_PageUp, Qt.Key.Key_Backspace):
            self.step(-1)
        elif key == Qt.Key.Key_Home:
            self.step(-len(self._paths))
        elif key == Qt.Key.Key_End:
            self.step(len(self._paths))
        elif key == Qt.Key.Key_F:
            self.image.fit()
        elif key == Qt.Key.Key_1:
            self.image.set_zoom(1.0)
        elif event.matches(QKeySequence.StandardKey.ZoomIn) or key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.image.set_zoom(self.image.scale() * 1.25)
        elif event.matches(QKeySequence.StandardKey.ZoomOut) or key == Qt.Key.Key_Minus:
            self.image.set_zoom(self.image.scale() / 1.25)
        else:
            super().keyPressEvent(event)
            return
        event.accept()
