"""Maps drawn from nothing: street plans, topographic sheets, and the lettering real maps carry.

The kind head's `graphic/maps` training source is region outlines in flat colours (@svg-maps).
Real maps a user meets — a town plan, a hiking sheet — have roads, rivers, parks, contour lines,
place names, a title, a legend and a scale bar. These renders are a family of maps the installed
model was never trained on, so they measure it on maps unlike its own (`python -m
training.map_renders --out DIR`, then index DIR with the app); they are procedural (QPainter,
random syllables), so nothing is downloaded and nothing is copied.

They are not a training source. Tried as one (#10, 2026-12-06): held out, the kind head caught
99 % of a maps source made a third of these, but trained on street plans and topographic sheets it
caught no more outline maps (79.3 → 80.0 %), and the easier held-out family relaxed the chosen
"unknown" threshold from 0.694 to 0.502 — less caution on graphics unlike any in training.

Usage (writes OUT/drawn_maps/*.png and OUT/manifest.csv with kind `non_photo`):

    python -m training.map_renders --out DIR [--count 300]
"""

from __future__ import annotations

import argparse
import math
import os
import random
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtCore, QtGui

from .graphic_sources import qt_app, write_graphics_manifest

LAND = ("#f2efe9", "#f8f4f0", "#ffffff", "#eeeeee", "#e8e0d8", "#f5f3e5")
WATER = ("#aad3df", "#9ec9e2", "#b5d0d0", "#a0c8f0")
PARK = ("#c8facc", "#d8e8c8", "#cde6b8", "#b5e3b5")
ROAD_FILL = ("#ffffff", "#fcd6a4", "#f7fabf", "#e892a2", "#ffffff")
ROAD_CASING = ("#bbbbbb", "#999999", "#c08060", "#888888")
INK = ("#222222", "#333333", "#555555", "#1a1a60", "#603010")
SYLLABLES = (
    "ber",
    "lin",
    "ham",
    "ton",
    "ville",
    "burg",
    "dorf",
    "ford",
    "mont",
    "san",
    "ria",
    "vel",
    "ost",
    "wald",
    "see",
    "brook",
    "field",
    "castle",
    "porto",
    "nova",
    "kirch",
    "bach",
    "stad",
)


def place_name(rng: random.Random) -> str:
    name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
    return name.capitalize()


def _point(rng: random.Random, width: int, height: int, margin: float = -0.1) -> QtCore.QPointF:
    return QtCore.QPointF(rng.uniform(margin, 1 - margin) * width, rng.uniform(margin, 1 - margin) * height)


def _wavy_path(rng: random.Random, width: int, height: int) -> QtGui.QPainterPath:
    """A road or river crossing the sheet: a chain of cubic curves between random points."""
    path = QtGui.QPainterPath(_point(rng, width, height))
    for _ in range(rng.randint(1, 3)):
        path.cubicTo(_point(rng, width, height), _point(rng, width, height), _point(rng, width, height))
    return path


def _blob(rng: random.Random, centre: QtCore.QPointF, radius: float, wobble: float) -> QtGui.QPolygonF:
    """A closed, irregular outline (a park, a lake, a contour line) around `centre`."""
    phases = [rng.uniform(0, 2 * math.pi) for _ in range(3)]
    points = []
    for i in range(48):
        a = 2 * math.pi * i / 48
        r = radius * (1 + wobble * sum(math.sin((k + 2) * a + p) / (k + 1) for k, p in enumerate(phases)))
        points.append(QtCore.QPointF(centre.x() + r * math.cos(a), centre.y() + r * math.sin(a)))
    return QtGui.QPolygonF(points)


def _stroke(painter: QtGui.QPainter, path: QtGui.QPainterPath, colour: str, width: float) -> None:
    pen = QtGui.QPen(QtGui.QColor(colour), width)
    pen.setCapStyle(QtCore.Qt.PenCapStyle.RoundCap)
    painter.strokePath(path, pen)


def _label(painter: QtGui.QPainter, rng: random.Random, text: str, at: QtCore.QPointF, size: int) -> None:
    """Map lettering: dark text with a light halo, sometimes bold or italic (water names)."""
    font = QtGui.QFont(rng.choice(("DejaVu Sans", "DejaVu Serif", "Sans")), size)
    font.setBold(rng.random() < 0.4)
    font.setItalic(rng.random() < 0.2)
    path = QtGui.QPainterPath()
    path.addText(at, font, text)
    painter.strokePath(path, QtGui.QPen(QtGui.QColor(255, 255, 255, 200), 3))
    painter.fillPath(path, QtGui.QColor(rng.choice(INK)))


def street_map(rng: random.Random, width: int, height: int) -> QtGui.QImage:
    """A town plan: land, water, parks, a rotated grid of streets with main roads, names."""
    image = QtGui.QImage(width, height, QtGui.QImage.Format.Format_RGB32)
    image.fill(QtGui.QColor(rng.choice(LAND)))
    painter = QtGui.QPainter(image)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    for _ in range(rng.randint(1, 4)):
        park = _blob(rng, _point(rng, width, height), rng.uniform(0.05, 0.2) * width, 0.25)
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        painter.setBrush(QtGui.QColor(rng.choice(PARK)))
        painter.drawPolygon(park)
    if rng.random() < 0.7:
        _stroke(painter, _wavy_path(rng, width, height), rng.choice(WATER), rng.uniform(8, 30))
    painter.save()
    painter.translate(width / 2, height / 2)
    painter.rotate(rng.uniform(-40, 40))
    span = max(width, height)
    step = rng.uniform(0.06, 0.16) * span
    casing, fill = rng.choice(ROAD_CASING), rng.choice(ROAD_FILL)
    minor = rng.uniform(2.0, 5.0)
    if rng.random() < 0.5:  # building blocks between the streets
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        painter.setBrush(QtGui.QColor(rng.choice(("#d9d0c9", "#e0dfdf", "#d6c8b8"))))
        for ix in range(-8, 8):
            for iy in range(-8, 8):
                if rng.random() < 0.6:
                    painter.drawRect(QtCore.QRectF(ix * step + 4, iy * step + 4, step - 8, step - 8))
    for i in range(-8, 9):
        offset = i * step + rng.uniform(-0.2, 0.2) * step
        for line in (QtCore.QLineF(-span, offset, span, offset), QtCore.QLineF(offset, -span, offset, span)):
            path = QtGui.QPainterPath(line.p1())
            path.lineTo(line.p2())
            _stroke(painter, path, casing, minor + 1.5)
            _stroke(painter, path, "#ffffff", minor)
    painter.restore()
    for _ in range(rng.randint(1, 3)):  # main roads over the grid
        road = _wavy_path(rng, width, height)
        main = rng.uniform(5, 10)
        _stroke(painter, road, casing, main + 2)
        _stroke(painter, road, fill, main)
    for _ in range(rng.randint(4, 14)):
        words = rng.choice(("Street", "Road", "Avenue", "Str.", "Park", "Platz", "Lane", "", ""))
        _label(
            painter,
            rng,
            f"{place_name(rng)} {words}".strip(),
            _point(rng, width, height, 0.05),
            rng.randint(7, 13),
        )
    painter.end()
    return image


def topographic_map(rng: random.Random, width: int, height: int) -> QtGui.QImage:
    """A hiking sheet: tinted relief, contour lines with heights, a river, a track, summit names."""
    image = QtGui.QImage(width, height, QtGui.QImage.Format.Format_RGB32)
    image.fill(QtGui.QColor(rng.choice(("#f4f1e0", "#eef3e2", "#ffffff", "#e9f0d8"))))
    painter = QtGui.QPainter(image)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    tints = rng.random() < 0.5
    contour = QtGui.QColor(rng.choice(("#b07040", "#a0522d", "#c08850", "#8b6b4a")))
    for _ in range(rng.randint(1, 4)):
        centre = _point(rng, width, height, 0.1)
        rings = rng.randint(6, 16)
        outer = rng.uniform(0.2, 0.6) * max(width, height)
        for k in range(rings):
            ring = _blob(rng, centre, outer * (1 - k / rings), 0.18)
            painter.setPen(QtGui.QPen(contour, 1.6 if k % 5 == 0 else 0.7))
            if tints:
                shade = QtGui.QColor.fromHsv(rng.choice((30, 40, 90)), 60 + 8 * k, 235 - 4 * k)
                painter.setBrush(shade)
            else:
                painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            painter.drawPolygon(ring)
        _label(painter, rng, f"{place_name(rng)} {rng.randint(400, 3800)}", centre, rng.randint(7, 11))
    _stroke(painter, _wavy_path(rng, width, height), rng.choice(WATER), rng.uniform(2, 6))
    track = QtGui.QPen(QtGui.QColor(rng.choice(("#cc0000", "#222222", "#aa3300"))), rng.uniform(1, 2.5))
    track.setStyle(rng.choice((QtCore.Qt.PenStyle.DashLine, QtCore.Qt.PenStyle.DotLine)))
    painter.strokePath(_wavy_path(rng, width, height), track)
    for _ in range(rng.randint(2, 6)):
        _label(painter, rng, place_name(rng), _point(rng, width, height, 0.05), rng.randint(7, 12))
    painter.end()
    return image


def annotate(image: QtGui.QImage, rng: random.Random) -> QtGui.QImage:
    """What real maps carry around the drawing: place names, a title, a legend, a scale bar, a frame."""
    width, height = image.width(), image.height()
    painter = QtGui.QPainter(image)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    for _ in range(rng.randint(0, 10)):
        _label(painter, rng, place_name(rng), _point(rng, width, height, 0.05), rng.randint(7, 12))
    if rng.random() < 0.4:
        title = QtGui.QFont("DejaVu Sans", rng.randint(11, 18))
        title.setBold(True)
        painter.setFont(title)
        painter.setPen(QtGui.QColor(rng.choice(INK)))
        painter.drawText(
            QtCore.QRectF(0, 4, width, 30), QtCore.Qt.AlignmentFlag.AlignHCenter, place_name(rng)
        )
    if rng.random() < 0.4:  # a legend box
        rows = rng.randint(2, 5)
        box = QtCore.QRectF(
            width * rng.choice((0.02, 0.65)), height * rng.choice((0.02, 0.6)), 110, 16 * rows + 8
        )
        painter.setPen(QtGui.QColor("#444444"))
        painter.setBrush(QtGui.QColor(255, 255, 255, 230))
        painter.drawRect(box)
        painter.setFont(QtGui.QFont("DejaVu Sans", 8))
        for r in range(rows):
            y = box.top() + 6 + 16 * r
            painter.setBrush(QtGui.QColor.fromHsv(rng.randrange(360), 120, 220))
            painter.drawRect(QtCore.QRectF(box.left() + 6, y, 14, 10))
            painter.drawText(
                QtCore.QPointF(box.left() + 26, y + 9), f"{rng.randint(0, 99)}–{rng.randint(100, 999)}"
            )
    if rng.random() < 0.5:  # a scale bar
        x, y = width * 0.05, height * 0.93
        painter.setPen(QtGui.QPen(QtGui.QColor("#222222"), 1))
        for i in range(4):
            painter.setBrush(QtGui.QColor("#222222" if i % 2 == 0 else "#ffffff"))
            painter.drawRect(QtCore.QRectF(x + 20 * i, y, 20, 4))
        painter.setFont(QtGui.QFont("DejaVu Sans", 7))
        painter.drawText(QtCore.QPointF(x, y - 3), f"0   {rng.choice((1, 2, 5, 10, 50, 100))} km")
    if rng.random() < 0.3:
        painter.setPen(QtGui.QPen(QtGui.QColor("#333333"), 2))
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        painter.drawRect(QtCore.QRectF(1, 1, width - 2, height - 2))
    painter.end()
    return image


def drawn_map(rng: random.Random) -> QtGui.QImage:
    """One map of the held-out family: a street plan or a topographic sheet, 70 % lettered."""
    width, height = rng.randrange(200, 800), rng.randrange(200, 600)
    draw = rng.choice((street_map, topographic_map))
    image = draw(rng, width, height)
    return annotate(image, rng) if rng.random() < 0.7 else image


def write_drawn_maps(out: Path, count: int, seed: int = 0) -> Path:
    """OUT/drawn_maps/drawn_maps-NNNN.png and OUT/manifest.csv (source `graphic/drawn_maps`)."""
    qt_app()
    folder = out / "drawn_maps"
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"{seed}/drawn_maps")
    rows = []
    for i in range(count):
        target = folder / f"drawn_maps-{i:04d}.png"
        if not drawn_map(rng).save(str(target)):
            raise OSError(f"could not write {target}")
        rows.append({"path": str(target), "source": "graphic/drawn_maps"})
    return write_graphics_manifest(out / "manifest.csv", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    print(write_drawn_maps(args.out, args.count))


if __name__ == "__main__":
    main()
