"""Work children: a kept one is kept between calls and started again after it died; all run below the app."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from sorter_app.core.child_process import CHILD_NICENESS, PARENT_CHECK_S, KeptChild, work_child


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


APP_THAT_DIES = """
import os, sys, time
from sorter_app.core.child_process import KeptChild

if __name__ == "__main__":
    child = KeptChild()
    print(child.submit(os.getpid).result(timeout=60), flush=True)
    time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc") or not hasattr(signal, "SIGKILL"), reason="Linux /proc")
def test_a_child_ends_when_the_app_is_killed(tmp_path: Path) -> None:
    """A killed window's label-training child waited for ever on a pipe (a monkey test left one
    per run, 70 MB each)."""
    script = tmp_path / "app.py"
    script.write_text(APP_THAT_DIES)
    app = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout is not None
        child = int(app.stdout.readline())
        assert _alive(child)
    finally:
        app.kill()
        app.wait()
    deadline = time.monotonic() + 30 * PARENT_CHECK_S
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)
