"""The child a window keeps for repeated work: kept between calls, started again after it died."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures.process import BrokenProcessPool

import pytest

from sorter_app.core.child_process import KeptChild


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="kills the child with SIGKILL")
def test_a_kept_child_is_kept_between_calls_and_started_again_after_it_died() -> None:
    child = KeptChild()
    try:
        first = child.submit(os.getpid).result(timeout=60)
        assert first != os.getpid()
        assert child.submit(os.getpid).result(timeout=60) == first  # no new interpreter per call
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:  # a call already in line when it died fails; the next one gets a new child
            try:
                second = child.submit(os.getpid).result(timeout=60)
                break
            except BrokenProcessPool:
                assert time.monotonic() < deadline
        assert second not in (first, os.getpid())
    finally:
        child.shutdown()
