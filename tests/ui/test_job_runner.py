"""The window's job runner: jobs that wait for the UI thread's pending work, and ones cancelled first."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from sorter_app.core.library import Library
from sorter_app.paths import bundled_model_sidecar
from sorter_app.session.jobs import Job
from sorter_app.ui.tasks import QtJobRunner


class Painted(QWidget):
    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def paintEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self.log.append("paint")


def _job(slot: str, log: list[str], *, after_pending: bool) -> Job[str]:
    def call(library: Library, progress: Any, cancelled: Any) -> str:
        log.append(f"{slot} ran")
        return slot

    return Job(slot, call, lambda value: log.append(f"{value} done"), after_pending=after_pending)


def test_a_job_after_pending_starts_once_the_window_has_drawn(qtbot: QtBot, tmp_path: Path) -> None:
    """An analysis asked for as a folder loads starts after the repaint the load asked for, so its
    first Python does not share the GIL and the cores with that repaint; a plain job starts at once."""
    log: list[str] = []
    runner = QtJobRunner(lambda: (tmp_path / "data", bundled_model_sidecar()))
    widget = Painted(log)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    qtbot.wait(50)
    log.clear()
    runner.run(_job("now", log, after_pending=False))
    widget.update()  # what the loaded folder's refresh asks for
    runner.run(_job("later", log, after_pending=True))
    assert runner.is_running("later")
    time.sleep(2.0)  # the UI thread busy: the plain job runs meanwhile, the other has not started
    assert log == ["now ran"]
    qtbot.waitUntil(lambda: "later done" in log)
    assert log.index("paint") < log.index("later ran")
    assert not runner.is_running("later")


def test_a_job_cancelled_before_it_started_never_runs(qtbot: QtBot, tmp_path: Path) -> None:
    log: list[str] = []
    runner = QtJobRunner(lambda: (tmp_path / "data", bundled_model_sidecar()))
    runner.run(_job("first", log, after_pending=True))
    runner.cancel("first")
    runner.run(_job("second", log, after_pending=True))
    runner.run(_job("second", log, after_pending=True))  # replaced in its slot before it started
    qtbot.waitUntil(lambda: "second done" in log)
    qtbot.wait(100)
    assert log == ["second ran", "second done"]
    assert not runner.is_running("first") and not runner.is_running("second")
    assert runner.shutdown()


def test_cancel_pressed_before_a_job_started_stops_it_without_running_it(
    qtbot: QtBot, tmp_path: Path
) -> None:
    log: list[str] = []
    runner = QtJobRunner(lambda: (tmp_path / "data", bundled_model_sidecar()))
    job = _job("map", log, after_pending=True)
    job = Job(
        job.slot,
        job.call,
        job.done,
        label="Drawing the map",
        cancellable=True,
        after_pending=True,
        stopped=lambda: log.append("stopped"),
    )
    runner.run(job)
    runner.cancel_visible()  # the progress strip's Cancel, before the job got a thread
    qtbot.waitUntil(lambda: "stopped" in log)
    qtbot.wait(100)
    assert log == ["stopped"] and not runner.is_running("map")
