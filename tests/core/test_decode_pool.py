"""The decode workers: a crash, a hang or a runaway allocation costs one file, never the run."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from sorter_app.core.child_process import CHILD_NICENESS
from sorter_app.core.decode_pool import DecodeError, DecodePool, start_server
from sorter_app.core.images import load_image_file
from tests import builders

# What a decoder can do to its process, as module-level functions a worker can import by name.


def _segfault() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def _sleep_forever() -> None:
    while True:
        time.sleep(0.1)


def _spin_forever() -> None:
    while True:
        pass


def _allocate(gigabytes: int) -> int:
    return len(bytearray(gigabytes * 1024**3))


def _imported(names: list[str]) -> list[str]:
    return [name for name in names if name in sys.modules]


def _size_of(path: str) -> tuple[int, int]:
    loaded = load_image_file(path)
    return loaded.width, loaded.height


@pytest.mark.skipif(sys.platform == "win32", reason="no signals or address-space limit there")
def test_a_crash_a_hang_and_a_runaway_allocation_each_cost_one_call(tmp_path: Path) -> None:
    photo = str(builders.write_jpeg(tmp_path / "a.jpg", 1))
    with DecodePool(1, deadline_s=2.0, memory_bytes=512 * 1024**2) as pool:
        assert pool.call(_size_of, photo) == (320, 240)
        with pytest.raises(DecodeError, match=r"crashed on this file \(SIGSEGV\)"):
            pool.call(_segfault)
        started = time.monotonic()
        with pytest.raises(DecodeError, match="gave up after 2 s"):
            pool.call(_sleep_forever)  # no CPU used: the wall-clock deadline
        assert time.monotonic() - started < 10
        with pytest.raises(DecodeError, match="not enough memory"):
            pool.call(_allocate, 2)  # over the 512 MB cap: MemoryError in the worker
        assert pool.call(_size_of, photo) == (320, 240)  # a fresh worker took over each time
    with DecodePool(1, deadline_s=120.0, cpu_seconds=1) as pool:
        with pytest.raises(DecodeError, match="more than 1 s of CPU time"):
            pool.call(_spin_forever)  # killed by its CPU limit, however busy the machine is
        assert pool.call(_size_of, photo) == (320, 240)


def test_a_closed_pool_refuses_work() -> None:
    pool = DecodePool(2)
    pool.close()
    with pytest.raises(DecodeError, match="cancelled"):
        pool.call(_allocate, 0)


@pytest.mark.skipif(not hasattr(os, "nice"), reason="Unix niceness")
def test_workers_decode_below_the_app_so_a_window_gets_a_core_first() -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    with DecodePool(1) as pool:
        assert pool.call(os.getpriority, os.PRIO_PROCESS, 0) == min(19, own + CHILD_NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, 0) == own


FIRST_FILE_IMPORTS = ["PIL.JpegImagePlugin", "PIL.PngImagePlugin", "numpy.ma", "pillow_heif"]


@pytest.mark.skipif(sys.platform == "win32", reason="no fork server: workers are spawned")
def test_a_new_worker_has_what_its_first_file_needs_already_imported() -> None:
    """Imported once by the fork server, not by every worker on its first file (~23 ms each)."""
    start_server()
    start_server()  # a second call finds it running
    with DecodePool(1) as pool:
        assert pool.call(_imported, FIRST_FILE_IMPORTS) == FIRST_FILE_IMPORTS
