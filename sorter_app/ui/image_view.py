"""A large picture: decoded off the UI thread, shown fitted or at 100 %, panned and zoomed.

Used by the detail pane, the full-size viewer and the side-by-side compare. Decoding a 12-MP photo
takes a good fraction of a second, so it runs in the thread pool (as a QImage: pixmaps belong to
the UI thread) and a generation counter drops every result but the last asked for. Painting draws
only the visible part of the image: at 100 % nothing is scaled, fitted it is scaled once per size —
in the thread pool for a large image (Qt's smooth scaling of a 12-MP image spreads over its own
threads and the UI thread waited for them, 50–80 ms with indexing beside it: benchmarks/bench_ui),
drawn quickly without smoothing until the smooth one arrives.
Two views can be tied together (`view_changed` → `set_view`) so that they zoom and pan as one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPainter, QPaintEvent, QPixmap, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..core.camera_facts import camera_facts
from ..core.errors import CancelledError
from ..core.images import load_image_file
from .thumbnails import to_qimage
from .workers import Worker

# Fitted images with more pixels than this are smooth-scaled in the thread pool, not in paintEvent.
SCALE_IN_BACKGROUND_PIXELS = 4_000_000
# JPEGs decode in draft mode at the smallest scale whose shorter side keeps this many pixels.
DECODE_MIN_SIDE = 1200
PANE_MAX_SIDE = 2400  # the detail pane: sharp on a large screen, a few MB for a 12-MP photo
FULL_MAX_SIDE = 8192  # the viewer's 100 %: bounded, so a panorama cannot take gigabytes
ZOOM_STEP = 1.25


@dataclass(frozen=True)
class Decoded:
    generation: int
    image: QImage
    width: int  # of the original, orientation applied
    height: int
    format: str
    camera: dict[str, str] = field(default_factory=dict)  # camera_facts: when, with what, exposure


def decode_for_display(
    path: Path, generation: int, max_side: int, *, cancelled: Callable[[], bool], **_progress: object
) -> Decoded:
    """Runs in the thread pool; a file that cannot be shown raises ImageError with the reason."""
    if cancelled():
        raise CancelledError("another image was asked for before this one was loaded")
    # Size-capped and guarded as indexing reads it; ImageError with the reason if it cannot be shown.
    loaded = load_image_file(path, min_side=min(max_side, max(DECODE_MIN_SIDE, max_side // 2)))
    rgb = loaded.image
    if max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    camera = camera_facts(path)  # the header only, read again: cheap beside the decode
    return Decoded(generation, to_qimage(rgb), loaded.width, loaded.height, loaded.format, camera)


def _smooth_fit(image: QImage, target: QSize, ratio: float) -> QImage:
    fitted = image.scaled(
        target, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
    fitted.setDevicePixelRatio(ratio)
    return fitted


def _scale_job(image: QImage, target: QSize, ratio: float, **_job: object) -> tuple[QImage, QSize, QImage]:
    """Runs in the thread pool (a QImage may be read from several threads; the scaled one is new)."""
    return image, target, _smooth_fit(image, target, ratio)


class ImageLoader(QObject):
    """One picture at a time: a new `load` makes every earlier one's result disappear."""

    loaded = Signal(object)  # Decoded
    failed = Signal(str)

    def __init__(self, max_side: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.max_side = max_side
        self._generation = 0
        self._workers: dict[QObject, tuple[int, Worker]] = {}
        self._pool = QThreadPool.globalInstance()

    def load(self, path: Path, max_side: int | None = None) -> None:
        """Decode `path` to at most `max_side` (default: the loader's) on its longer side."""
        self.cancel()
        worker = Worker(partial(decode_for_display, path, self._generation, max_side or self.max_side))
        worker.signals.result.connect(self._on_result)
        worker.signals.error.connect(self._on_error)
        worker.signals.finished.connect(self._on_finished)
        self._workers[worker.signals] = (self._generation, worker)
        self._pool.start(worker)

    def cancel(self) -> None:
        self._generation += 1
        for _, worker in self._workers.values():
            worker.cancel()

    def _on_result(self, decoded: Decoded) -> None:
        if decoded.generation == self._generation:
            self.loaded.emit(decoded)

    def _on_error(self, message: str) -> None:
        generation, _ = self._workers.get(self.sender(), (-1, None))
        if generation == self._generation:
            self.failed.emit(message)

    def _on_finished(self) -> None:
        self._workers.pop(self.sender(), None)


class ZoomableImage(QWidget):
    """Fitted by default (`zoom` None); `set_zoom(1.0)` is 100 % of the original's pixels."""

    view_changed = Signal(object, float, float)  # zoom (None = fit), centre x, y (0–1 of the image)
    detail_wanted = Signal()  # the view shows the image larger than the pixels it has of it

    def __init__(self, parent: QWidget | None = None, *, interactive: bool = True) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 120)
        self._interactive = interactive
        self._image: QImage | None = None
        self._original = QSize()  # the file's size: 100 % is relative to it
        self._placeholder = False  # a thumbnail standing in until the decode: it fills the view
        self._fitted: QImage | None = None  # the image scaled to the widget, made once per size
        self._fitting: QSize | None = None  # the size a background scale is making, if one runs
        self._scalers: set[Worker] = set()
        self._message = ""
        self.zoom: float | None = None
        self._centre = QPointF(0.5, 0.5)
        self._drag: QPointF | None = None
        if interactive:
            self.setCursor(Qt.CursorShape.OpenHandCursor)

    def image(self) -> QImage | None:
        return self._image

    def message(self) -> str:
        return self._message

    def set_image(self, image: QImage | QPixmap, original: QSize | None = None) -> None:
        self._image = image.toImage() if isinstance(image, QPixmap) else image
        self._original = original or self._image.size()
        self._placeholder = original is None
        self._fitted, self._fitting, self._message = None, None, ""
        self.update()
        self._want_detail()

    def set_message(self, text: str) -> None:
        self._image, self._fitted, self._fitting, self._message = None, None, None, text
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(400, 300)

    # zoom and pan ------------------------------------------------------------------------------

    def fit(self) -> None:
        self.set_view(None, 0.5, 0.5)
        self._announce()

    def set_zoom(self, zoom: float | None) -> None:
        self.set_view(zoom, self._centre.x(), self._centre.y())
        self._announce()

    def set_view(self, zoom: float | None, cx: float, cy: float) -> None:
        """Show at `zoom` (None: fitted) around the image's relative point (cx, cy); no signal."""
        self.zoom = None if zoom is None else max(0.02, min(zoom, 16.0))
        self._centre = QPointF(min(max(cx, 0.0), 1.0), min(max(cy, 0.0), 1.0))
        self.update()
        self._want_detail()

    def _want_detail(self) -> None:
        """Say so when the image shown is a reduced copy of the original (set_image's `original`
        is larger) and the view would draw it larger than its own pixels: time for the full one."""
        image = self._image
        if image is None or image.isNull() or image.width() >= self._original.width():
            return
        drawn = self.scale() * self._original.width() * self.devicePixelRatioF()
        if drawn > image.width() * 1.02:
            self.detail_wanted.emit()

    def scale(self) -> float:
        """Screen pixels per pixel of the original."""
        if self.zoom is not None:
            return self.zoom
        if self._image is None or self._image.isNull() or self._original.isEmpty():
            return 1.0
        return self._fitted_size().width() / self._original.width()

    def _fitted_size(self) -> QSize:
        """The fitted picture's size in screen (device-independent) pixels, in the decoded image's
        own proportions (a camera's 16:9 preview of a 3:2 sensor is not stretched to 3:2). Never
        past 100 % of the file: a 256-px picture blown up to fill the viewer shows only its blur
        (digiKam and Bridge show it at its size, centred); a thumbnail standing in until the
        decode still fills the view, so that the picture does not jump at each step."""
        image = self._image
        if image is None or image.isNull():
            return QSize(1, 1)
        fit = min(self.width() / image.width(), self.height() / image.height())
        if not self._placeholder:
            fit = min(fit, self._original.width() / image.width())
        return QSize(max(1, round(image.width() * fit)), max(1, round(image.height() * fit)))

    def _announce(self) -> None:
        self.view_changed.emit(self.zoom, self._centre.x(), self._centre.y())

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        if not self._interactive or self._image is None:
            super().wheelEvent(event)
            return
        steps = event.angleDelta().y() / 120
        self.set_view(self.scale() * ZOOM_STEP**steps, self._centre.x(), self._centre.y())
        self._announce()
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._interactive and event.button() == Qt.MouseButton.LeftButton and self.zoom is not None:
            self._drag = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._drag is not None and not self._original.isEmpty():
            delta = event.position() - self._drag
            self._drag = event.position()
            scale = self.scale()
            self.set_view(
                self.zoom,
                self._centre.x() - delta.x() / (scale * self._original.width()),
                self._centre.y() - delta.y() / (scale * self._original.height()),
            )
            self._announce()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self._drag = None
        if self._interactive:
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        super().mouseReleaseEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        self._fitted = None
        super().resizeEvent(event)
        self._want_detail()

    def fitted(self) -> QImage | None:
        """The smooth-scaled image drawn when fitted, once it is made (None until then)."""
        return self._fitted

    def _fit(self, image: QImage) -> QImage | None:
        """The fitted image now if it is cheap to make here; else start making it, and None."""
        ratio = self.devicePixelRatioF()
        target = self._fitted_size() * ratio
        if image.width() * image.height() <= SCALE_IN_BACKGROUND_PIXELS:
            self._fitted = _smooth_fit(image, target, ratio)
            return self._fitted
        if self._fitting != target:
            self._fitting = target
            worker = Worker(partial(_scale_job, image, target, ratio))
            worker.signals.result.connect(self._on_fitted)  # a bound slot: gone with this widget
            worker.signals.finished.connect(partial(self._scalers.discard, worker))
            self._scalers.add(worker)
            QThreadPool.globalInstance().start(worker)
        return None

    def _on_fitted(self, made: tuple[QImage, QSize, QImage]) -> None:
        image, target, fitted = made
        if image is self._image and target == self._fitted_size() * self.devicePixelRatioF():
            self._fitted, self._fitting = fitted, None
            self.update()

    # painting ------------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        image = self._image
        if image is None or image.isNull():
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._message
            )
            return
        if self.zoom is None:
            fitted = self._fitted if self._fitted is not None else self._fit(image)
            if fitted is None:  # the smooth one is being made: a quick unsmoothed draw until then
                size = self._fitted_size()
                left, top = (self.width() - size.width()) // 2, (self.height() - size.height()) // 2
                painter.drawImage(QRectF(left, top, size.width(), size.height()), image)
                return
            size = fitted.deviceIndependentSize().toSize()
            painter.drawImage(
                (self.width() - size.width()) // 2, (self.height() - size.height()) // 2, fitted
            )
            return
        # Zoomed: the part of the image around the centre that fits the widget, drawn unscaled at 100 %.
        per_pixel = image.width() / max(1, self._original.width())  # decoded pixels per original pixel
        scale = self.zoom / per_pixel  # screen pixels per decoded pixel
        source_w, source_h = self.width() / scale, self.height() / scale
        cx, cy = self._centre.x() * image.width(), self._centre.y() * image.height()
        source = QRectF(cx - source_w / 2, cy - source_h / 2, source_w, source_h)
        if scale >= 1.0:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        else:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(QRectF(self.rect()), image, source)
