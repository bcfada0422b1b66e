"""Work children: a kept one is kept between calls and started again after it died; all run below the app."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures.process import BrokenProcessPool

import pytest

from sorter_app.core.child_process import CHILD_NICENESS, KeptChild, work_child


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


@pytest.mark.skipif(not hasattr(os, "nice"), reason="Unix niceness")
def test_children_run_below_the_app_so_the_ui_thread_gets_a_core_first() -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    expected = min(19, own + CHILD_NICENESS)
    with work_child() as child:
        assert child.submit(os.getpriority, os.PRIO_PROCESS, 0).result(timeout=60) == expected
    kept = KeptChild()
    try:
        assert kept.submit(os.getpriority, os.PRIO_PROCESS, 0).result(timeout=60) == expected
    finally:
        kept.shutdown()
    assert os.getpriority(os.PRIO_PROCESS, 0) == own  # the app itself keeps its priority
