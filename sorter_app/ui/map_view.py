"""A 2-D map of a folder's images: similar images lie close together.

Tens of thousands of points cannot be drawn one QPainter call at a time on every paint, so the
points are rendered once into a cached image (per size and point set) and each paint only blits it,
then draws the few things that follow the mouse: the hovered point, its preview and the lasso.
Hit-testing (hover, lasso) runs in numpy over screen coordinates cached with that image.
"""

from __future__ import annotations

import math
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
from PySide6.QtWidgets import QWidget


class ThumbnailSource(Protocol):
    """What the map and the detail pane need from the thumbnail cache, keyed by absolute path."""

    @property
    def ready(self) -> SignalInstance:
        """Emitted with a path once its thumbnail is cached."""
        ...

    def pixmap(self, path: str) -> QPixmap | None:
        """The cached thumbnail, or None after queueing its load."""
        ...


# Tableau 20: hues that stay distinguishable next to each other; past 20 clusters, colours come
# from the golden-angle hue walk (colour()), so no two clusters share one; -1 (no group) is grey.
PALETTE = tuple(
    QColor(c)
    for c in (
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
        "#9c755f", "#17becf", "#a0cbe8", "#ffbe7d", "#ff9d9a", "#86bcb6", "#8cd17d", "#f1ce63",
        "#d4a6c8", "#fabfd2", "#d7b5a6", "#bcbd22",
    )
)  # fmt: skip
UNGROUPED = QColor("#9a9a9a")


def colour(group: int) -> QColor:
    """The colour of cluster number `group` (0-based); grey for -1."""
    if group < 0:
        return UNGROUPED
    if group < len(PALETTE):
        return PALETTE[group]
    hue = (group * 0.618033988749895) % 1.0
    return QColor.fromHsvF(hue, 0.55 + 0.3 * ((group // 7) % 2), 0.8)


MARGIN = 12  # px around the points, so that dots on the border are drawn whole
DOT = 5.0  # dot diameter, px
HOVER_RADIUS = 6.0  # how far from a dot the mouse may be and still hover it
PREVIEW = 160  # longest side of the hover preview, px
_SPRITE = 8  # side of the image a dot is stamped from, px
LASSO_STEP = 3.0  # px the mouse must move before the lasso gets another vertex


class MapView(QWidget):
    hovered = Signal(str)  # relpath of the point newly under the mouse
    lassoed = Signal(list)  # relpaths inside a finished lasso; never empty

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # Esc must reach us while lassoing
        self.setMinimumSize(200, 150)
        self._points: NDArray[np.float32] = np.zeros((0, 2), np.float32)
        self._paths: list[str] = []
        self._groups: NDArray[np.int64] = np.zeros(0, np.int64)
        self._screen: NDArray[np.float32] = np.zeros((0, 2), np.float32)
        self._rendered: QImage | None = None
        self._hover: int | None = None
        self._preview: QPixmap | None = None  # the hovered image's thumbnail, once cached
        self._cursor = QPointF()
        self._lasso: list[QPointF] | None = None
        self._loop: NDArray[np.float32] | None = None  # the last finished lasso (map units), drawn
        self._selected: NDArray[np.int64] = np.zeros(0, np.int64)  # indexes inside it
        self._thumbnails: ThumbnailSource | None = None
        self._root = Path()

    # data -----------------------------------------------------------------------------------

    def set_points(
        self, points: NDArray[np.float32], paths: Sequence[str], groups: Sequence[int] | None = None
    ) -> None:
        array = np.asarray(points, dtype=np.float32)
        if array.ndim != 2 or array.shape[1] != 2 or len(array) != len(paths):
            raise ValueError(f"expected {len(paths)} points of shape (n, 2), got {array.shape}")
        if groups is not None and len(groups) != len(paths):
            raise ValueError(f"expected {len(paths)} groups, got {len(groups)}")
        self._points = array
        self._paths = list(paths)
        self._groups = np.full(len(paths), -1, np.int64) if groups is None else np.asarray(groups, np.int64)
        self._hover = None
        self._lasso = None
        self.clear_selection()
        self._invalidate()

    def clear(self) -> None:
        self.set_points(np.zeros((0, 2), np.float32), [])

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
        return sorted(set(self._groups.tolist()))

    def has_points(self) -> bool:
        return bool(self._paths)

    def summary(self) -> str:
        if not self._paths:
            return "No images on the map"
        noun = "image" if len(self._paths) == 1 else "images"
        return f"{len(self._paths):,} {noun} · hover to preview · drag a loop to select"

    # rendering ------------------------------------------------------------------------------

    def _invalidate(self) -> None:
        self._rendered = None
        self.update()

    def _rendered_points(self) -> QImage:
        """The cached rendering, made first if the size or the points changed; hit-tests call this
        too, as the screen coordinates they use are computed with it."""
        if self._rendered is None:
            self._rendered = self._render_points()
        return self._rendered

    def _render_points(self) -> QImage:
        """Draws every dot once; paints reuse the result until the size or the points change.

        Each dot is a copy of a small antialiased disc: stroking 20,000 round antialiased points
        costs Qt about 60 ms, stamping a ready-made disc about 10 ms.
        """
        ratio = self.devicePixelRatioF()
        image = QImage(self.size() * ratio, QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(ratio)
        image.fill(Qt.GlobalColor.transparent)
        span = np.array([self.width() - 2 * MARGIN, self.height() - 2 * MARGIN], np.float32)
        self._screen = MARGIN + self._points * np.maximum(span, 1)
        corners = np.rint(self._screen - _SPRITE / 2).astype(np.int64)
        painter = QPainter(image)
        for group in sorted(set(self._groups.tolist())):  # grey (-1) first: groups stay on top
            mask = self._groups == group
            dot = _dot_sprite(colour(group), ratio)
            for x, y in corners[mask].tolist():
                painter.drawImage(x, y, dot)
        painter.end()
        return image

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        if not self._paths:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(
                self.rect(),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                "Open a folder to see its images laid out by similarity",
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
        span = np.maximum(np.array([self.width() - 2 * MARGIN, self.height() - 2 * MARGIN], np.float32), 1)
        screen = MARGIN + loop * span
        painter.drawPolygon(QPolygonF([QPointF(float(x), float(y)) for x, y in screen.tolist()]))
        painter.setPen(QPen(highlight, 1.5))
        for x, y in self._screen[self._selected].tolist():
            painter.drawEllipse(QPointF(x, y), DOT * 0.9, DOT * 0.9)

    def _paint_hover(self, painter: QPainter, index: int) -> None:
        x, y = (float(v) for v in self._screen[index])
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
        self._invalidate()
        super().resizeEvent(event)

    def _nearest(self, pos: QPointF) -> int | None:
        if not self._paths:
            return None
        self._rendered_points()
        d2 = ((self._screen - np.array([pos.x(), pos.y()], np.float32)) ** 2).sum(axis=1)
        index = int(np.argmin(d2))
        return index if d2[index] <= HOVER_RADIUS**2 else None

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
        inside = np.flatnonzero(points_in_polygon(self._screen, polygon))
        if len(inside):
            span = np.maximum(
                np.array([self.width() - 2 * MARGIN, self.height() - 2 * MARGIN], np.float32), 1
            )
            self._loop = ((polygon - MARGIN) / span).astype(np.float32)
            self._selected = inside.astype(np.int64)
            self.lassoed.emit([self._paths[i] for i in inside])

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Escape and (self._lasso is not None or self._loop is not None):
            self._lasso = None
            self.clear_selection()
        else:
            super().keyPressEvent(event)

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


def _dot_sprite(colour: QColor, ratio: float) -> QImage:
    side = math.ceil(_SPRITE * ratio)
    sprite = QImage(side, side, QImage.Format.Format_ARGB32_Premultiplied)
    sprite.setDevicePixelRatio(ratio)
    sprite.fill(Qt.GlobalColor.transparent)
    painter = QPainter(sprite)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawEllipse(QPointF(_SPRITE / 2, _SPRITE / 2), DOT / 2, DOT / 2)
    painter.end()
    return sprite


def points_in_polygon(points: NDArray[np.float32], polygon: NDArray[np.float32]) -> NDArray[np.bool_]:
    """Even-odd rule: a point is inside if a ray to its right crosses the outline an odd number of
    times. With the points sorted by y, the points level with an edge are one slice, so each edge
    costs numpy work on that slice only: about points × crossings in all, not points × edges (a long
    lasso has a thousand edges)."""
    order = np.argsort(points[:, 1], kind="stable")
    xs, ys = points[order, 0], points[order, 1]
    x1, y1 = polygon[:, 0], polygon[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    with np.errstate(divide="ignore", invalid="ignore"):  # horizontal edges are level with no point
        slope = (x2 - x1) / (y2 - y1)
    starts = np.searchsorted(ys, np.minimum(y1, y2), side="left")  # an edge spans low <= y < high
    ends = np.searchsorted(ys, np.maximum(y1, y2), side="left")
    parity = np.zeros(len(points), bool)
    for edge in np.flatnonzero(ends > starts):
        level = slice(starts[edge], ends[edge])
        crossing_x = x1[edge] + (ys[level] - y1[edge]) * slope[edge]
        parity[level] ^= xs[level] < crossing_x
    inside = np.zeros(len(points), bool)
    inside[order] = parity
    return inside
