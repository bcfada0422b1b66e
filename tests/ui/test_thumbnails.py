"""ThumbnailCache for real: JPEGs decoded in its own threads, pixmaps cached on the main thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from sorter_app.ui import thumbnails
from sorter_app.ui.thumbnails import ThumbnailCache
from tests import builders

Decodes = list[tuple[str, bool]]  # (path, ran on the main thread)
NewCache = Callable[..., ThumbnailCache]


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> Decodes:
    """Every decode the cache's workers run, in order, counted by wrapping the real function."""
    calls: Decodes = []
    real = thumbnails.decode_thumbnail

    def counting(path: str, max_side: int) -> QImage:
        calls.append((path, threading.current_thread() is threading.main_thread()))
        return real(path, max_side)

    monkeypatch.setattr(thumbnails, "decode_thumbnail", counting)
    return calls


@pytest.fixture
def new_cache(qtbot: QtBot) -> Iterator[NewCache]:
    """Caches that are destroyed when the test ends: their pools wait for running loads, so no
    decode of this test runs into the next one."""
    made: list[ThumbnailCache] = []

    def make(**options: Any) -> ThumbnailCache:
        made.append(ThumbnailCache(**options))
        return made[-1]

    yield make
    for cache in made:
        shiboken6.delete(cache)


def _decoded(decodes: Decodes) -> list[str]:
    return [path for path, _ in decodes]


def test_a_jpeg_becomes_a_pixmap_no_larger_than_max_side(
    qtbot: QtBot, tmp_path: Path, new_cache: NewCache, decodes: Decodes
) -> None:
    path = str(builders.write_jpeg(tmp_path / "a.jpg", seed=1, size=(640, 480)))
    cache = new_cache(max_side=128)

    with qtbot.waitSignal(cache.ready) as ready:
        assert cache.pixmap(path) is None  # answered at once; the load is queued
    assert ready.args == [path]
    pixmap = cache.pixmap(path)
    assert pixmap is not None and (pixmap.width(), pixmap.height()) == (128, 96)
    assert decodes == [(path, False)]  # once, and not on the UI thread
    assert not cache.is_broken(path)


def test_a_corrupt_file_fails_once_with_a_reason_and_is_never_retried(
    qtbot: QtBot, tmp_path: Path, new_cache: NewCache, decodes: Decodes
) -> None:
    broken = str(builders.write_truncated_jpeg(tmp_path / "broken.jpg"))
    good = str(builders.write_jpeg(tmp_path / "good.jpg", seed=2))
    cache = new_cache(threads=1)
    failures: list[tuple[str, str]] = []
    cache.failed.connect(lambda path, reason: failures.append((path, reason)))

    with qtbot.waitSignal(cache.failed):
        cache.pixmap(broken)
    assert cache.is_broken(broken)
    # One thread, newest request first: a retry of `broken` would be decoded before `good`.
    with qtbot.waitSignal(cache.ready):
        cache.pixmap(good)
        for _ in range(5):
            assert cache.pixmap(broken) is None
    assert _decoded(decodes) == [broken, good]
    assert len(failures) == 1 and failures[0][0] == broken
    assert "truncated or corrupt" in failures[0][1]


def test_unreadable_and_non_image_files_say_why(qtbot: QtBot, tmp_path: Path, new_cache: NewCache) -> None:
    notes = str(builders.write_not_an_image(tmp_path / "notes.jpg"))
    missing = str(tmp_path / "moved away.jpg")
    cache = new_cache()
    reasons: dict[str, str] = {}
    cache.failed.connect(reasons.__setitem__)

    cache.pixmap(notes)
    cache.pixmap(missing)
    qtbot.waitUntil(lambda: len(reasons) == 2)
    assert reasons[notes].startswith("not an image")
    assert reasons[missing].startswith("cannot read: No such file")


def test_the_most_recent_request_is_decoded_first(
    qtbot: QtBot, tmp_path: Path, new_cache: NewCache, decodes: Decodes
) -> None:
    paths = [str(builders.write_jpeg(tmp_path / f"{i}.jpg", seed=i)) for i in range(4)]
    cache = new_cache(threads=1)
    ready: list[str] = []
    cache.ready.connect(ready.append)

    for path in paths:  # as a paint pass asks, top row first
        cache.pixmap(path)
    qtbot.waitUntil(lambda: len(ready) == 4)
    assert _decoded(decodes) == paths[::-1]


def test_an_unexpected_error_is_reported_and_frees_its_thread(
    qtbot: QtBot, tmp_path: Path, new_cache: NewCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad, good = (str(builders.write_jpeg(tmp_path / f"{name}.jpg", seed=i)) for i, name in enumerate("bg"))
    real = thumbnails.decode_thumbnail

    def failing_on_bad(path: str, max_side: int) -> QImage:
        if path == bad:
            raise ValueError("a decoder bug")
        return real(path, max_side)

    monkeypatch.setattr(thumbnails, "decode_thumbnail", failing_on_bad)
    cache = new_cache(threads=1)
    with qtbot.waitSignal(cache.failed) as failed:
        cache.pixmap(bad)
    assert failed.args == [bad, "cannot make a thumbnail: a decoder bug"]
    with qtbot.waitSignal(cache.ready):  # the only thread is free again
        cache.pixmap(good)


def _gate_first_decode(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Hold the next decode in its worker until `release` is set; `started` says it is running."""
    started, release = threading.Event(), threading.Event()
    inner: Callable[[str, int], QImage] = thumbnails.decode_thumbnail

    def gated(path: str, max_side: int) -> QImage:
        if not started.is_set():
            started.set()
            release.wait(30)
        return inner(path, max_side)

    monkeypatch.setattr(thumbnails, "decode_thumbnail", gated)
    return started, release


def test_cancel_pending_drops_queued_requests_and_results_of_running_loads(
    qtbot: QtBot, tmp_path: Path, new_cache: NewCache, decodes: Decodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    running, queued, wanted = (
        str(builders.write_jpeg(tmp_path / f"{n}.jpg", seed=i)) for i, n in enumerate("abc")
    )
    started, release = _gate_first_decode(monkeypatch)
    cache = new_cache(threads=1)
    ready: list[str] = []
    cache.ready.connect(ready.append)

    cache.pixmap(running)
    qtbot.waitUntil(started.is_set)
    cache.pixmap(queued)  # waits for the only thread
    cache.cancel_pending()
    cache.pixmap(wanted)
    release.set()
    # One thread: `wanted` starts only after the main thread has handled `running`'s result.
    qtbot.waitUntil(lambda: ready == [wanted])
    assert _decoded(decodes) == [running, wanted]  # `queued` never decoded
    assert not cache.is_broken(running)
    assert cache.pixmap(running) is None  # its thumbnail was dropped, not cached


def test_the_cache_stays_within_its_memory_bound(qtbot: QtBot, tmp_path: Path, new_cache: NewCache) -> None:
    # 256×192 RGB32 thumbnails are 192 KiB: 1 MiB holds 5 of them.
    paths = [str(builders.write_jpeg(tmp_path / f"{i}.jpg", seed=i, size=(400, 300))) for i in range(8)]
    cache = new_cache(max_side=256, cache_mb=1)
    ready: list[str] = []
    cache.ready.connect(ready.append)

    for path in paths:
        cache.pixmap(path)
    qtbot.waitUntil(lambda: len(ready) == 8)
    still_cached = [path for path in ready if cache.pixmap(path) is not None]
    assert still_cached == ready[-5:]  # the least recently used went first


def test_clear_and_a_new_size_forget_cached_thumbnails(
    qtbot: QtBot, tmp_path: Path, new_cache: NewCache
) -> None:
    path = str(builders.write_jpeg(tmp_path / "a.jpg", seed=3, size=(400, 300)))
    cache = new_cache(max_side=64)
    with qtbot.waitSignal(cache.ready):
        cache.pixmap(path)

    cache.set_max_side(200)
    with qtbot.waitSignal(cache.ready):
        assert cache.pixmap(path) is None
    pixmap = cache.pixmap(path)
    assert pixmap is not None and pixmap.width() == 200

    cache.clear()
    assert cache.pixmap(path) is None
