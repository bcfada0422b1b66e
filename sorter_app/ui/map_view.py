"""A 2-D map of a folder's images: similar images lie close together.

The dots are drawn once into an image and hit-tested in numpy (map_points.py); each paint only
blits that image, then draws what follows the mouse: the hovered point with its preview, the lasso
being drawn, or the finished loop with the points it selected ringed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QEvent, QPointF, QRect, QSize, Qt, Signal, SignalInstance
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QPolygonF,
    QResizeEvent,
)
from PySide6.QtWidgets import QToolTip, QWidget

from .map_points import DOT, PointLayer

NO_FOLDER = "Open a folder to see its images laid out by similarity"


class ThumbnailSource(Protocol):
    """What the map and the detail pane need from the thumbnail cache, keyed by absolute path."""

    @property
    def ready(self) -> SignalInstance:
        """Emitted with a path once its thumbnail is cached."""
        ...

    def pixmap(self, path: str) -> QPixmap | None:
        """The cached thumbnail, or None after queueing its load."""
        ...


HOVER_RADIUS = 6.0  # how far from a dot the mouse may be and still hover it
PREVIEW = 160  # longest side of the hover preview, px
LASSO_STEP = 3.0  # px the mouse must move before the lasso gets another vertex


class MapView(QWidget):
    hovered = Signal(str)  # relpath of the point newly under the mouse
    lassoed = Signal(list)  # relpaths inside a finished lasso; never empty

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # Esc must reach us while lassoing
        self.setMinimumSize(200, 150)
        self._layer = PointLayer()
        self._paths: list[str] = []
        self._hover: int | None = None
        self._preview: QPixmap | None = None  # the hovered image's thumbnail, once cached
        self._cursor = QPointF()
        self._lasso: list[QPointF] | None = None
        self._loop: NDArray[np.float32] | None = None  # the last finished lasso (map units), drawn
        self._selected: NDArray[np.int64] = np.zeros(0, np.int64)  # indexes inside it
        self._thumbnails: ThumbnailSource | None = None
        self._root = Path()
        self._placeholder = NO_FOLDER

    # data -----------------------------------------------------------------------------------

    def set_points(
        self, points: NDArray[np.float32], paths: Sequence[str], groups: Sequence[int] | None = None
    ) -> None:
        array = np.asarray(points, dtype=np.float32)
        if array.ndim != 2 or array.shape[1] != 2 or len(array) != len(paths):
            raise ValueError(f"expected {len(paths)} points of shape (n, 2), got {array.shape}")
        if groups is not None and len(groups) != len(paths):
            raise ValueError(f"expected {len(paths)} groups, got {len(groups)}")
        self._paths = list(paths)
        numbers = np.full(len(paths), -1, np.int64) if groups is None else np.asarray(groups, np.int64)
        self._layer.set_points(array, numbers)
        self._hover = None
        self._lasso = None
        self.clear_selection()

    def clear(self) -> None:
        self.set_points(np.zeros((0, 2), np.float32), [])

    @property
    def placeholder(self) -> str:
        return self._placeholder

    def set_placeholder(self, text: str) -> None:
        """What the empty map says: why there is nothing yet (no folder, or the layout under way)."""
        self._placeholder = text
        self.update()

    def set_thumbnails(self, source: ThumbnailSource, root: Path) -> None:
        if self._thumbnails is not None:
            self._thumbnails.ready.disconnect(self._on_thumbnail_ready)
        self._thumbnails = source
        self._root = root
        source.ready.connect(self._on_thumbnail_ready)

    def clear_selection(self) -> None:
        self._loop = None
        self._selected = np.zeros(0, np.int64)
        self.update()

    def selected_paths(self) -> list[str]:
        return [self._paths[i] for i in self._selected.tolist()]

    def groups_present(self) -> list[int]:
        return sorted(set(self._layer.groups.tolist()))

    def has_points(self) -> bool:
        return bool(self._paths)

    def summary(self) -> str:
        if not self._paths:
            return "No images on the map"
        noun = "image" if len(self._paths) == 1 else "images"
        return f"{len(self._paths):,} {noun} · hover to preview · drag a loop to select"

    # rendering ------------------------------------------------------------------------------

    def _rendered_points(self) -> QImage:
        """The dots for the present size, drawn first if need be; hit-tests call it too, as the
        screen coordinates they use are computed with the drawing."""
        return self._layer.image(self.size(), self.devicePixelRatioF())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        if not self._paths:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(
                self.rect(),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._placeholder,
            )
            return
        painter.drawImage(0, 0, self._rendered_points())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self._loop is not None and self._lasso is None:
            self._paint_selection(painter, self._loop)
        if self._lasso is not None:
            self._paint_lasso(painter, self._lasso)
        elif self._hover is not None:
            self._paint_hover(painter, self._hover)

    def _paint_lasso(self, painter: QPainter, lasso: list[QPointF]) -> None:
        highlight = self.palette().highlight().color()
        fill = QColor(highlight)
        fill.setAlpha(40)
        painter.setPen(QPen(highlight, 1.5, Qt.PenStyle.DashLine))
        painter.setBrush(fill)
        painter.drawPolygon(QPolygonF(lasso))

    def _paint_selection(self, painter: QPainter, loop: NDArray[np.float32]) -> None:
        """The finished loop stays drawn (it scales with the map), and every point inside is ringed."""
        highlight = self.palette().highlight().color()
        painter.setPen(QPen(highlight, 1.5, Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        screen = self._layer.to_screen(loop, self.size())
        painter.drawPolygon(QPolygonF([QPointF(float(x), float(y)) for x, y in screen.tolist()]))
        painter.setPen(QPen(highlight, 1.5))
        for x, y in self._layer.screen[self._selected].tolist():
            painter.drawEllipse(QPointF(x, y), DOT * 0.9, DOT * 0.9)

    def _paint_hover(self, painter: QPainter, index: int) -> None:
        x, y = (float(v) for v in self._layer.screen[index])
        painter.setPen(QPen(self.palette().text().color(), 1.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(QPointF(x, y), DOT, DOT)

        thumbnail = self._preview
        image_size = QSize(PREVIEW, PREVIEW * 3 // 4)
        if thumbnail is not None and not thumbnail.isNull():
            image_size = thumbnail.size().scaled(PREVIEW, PREVIEW, Qt.AspectRatioMode.KeepAspectRatio)
        text_height = painter.fontMetrics().height() + 4
        box = self._preview_box(QSize(image_size.width() + 8, image_size.height() + 8 + text_height))

        painter.setPen(QPen(self.palette().mid().color(), 1))
        painter.setBrush(self.palette().window())
        painter.drawRect(box)
        image_rect = QRect(box.x() + 4, box.y() + 4, image_size.width(), image_size.height())
        if thumbnail is not None and not thumbnail.isNull():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(image_rect, thumbnail)
        else:
            painter.fillRect(image_rect, self.palette().alternateBase())
            painter.setPen(self.palette().placeholderText().color())
            if self._thumbnails is not None:
                painter.drawText(image_rect, Qt.AlignmentFlag.AlignCenter, "Loading…")
        name = PurePosixPath(self._paths[index]).name
        text_rect = QRect(box.x() + 4, image_rect.bottom() + 3, image_size.width(), text_height - 2)
        elided = painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideMiddle, text_rect.width())
        painter.setPen(self.palette().text().color())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, elided)

    def _preview_box(self, size: QSize) -> QRect:
        """Beside the cursor, on whichever side has room, and never outside the widget."""
        offset = 16
        x = self._cursor.x() + offset
        if x + size.width() > self.width():
            x = self._cursor.x() - offset - size.width()
        y = self._cursor.y() + offset
        if y + size.height() > self.height():
            y = self._cursor.y() - offset - size.height()
        x = min(max(x, 0), max(self.width() - size.width() - 1, 0))
        y = min(max(y, 0), max(self.height() - size.height() - 1, 0))
        return QRect(int(x), int(y), size.width(), size.height())

    # interaction ----------------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        self._layer.invalidate()
        self.update()
        super().resizeEvent(event)

    def _nearest(self, pos: QPointF) -> int | None:
        if not self._paths:
            return None
        self._rendered_points()
        return self._layer.nearest(pos.x(), pos.y(), HOVER_RADIUS)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton and self._paths:
            self._lasso = [event.position()]
            self.update()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        pos = event.position()
        self._cursor = pos
        if self._lasso is not None:
            last = self._lasso[-1]
            if abs(pos.x() - last.x()) + abs(pos.y() - last.y()) >= LASSO_STEP:
                self._lasso.append(pos)
            self.update()
            return
        index = self._nearest(pos)
        if index is not None or self._hover is not None:
            self.update()  # the preview follows the cursor
        if index != self._hover:
            self._hover = index
            self._preview = None if index is None else self._thumbnail(index)
            if index is not None:
                self.hovered.emit(self._paths[index])

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() != Qt.MouseButton.LeftButton or self._lasso is None:
            super().mouseReleaseEvent(event)
            return
        lasso, self._lasso = self._lasso, None
        self.update()
        if len(lasso) < 3:
            return
        self._rendered_points()
        polygon = np.array([(p.x(), p.y()) for p in lasso], np.float32)
        inside = self._layer.inside(polygon)
        if len(inside):
            self._loop = self._layer.to_units(polygon, self.size())
            self._selected = inside
            self.lassoed.emit([self._paths[i] for i in inside])

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Escape and (self._lasso is not None or self._loop is not None):
            self._lasso = None
            self.clear_selection()
        else:
            super().keyPressEvent(event)

    def event(self, event: QEvent) -> bool:
        """The widget's tooltip (how to use the map) only over empty space: over a point it would
        cover the preview card, which already says what is there."""
        if event.type() == QEvent.Type.ToolTip and self._hover is not None:
            QToolTip.hideText()
            event.ignore()
            return True
        return super().event(event)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if self._hover is not None:
            self._hover = None
            self.update()

    def _thumbnail(self, index: int) -> QPixmap | None:
        if self._thumbnails is None:
            return None
        return self._thumbnails.pixmap(str(self._root / self._paths[index]))

    def _on_thumbnail_ready(self, path: str) -> None:
        if self._hover is not None and path == str(self._root / self._paths[self._hover]):
            self._preview = self._thumbnail(self._hover)
            self.update()
