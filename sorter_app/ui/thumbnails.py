"""Thumbnails for every image grid: decoded off the UI thread, cached as pixmaps on it.

Painting asks for a thumbnail many times a second and must never wait for a disk read or a
decode, so `ThumbnailCache.pixmap()` answers at once with what it has and queues the rest. A few
loads run at a time in a private thread pool (the global pool belongs to indexing, which must not
be starved by scrolling, nor starve it). Workers only build `QImage`s; the main thread turns them
into `QPixmap`s, which are bound to the GUI thread.
"""

from __future__ import annotations

import sys
from collections import OrderedDict

from PIL import Image
from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QPixmap

from ..core.errors import ImageError
from ..core.images import load_image_file
from ..core.sized_cache import SizedCache
from .workers import run_in_background

# Requests older than this many are for rows scrolled far away: forgetting them beats decoding
# pictures nobody looks at. A row that is painted again simply asks again.
_MAX_PENDING = 1024


def decode_thumbnail(path: str, max_side: int) -> QImage:
    """Read and decode `path` to an RGB QImage whose longer side is at most `max_side`.

    Runs in a worker thread. Raises ImageError or OSError with a reason a user can read.
    """
    loaded = load_image_file(path, min_side=max_side)
    image = loaded.image
    image.thumbnail((max_side, max_side))
    return to_qimage(image)


# Rows copied at a time by `to_qimage`: 2 MB of a 4000-px-wide photo, a millisecond or two.
_STRIP_ROWS = 128
# QImage's RGB32 is one 0xAARRGGBB word per pixel (alpha 255), in the machine's byte order.
_RGB32_RAWMODE = "BGRA" if sys.byteorder == "little" else "ARGB"


def to_qimage(rgb: Image.Image) -> QImage:
    """An RGB Pillow image as an RGB32 QImage (what painting wants) that owns its pixels.

    Filled a strip of rows at a time by Pillow. Wrapping one `tobytes()` of a 12-MP photo and
    converting it with Qt took 30 ms in one go, and Qt spreads such a conversion over every core:
    the window's own thread got no CPU meanwhile (bench_ui's viewer phase, 65-ms gaps).
    """
    width, height = rgb.size
    image = QImage(width, height, QImage.Format.Format_RGB32)
    bits, line = memoryview(image.bits()), image.bytesPerLine()  # 4 × width: never padded
    for top in range(0, height, _STRIP_ROWS):
        bottom = min(height, top + _STRIP_ROWS)
        strip = rgb.crop((0, top, width, bottom)).convert("RGBA")
        bits[top * line : bottom * line] = strip.tobytes("raw", _RGB32_RAWMODE)
    return image


class _LoadResults(QObject):
    """Carries results from the workers to the cache's slots, which run on the main thread.

    One carrier is shared by all loads: it is a child of the cache created after the pool, so Qt
    destroys the pool first, and the pool's destructor waits for every running load.
    """

    loaded = Signal(int, str, QImage)  # generation, path, thumbnail
    failed = Signal(int, str, str)  # generation, path, reason


class _ThumbnailLoad(QRunnable):
    """One decode, reported back tagged with the generation that asked for it."""

    def __init__(self, path: str, max_side: int, generation: int, results: _LoadResults) -> None:
        super().__init__()
        self._path = path
        self._max_side = max_side
        self._generation = generation
        self._results = results

    def run(self) -> None:
        # Every load must report back, whatever happens: the cache counts loads in flight.
        run_in_background()
        try:
            image = decode_thumbnail(self._path, self._max_side)
        except ImageError as exc:
            self._results.failed.emit(self._generation, self._path, str(exc))
        except OSError as exc:
            self._results.failed.emit(
                self._generation, self._path, f"cannot read the file: {exc.strerror or exc}"
            )
        except Exception as exc:
            reason = f"cannot make a thumbnail: {str(exc) or type(exc).__name__}"
            self._results.failed.emit(self._generation, self._path, reason)
        else:
            self._results.loaded.emit(self._generation, self._path, image)


class ThumbnailCache(QObject):
    """The main thread's thumbnails: an LRU of pixmaps, a queue of requests, the failed files.

    Loads belong to a generation; `cancel_pending()` starts a new one when a grid shows other
    images, and results of older generations are dropped when they come back. The cache may be
    shared, so a grid's new items also drop the requests of everyone else: `requests_dropped` tells
    them to ask again for what they still show.
    """

    ready = Signal(str)  # the path's pixmap is now cached
    failed = Signal(str, str)  # path, reason
    requests_dropped = Signal()  # by cancel_pending(): a placeholder on screen must ask again

    def __init__(
        self, max_side: int = 256, cache_mb: int = 256, threads: int = 2, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._max_side = max_side
        self._threads = threads
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._results = _LoadResults(self)  # after the pool: see _LoadResults
        self._results.loaded.connect(self._on_loaded)
        self._results.failed.connect(self._on_failed)
        # Requests made while one view paints are started together once it is done, so that the
        # newest of them, not the first painted, goes first.
        self._start_timer = QTimer(self)
        self._start_timer.setSingleShot(True)
        self._start_timer.setInterval(0)
        self._start_timer.timeout.connect(self._start_loads)

        self._generation = 0
        self._pixmaps: SizedCache[str, QPixmap] = SizedCache(cache_mb * 1024 * 1024)
        self._broken: dict[str, str] = {}
        self._pending: OrderedDict[str, None] = OrderedDict()  # most recently requested last
        self._loading: set[str] = set()  # running for the current generation
        self._running = 0  # running for any generation: these hold the pool's threads

    def pixmap(self, path: str) -> QPixmap | None:
        """The cached thumbnail, or None after queueing a load (unless the file is known broken)."""
        pixmap = self._pixmaps.get(path)
        if pixmap is not None:
            return pixmap
        if path in self._broken or path in self._loading:
            return None
        self._pending[path] = None
        self._pending.move_to_end(path)
        if len(self._pending) > _MAX_PENDING:
            self._pending.popitem(last=False)
        self._start_timer.start()
        return None

    def is_broken(self, path: str) -> bool:
        return path in self._broken

    def cancel_pending(self) -> None:
        """Forget queued requests; loads already running will be dropped when they finish."""
        self._generation += 1
        self._pending.clear()
        self._loading.clear()
        self.requests_dropped.emit()

    def clear(self) -> None:
        """Forget everything, e.g. after files changed on disk under the same names."""
        self._pixmaps.clear()
        self._broken.clear()
        self.cancel_pending()

    def set_max_side(self, max_side: int) -> None:
        """Decode at a new size from now on; thumbnails cached at the old size are dropped."""
        if max_side != self._max_side:
            self._max_side = max_side
            self.clear()

    @Slot()
    def _start_loads(self) -> None:
        while self._pending and self._running < self._threads:
            path, _ = self._pending.popitem(last=True)
            self._loading.add(path)
            self._running += 1
            self._pool.start(_ThumbnailLoad(path, self._max_side, self._generation, self._results))

    @Slot(int, str, QImage)
    def _on_loaded(self, generation: int, path: str, image: QImage) -> None:
        self._running -= 1
        if generation == self._generation:
            self._loading.discard(path)
            self._store(path, QPixmap.fromImage(image))
            self.ready.emit(path)
        self._start_loads()

    @Slot(int, str, str)
    def _on_failed(self, generation: int, path: str, reason: str) -> None:
        self._running -= 1
        if generation == self._generation:
            self._loading.discard(path)
            self._broken[path] = reason  # remembered, so that painting does not retry it forever
            self.failed.emit(path, reason)
        self._start_loads()

    def _store(self, path: str, pixmap: QPixmap) -> None:
        self._pixmaps.put(path, pixmap, _size_in_bytes(pixmap))


def _size_in_bytes(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * pixmap.depth() // 8
