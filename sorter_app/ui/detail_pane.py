"""The selected image, large, with what is known about its file and what the model thinks it shows.

A 12-MP photo takes a noticeable fraction of a second to decode, so the cached thumbnail is shown at
once and the sharper image is decoded in the thread pool (as a QImage: pixmaps belong to the UI
thread). Clicking through images quickly starts many loads; a generation counter drops every result
but the one for the image still shown, and loads not yet started are cancelled.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, QPoint, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QAction, QImage, QPainter, QPaintEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import CancelledError
from ..core.images import load_image_file
from ..core.predictions import UNKNOWN, Prediction
from .map_view import ThumbnailSource
from .wording import format_size
from .workers import Worker

# JPEGs decode in draft mode at the smallest scale whose shorter side keeps this many pixels, then
# are cut to MAX_SIDE: sharp on a large screen, and a few megabytes instead of 36 for a 12-MP photo.
DECODE_MIN_SIDE = 1200
MAX_SIDE = 2400


@dataclass(frozen=True)
class ImageFacts:
    """What the catalog knows about a file; width, height and format are None until decoded."""

    size: int
    mtime_ns: int
    width: int | None
    height: int | None
    format: str | None


@dataclass(frozen=True)
class _Decoded:
    generation: int  # which show_image() asked for it
    image: QImage
    width: int  # of the original, orientation applied
    height: int
    format: str


def _decode_for_display(
    path: Path, generation: int, *, cancelled: Callable[[], bool], **_progress: object
) -> _Decoded:
    """Runs in the thread pool. A single image has no progress to report; a file that cannot be
    shown raises ImageError, whose reason the Worker's error signal carries."""
    if cancelled():
        raise CancelledError("another image was selected before this one was loaded")
    loaded = load_image_file(path, min_side=DECODE_MIN_SIDE)  # size-capped; ImageError if unreadable
    rgb = loaded.image
    if max(rgb.size) > MAX_SIDE:
        rgb.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
    w, h = rgb.size
    pixels = rgb.tobytes()
    image = QImage(pixels, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # owns its pixels
    return _Decoded(generation, image, loaded.width, loaded.height, loaded.format)


class FittedImage(QWidget):
    """A picture scaled to fit, aspect kept, or a line of text where there is no picture."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 120)
        self._pixmap: QPixmap | None = None
        self._scaled: QPixmap | None = None  # rescaled once per size, not on every paint
        self._message = ""

    def pixmap(self) -> QPixmap | None:
        return self._pixmap

    def message(self) -> str:
        return self._message

    def set_pixmap(self, pixmap: QPixmap) -> None:
        self._pixmap, self._scaled, self._message = pixmap, None, ""
        self.update()

    def set_message(self, text: str) -> None:
        self._pixmap, self._scaled, self._message = None, None, text
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(400, 300)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        self._scaled = None
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        if self._pixmap is None or self._pixmap.isNull():
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._message
            )
            return
        if self._scaled is None:
            ratio = self.devicePixelRatioF()
            self._scaled = self._pixmap.scaled(
                self.size() * ratio,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            self._scaled.setDevicePixelRatio(ratio)
        size = self._scaled.deviceIndependentSize().toSize()
        painter.drawPixmap(
            (self.width() - size.width()) // 2, (self.height() - size.height()) // 2, self._scaled
        )


def prediction_lines(prediction: Prediction) -> list[str]:
    """One line per head that applies, e.g. "Room: kitchen · 81 %"; "unknown" is said as such."""
    lines = []
    for head, answer in prediction.answers.items():
        if answer.label is None:  # the head does not apply, e.g. no room for an outdoor photo
            continue
        title = head.replace("_", " ").capitalize()
        label = answer.label.replace("_", " ")
        if getattr(answer, "corrected", False):
            lines.append(f"{title}: {label} · corrected by you")
        elif answer.label == UNKNOWN:
            lines.append(f"{title}: unknown (not confident)")
        elif answer.confidence is None:
            lines.append(f"{title}: {label}")
        else:
            lines.append(f"{title}: {label} · {answer.confidence * 100:.0f} %")
    return lines


class DetailPane(QWidget):
    correction_requested = Signal(str, str)  # absolute path, label
    correction_cleared = Signal(str)  # absolute path

    FIELDS = ("Name", "Folder", "Size", "Dimensions", "Modified", "Format")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool.globalInstance()
        self._generation = 0
        # Loads by their signals object (a slot's sender): generation, and the worker kept alive till done.
        self._loads: dict[QObject, tuple[int, Worker]] = {}
        self._path: Path | None = None
        self._thumbnails: ThumbnailSource | None = None

        self.image_view = FittedImage()
        self.info: dict[str, QLabel] = {}
        self._form = form = QFormLayout()
        for field in self.FIELDS:
            value = QLabel()
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            self.info[field] = value
            form.addRow(f"{field}:", value)
        self.predictions = QLabel()
        self.predictions.setWordWrap(True)

        self.correction_menu = QMenu(self)
        self.correction_menu.triggered.connect(self._on_menu_action)
        self.clear_correction_action = QAction("Clear correction", self)
        self.correct_button = QToolButton()
        self.correct_button.setText("Correct prediction…")
        self.correct_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.correct_button.setMenu(self.correction_menu)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._show_context_menu)

        layout = QVBoxLayout(self)
        layout.addWidget(self.image_view, 1)
        layout.addLayout(form)
        layout.addWidget(self.predictions)
        layout.addWidget(self.correct_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.set_labels([])
        self.clear()

    def set_thumbnails(self, source: ThumbnailSource) -> None:
        self._thumbnails = source

    def set_labels(self, labels: Sequence[str]) -> None:
        """The labels a user may correct a prediction to, across all heads."""
        self.correction_menu.clear()
        for label in labels:
            action = self.correction_menu.addAction(label.replace("_", " "))
            action.setData(label)
        self.correction_menu.addSeparator()
        self.correction_menu.addAction(self.clear_correction_action)

    # showing ----------------------------------------------------------------------------------

    def show_image(self, path: Path, facts: ImageFacts | None, prediction: Prediction | None) -> None:
        self._start_generation()
        self._path = path
        thumbnail = self._thumbnails.pixmap(str(path)) if self._thumbnails is not None else None
        if thumbnail is not None and not thumbnail.isNull():
            self.image_view.set_pixmap(thumbnail)
        else:
            self.image_view.set_message("Loading…")
        self._show_info(path, facts)
        lines = prediction_lines(prediction) if prediction is not None else []
        self.predictions.setText("\n".join(lines))
        self.predictions.setVisible(bool(lines))
        corrected = prediction is not None and any(
            getattr(answer, "corrected", False) for answer in prediction.answers.values()
        )
        self.clear_correction_action.setEnabled(corrected)
        self.correct_button.setEnabled(True)

        worker = Worker(partial(_decode_for_display, path, self._generation))
        worker.signals.result.connect(self._on_decoded)
        worker.signals.error.connect(self._on_decode_error)
        worker.signals.finished.connect(self._on_worker_finished)
        self._loads[worker.signals] = (self._generation, worker)
        self._pool.start(worker)

    def clear(self) -> None:
        self._start_generation()
        self._path = None
        self.image_view.set_message("Select an image to see it here")
        for field in self.FIELDS:
            self._set_info(field, "")
        self.predictions.clear()
        self.predictions.setVisible(False)
        self.clear_correction_action.setEnabled(False)
        self.correct_button.setEnabled(False)

    def _start_generation(self) -> None:
        """Whatever is loading now is for an image no longer shown."""
        self._generation += 1
        for _, worker in self._loads.values():
            worker.cancel()

    def _show_info(self, path: Path, facts: ImageFacts | None) -> None:
        known = {"Name": path.name, "Folder": str(path.parent)}
        if facts is not None:
            known["Size"] = format_size(facts.size)
            known["Modified"] = time.strftime("%Y-%m-%d %H:%M", time.localtime(facts.mtime_ns / 1e9))
            if facts.width is not None and facts.height is not None:
                known["Dimensions"] = f"{facts.width} × {facts.height}"
            known["Format"] = facts.format or ""
        for field in self.FIELDS:
            self._set_info(field, known.get(field, ""))

    def _set_info(self, field: str, text: str) -> None:
        """A field nothing is known about is hidden rather than shown blank."""
        self.info[field].setText(text)
        self._form.setRowVisible(self.info[field], bool(text))

    # worker signals (main thread) -------------------------------------------------------------

    def _on_decoded(self, decoded: _Decoded) -> None:
        if decoded.generation != self._generation:
            return
        self.image_view.set_pixmap(QPixmap.fromImage(decoded.image))
        if not self.info["Dimensions"].text():
            self._set_info("Dimensions", f"{decoded.width} × {decoded.height}")
        if not self.info["Format"].text():
            self._set_info("Format", decoded.format)

    def _on_decode_error(self, message: str) -> None:
        generation, _ = self._loads[self.sender()]
        if generation == self._generation:
            self.image_view.set_message(f"Cannot show this image: {message}")

    def _on_worker_finished(self) -> None:
        del self._loads[self.sender()]

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
