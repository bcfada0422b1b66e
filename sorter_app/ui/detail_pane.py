"""The selected image, large, with what is known about its file and what the labels say it shows.

The cached thumbnail is shown at once and the sharper image follows from the thread pool
(image_view.py). The pane shows whatever the Browse page says is current; when the filter hides it
or another folder opens, the page clears or replaces it, and after a correction it is shown again
with the new labels.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFormLayout, QLabel, QMenu, QPushButton, QVBoxLayout, QWidget

from ..core.label_source import LabelAnswer, describe
from ..core.ratings import UNRATED, rating_text
from ..session.session import ImageFacts
from ..session.wording import format_size
from .image_view import PANE_MAX_SIDE, Decoded, ImageLoader, ZoomableImage
from .long_text import breakable
from .map_view import ThumbnailSource


def facts_text(path: Path, facts: ImageFacts | None, rating: int = UNRATED) -> dict[str, str]:
    known = {"Name": path.name, "Folder": str(path.parent), "Rating": rating_text(rating)}
    if facts is not None:
        known["Size"] = format_size(facts.size)
        known["Modified"] = time.strftime("%Y-%m-%d %H:%M", time.localtime(facts.mtime_ns / 1e9))
        if facts.width is not None and facts.height is not None:
            known["Dimensions"] = f"{facts.width} × {facts.height}"
        known["Format"] = facts.format or ""
    return known


class FactsForm(QWidget):
    """Name, folder, size, dimensions, date, format, and when, with what and how the camera took
    it: a field nothing is known about is hidden."""

    FIELDS = (
        "Name",
        "Folder",
        "Rating",
        "Size",
        "Dimensions",
        "Modified",
        "Format",
        "Taken",
        "Camera",
        "Lens",
        "Exposure",
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._decoded_path: str | None = None  # the file whose decode told `_decoded`
        self._decoded: dict[str, str] = {}
        self.info: dict[str, QLabel] = {}
        self._form = QFormLayout(self)
        self._form.setContentsMargins(0, 0, 0, 0)
        for field in self.FIELDS:
            value = QLabel()
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            value.setTextFormat(Qt.TextFormat.PlainText)  # a file name may look like markup
            self.info[field] = value
            self._form.addRow(f"{field}:", value)

    def show_facts(self, known: dict[str, str], path: str | None = None) -> None:
        """The facts of `path`: what its decode told (its size and format, its camera's EXIF)
        stays, unless the catalog's facts say otherwise."""
        if path != self._decoded_path:
            self._decoded_path, self._decoded = None, {}
        shown = {**self._decoded, **known}
        for field in self.FIELDS:
            self.set(field, shown.get(field, ""))

    def show_decoded(self, path: str, decoded: Decoded) -> None:
        """What the decode of `path` (the file shown) tells, where nothing else said it."""
        self._decoded_path = path
        self._decoded = {"Dimensions": f"{decoded.width} × {decoded.height}", "Format": decoded.format}
        self._decoded |= decoded.camera
        for field, text in self._decoded.items():
            if not self.info[field].text():
                self.set(field, text)

    def set(self, field: str, text: str) -> None:
        self.info[field].setText(breakable(text))
        self.info[field].setToolTip(text)
        self._form.setRowVisible(self.info[field], bool(text))


class DetailPane(QWidget):
    correction_requested = Signal(str, str)  # absolute path, label
    correction_cleared = Signal(str)  # absolute path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._path: Path | None = None
        self._thumbnails: ThumbnailSource | None = None
        self.loader = ImageLoader(PANE_MAX_SIDE, self)
        self.loader.loaded.connect(self._on_decoded)
        self.image_view = ZoomableImage(interactive=False)
        self.loader.failed.connect(self._on_failed)
        self.facts = FactsForm()
        self.info = self.facts.info
        self.predictions = QLabel()
        self.predictions.setWordWrap(True)

        self.correction_menu = QMenu(self)
        self.correction_menu.triggered.connect(self._on_menu_action)
        self.clear_correction_action = QAction("Clear correction", self)
        # A push button, not a tool button: with a menu, a tool button tucks its arrow into the
        # corner over the text, where a push button gives the arrow its own room after it.
        self.correct_button = QPushButton("Correct prediction")
        self.correct_button.setToolTip("Say what the image shows; your word overrides the model")
        self.correct_button.setMenu(self.correction_menu)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._show_context_menu)

        layout = QVBoxLayout(self)
        layout.addWidget(self.image_view, 1)
        layout.addWidget(self.facts)
        layout.addWidget(self.predictions)
        layout.addWidget(self.correct_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.set_labels([])
        self.clear()

    @property
    def path(self) -> Path | None:
        return self._path

    def set_thumbnails(self, source: ThumbnailSource) -> None:
        self._thumbnails = source

    def set_labels(self, labels: Sequence[str]) -> None:
        """The labels a user may give an image, across all heads."""
        self.correction_menu.clear()
        for label in labels:
            action = self.correction_menu.addAction(label.replace("_", " "))
            action.setData(label)
        self.correction_menu.addSeparator()
        self.correction_menu.addAction(self.clear_correction_action)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(320, 600)

    # showing ----------------------------------------------------------------------------------

    def show_image(
        self, path: Path, facts: ImageFacts | None, answers: Sequence[LabelAnswer], rating: int = UNRATED
    ) -> None:
        """Show `path`; the same image again (new facts, labels or rating) keeps the decoded picture."""
        if path != self._path:
            self._path = path
            thumbnail = self._thumbnails.pixmap(str(path)) if self._thumbnails is not None else None
            if thumbnail is not None and not thumbnail.isNull():
                self.image_view.set_image(thumbnail)
            else:
                self.image_view.set_message("Loading…")
            self.loader.load(path)
        self.facts.show_facts(facts_text(path, facts, rating), str(path))
        lines = [describe(a) for a in answers if a.label is not None]
        self.predictions.setText("\n".join(lines))
        self.predictions.setVisible(bool(lines))
        self.clear_correction_action.setEnabled(any(a.corrected for a in answers))
        self.correct_button.setEnabled(True)

    def clear(self) -> None:
        self.loader.cancel()
        self._path = None
        self.image_view.set_message("Select an image to see it here")
        self.facts.show_facts({})
        self.predictions.clear()
        self.predictions.setVisible(False)
        self.clear_correction_action.setEnabled(False)
        self.correct_button.setEnabled(False)

    def _on_failed(self, message: str) -> None:
        self.image_view.set_message(f"Cannot show this image: {message}")

    def _on_decoded(self, decoded: Decoded) -> None:
        self.image_view.set_image(decoded.image, QSize(decoded.width, decoded.height))
        if self._path is not None:
            self.facts.show_decoded(str(self._path), decoded)

    # corrections ------------------------------------------------------------------------------

    def _show_context_menu(self, pos: QPoint) -> None:
        if self._path is not None:
            self.correction_menu.popup(self.mapToGlobal(pos))

    def _on_menu_action(self, action: QAction) -> None:
        if self._path is None:
            return
        if action is self.clear_correction_action:
            self.correction_cleared.emit(str(self._path))
        else:
            self.correction_requested.emit(str(self._path), str(action.data()))
