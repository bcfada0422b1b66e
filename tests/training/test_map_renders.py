"""The drawn maps, a family of graphics the kind head is tested on but never trained on
(`graphic/drawn_maps`): reproducible, the size asked for, and map-like (many colours, lettering),
so that passing on them means something about maps, not about blank pages."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PySide6 import QtGui

from training import graphic_sources, map_renders

DRAWERS = {"street": map_renders.street_map, "topographic": map_renders.topographic_map}


def _pixels(image: QtGui.QImage) -> np.ndarray:
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    raw = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    rows = raw.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3]
    return rows.reshape(image.height(), image.width(), 3).copy()  # the QImage's memory goes with it


@pytest.fixture(scope="module", autouse=True)
def qt_application() -> None:
    graphic_sources.qt_app()


@pytest.mark.parametrize("style", sorted(DRAWERS))
def test_a_drawn_map_is_reproducible_and_the_size_asked_for(style: str) -> None:
    draw = DRAWERS[style]
    map_renders.annotate(draw(random.Random(7), 320, 240), random.Random(7))  # Qt's glyph cache:
    # a font's first use rasterises a few letters a shade differently from every later use
    first = _pixels(map_renders.annotate(draw(random.Random(7), 320, 240), random.Random(7)))
    again = _pixels(map_renders.annotate(draw(random.Random(7), 320, 240), random.Random(7)))
    other = _pixels(map_renders.annotate(draw(random.Random(8), 320, 240), random.Random(8)))
    assert first.shape == (240, 320, 3)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("style", sorted(DRAWERS))
def test_a_drawn_map_has_many_colours_and_lettering(style: str) -> None:
    for seed in range(5):
        pixels = _pixels(DRAWERS[style](random.Random(seed), 300, 300))
        colours = np.unique(pixels.reshape(-1, 3), axis=0).shape[0]
        dark = (pixels.max(axis=2) < 110).mean()  # the lettering's ink
        assert colours > 200, f"{style} seed {seed}: {colours} colours"
        assert 0.001 < dark < 0.3, f"{style} seed {seed}: {dark:.4f} of the pixels are ink"
