"""The map's dots: their colours, one image of all of them, and where each one landed on screen.

Tens of thousands of points cannot be drawn one QPainter call at a time on every paint, so
`PointLayer` renders them once into an image (per size and point set) that each paint only blits.
Hit-tests (hover, lasso) run in numpy over the screen coordinates computed with that image, so
they always agree with what is drawn. Map units are 0–1 on both axes; a margin keeps dots on the
border whole.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter

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

MARGIN = 12  # px around the points, so that dots on the border are drawn whole
DOT = 5.0  # dot diameter, px
_SPRITE = 8  # side of the image a dot is stamped from, px


def colour(group: int) -> QColor:
    """The colour of cluster number `group` (0-based); grey for -1."""
    if group < 0:
        return UNGROUPED
    if group < len(PALETTE):
        return PALETTE[group]
    hue = (group * 0.618033988749895) % 1.0
    return QColor.fromHsvF(hue, 0.55 + 0.3 * ((group // 7) % 2), 0.8)


class PointLayer:
    """Points in map units with their cluster numbers; rendered for one widget size at a time."""

    def __init__(self) -> None:
        self.points: NDArray[np.float32] = np.zeros((0, 2), np.float32)
        self.groups: NDArray[np.int64] = np.zeros(0, np.int64)
        self.screen: NDArray[np.float32] = np.zeros((0, 2), np.float32)  # px, as last rendered
        self._image: QImage | None = None
        self._size = QSize()

    def set_points(self, points: NDArray[np.float32], groups: NDArray[np.int64]) -> None:
        self.points, self.groups = points, groups
        self.invalidate()

    def invalidate(self) -> None:
        self._image = None

    def image(self, size: QSize, ratio: float) -> QImage:
        """The dots for a widget of `size`, drawn first if the size or the points changed."""
        if self._image is None or size != self._size:
            self._size = QSize(size)
            self._image = self._render(size, ratio)
        return self._image

    def to_screen(self, units: NDArray[np.float32], size: QSize) -> NDArray[np.float32]:
        return (MARGIN + units * _span(size)).astype(np.float32)

    def to_units(self, screen: NDArray[np.float32], size: QSize) -> NDArray[np.float32]:
        return ((screen - MARGIN) / _span(size)).astype(np.float32)

    def nearest(self, x: float, y: float, radius: float) -> int | None:
        """The point drawn closest to (x, y) px, if one is within `radius`."""
        if not len(self.screen):
            return None
        d2 = ((self.screen - np.array([x, y], np.float32)) ** 2).sum(axis=1)
        index = int(np.argmin(d2))
        return index if d2[index] <= radius**2 else None

    def inside(self, polygon: NDArray[np.float32]) -> NDArray[np.int64]:
        """Indexes of the points drawn inside `polygon` (px)."""
        return np.flatnonzero(points_in_polygon(self.screen, polygon)).astype(np.int64)

    def _render(self, size: QSize, ratio: float) -> QImage:
        """Each dot is a copy of a small antialiased disc: stroking 20,000 round antialiased points
        costs Qt about 60 ms, stamping a ready-made disc about 10 ms."""
        image = QImage(size * ratio, QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(ratio)
        image.fill(Qt.GlobalColor.transparent)
        self.screen = self.to_screen(self.points, size)
        corners = np.rint(self.screen - _SPRITE / 2).astype(np.int64)
        painter = QPainter(image)
        for group in sorted(set(self.groups.tolist())):  # grey (-1) first: groups stay on top
            dot = _dot_sprite(colour(group), ratio)
            for x, y in corners[self.groups == group].tolist():
                painter.drawImage(x, y, dot)
        painter.end()
        return image


def _span(size: QSize) -> NDArray[np.float32]:
    return np.maximum(np.array([size.width() - 2 * MARGIN, size.height() - 2 * MARGIN], np.float32), 1)


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
