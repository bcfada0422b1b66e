"""The large picture of the viewer, the detail pane and the compare: fitted without blocking.

Qt's smooth scaling of a 12-MP image spreads over its own threads, and the UI thread waited for
them in paintEvent (50–80 ms beside indexing, benchmarks/bench_ui): a large image is now scaled in
the thread pool and drawn unsmoothed until then; a small one is still scaled on the spot.
"""

from __future__ import annotations

import sys

import numpy as np
from PIL import Image
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from sorter_app.ui.image_view import SCALE_IN_BACKGROUND_PIXELS, ZoomableImage
from sorter_app.ui.thumbnails import to_qimage


def _filled(width: int, height: int, colour: str) -> QImage:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor(colour))
    return image


def _shown(qtbot: QtBot) -> ZoomableImage:
    view = ZoomableImage()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_a_large_image_is_fitted_in_the_background_and_drawn_meanwhile(qtbot: QtBot) -> None:
    big = _filled(4000, 3000, "#3366cc")
    assert big.width() * big.height() > SCALE_IN_BACKGROUND_PIXELS
    view = _shown(qtbot)
    view.set_image(big)
    first = view.grab().toImage()  # painted now, without the smooth copy
    assert view.fitted() is None
    assert first.pixelColor(200, 150) == QColor("#3366cc")  # the quick draw shows the picture
    qtbot.waitUntil(lambda: view.fitted() is not None)
    fitted = view.fitted()
    assert fitted is not None and fitted.width() <= 400 and fitted.height() <= 300
    assert fitted.pixelColor(fitted.width() // 2, fitted.height() // 2) == QColor("#3366cc")


def test_a_fit_for_an_image_no_longer_shown_is_dropped(qtbot: QtBot) -> None:
    view = _shown(qtbot)
    view.set_image(_filled(4000, 3000, "#3366cc"))
    view.grab()  # starts the first one's scaling
    view.set_image(_filled(4000, 3000, "#cc3333"))
    view.grab()
    qtbot.waitUntil(lambda: view.fitted() is not None)
    qtbot.wait(100)  # the first image's result, if it comes later, must not replace it
    fitted = view.fitted()
    assert fitted is not None and fitted.pixelColor(10, 10) == QColor("#cc3333")


def test_a_small_image_is_fitted_on_the_spot(qtbot: QtBot) -> None:
    view = _shown(qtbot)
    view.set_image(_filled(800, 600, "#22aa44"))
    view.grab()
    fitted = view.fitted()
    assert fitted is not None and fitted.size().width() == 400


def test_a_pillow_image_becomes_an_opaque_rgb32_qimage_with_the_same_pixels() -> None:
    """`to_qimage` fills the QImage a strip of rows at a time (one 12-MP conversion by Qt took every
    core for 30 ms); odd widths and heights, and the last short strip, keep every pixel."""
    rng = np.random.default_rng(0)
    for width, height in [(1, 1), (333, 257), (5, 300)]:
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        image = to_qimage(Image.fromarray(pixels))
        assert image.format() == QImage.Format.Format_RGB32 and image.size().toTuple() == (width, height)
        back = image.convertToFormat(QImage.Format.Format_ARGB32)  # alpha must be 255, not padding
        rows = np.frombuffer(back.constBits(), np.uint8).reshape(height, back.bytesPerLine())
        argb = rows[:, : 4 * width].reshape(height, width, 4)
        order = [2, 1, 0] if sys.byteorder == "little" else [1, 2, 3]
        assert np.array_equal(argb[:, :, order], pixels)
        assert (argb[:, :, 3 if sys.byteorder == "little" else 0] == 255).all()


def test_a_small_picture_is_shown_at_its_size_not_blown_up(qtbot: QtBot) -> None:
    """A 256-px picture filled an 840-px viewer, showing only its blur (a newcomer's run)."""
    view = _shown(qtbot)
    view.set_image(_filled(100, 80, "#22aa44"), QSize(100, 80))  # the decode: the file's own size
    shot = view.grab().toImage()
    fitted = view.fitted()
    assert fitted is not None and fitted.deviceIndependentSize().toSize().toTuple() == (100, 80)
    assert view.scale() == 1.0
    ratio = shot.devicePixelRatio()
    assert shot.pixelColor(round(200 * ratio), round(150 * ratio)) == QColor("#22aa44")  # centred
    assert shot.pixelColor(round(20 * ratio), round(20 * ratio)) != QColor("#22aa44")  # not stretched


def test_a_thumbnail_standing_in_fills_the_view_so_the_picture_does_not_jump(qtbot: QtBot) -> None:
    """The viewer shows the cached thumbnail until the decode comes: capped at its own 256 px it
    was drawn small, then jumped to the full size at every step (a review's find)."""
    view = _shown(qtbot)
    view.set_image(_filled(256, 192, "#3366cc"))  # no file size: a stand-in
    view.grab()
    fitted = view.fitted()
    assert fitted is not None and fitted.deviceIndependentSize().toSize().toTuple() == (400, 300)
    view.set_image(_filled(800, 600, "#3366cc"), QSize(4000, 3000))  # the decode: same place
    view.grab()
    fitted = view.fitted()
    assert fitted is not None and fitted.deviceIndependentSize().toSize().toTuple() == (400, 300)


def test_a_preview_of_another_shape_than_the_file_keeps_its_own(qtbot: QtBot) -> None:
    """A camera's 16:9 preview of a 3:2 sensor was stretched to 3:2 (a review's find)."""
    view = _shown(qtbot)
    view.set_image(_filled(1920, 1080, "#cc3333"), QSize(6000, 4000))
    view.grab()
    qtbot.waitUntil(lambda: view.fitted() is not None)
    fitted = view.fitted()
    assert fitted is not None
    width, height = fitted.deviceIndependentSize().toSize().toTuple()
    assert width == 400 and abs(height - 225) <= 1
