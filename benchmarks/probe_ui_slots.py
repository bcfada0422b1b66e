"""The UI thread's own CPU time in the slots that rebuild Browse, on a folder already indexed. By hand:

    .venv/bin/python -m benchmarks.probe_ui_slots [FOLDER] [--catalog-dir DIR]

A probe beside benchmarks/bench_ui.py. bench_ui measures event-loop gaps, which on a shared
machine mix the window's own work with waiting for a CPU; this measures only the work: the
calling thread's CPU clock (time.thread_time) around each slot, whatever the machine's load. The
folder (default: ../shared/datasets/house_rooms, 5,192 images) is opened in the real window
(offscreen) over a copy of a data folder that has already indexed it (default: the team's cache of
the shared datasets), so opening it is a stat walk. Then: three times, the same images get their
answers anew (what a retrain or a correction does: `Changes(items=True)`); then the clusters are
computed again at another granularity. Printed as JSON: each slot's CPU ms, in order.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_ui import run_until
from benchmarks.children import start_children_as_the_app_does

REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO.parent / "shared" / "datasets"
CACHE = Path("/work/cache/sorter-data")


def measure(folder: Path, data_dir: Path) -> dict[str, Any]:
    from PySide6.QtWidgets import QApplication

    from sorter_app.core.kinds import AnalysisKind
    from sorter_app.paths import AppPaths
    from sorter_app.session import Changes
    from sorter_app.ui.app import tune_interpreter
    from sorter_app.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    window = MainWindow(AppPaths(data_dir))
    window.show()
    tune_interpreter()
    slots: dict[str, list[float]] = {}

    def timed(owner: object, name: str, label: str) -> None:
        real = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return real(*args, **kwargs)
            finally:
                slots.setdefault(label, []).append(round((time.thread_time() - started) * 1000, 1))

        setattr(owner, name, wrapper)

    session, analyses, browse = window.session, window.session.analyses, window.browse
    timed(session.changed, "emit", "session change, every listener")
    timed(analyses, "_computed", "analysis result")
    timed(browse, "refresh", "Browse refresh")
    deferred = getattr(browse, "_refresh", None)  # a timer bound to the method before it was wrapped
    if deferred is not None:
        deferred.timeout.disconnect()
        deferred.timeout.connect(browse.refresh)
    clusters_done = lambda: analyses.states[AnalysisKind.CLUSTERS].status == "done"  # noqa: E731
    window.open_folder(folder)
    run_until(lambda: session.report is not None, 600)
    run_until(clusters_done, 600)
    run_until(lambda: False, 2)
    result: dict[str, Any] = {"images": len(session.items)}
    slots.clear()
    for _ in range(3):
        session.emit(Changes(items=True))
        run_until(lambda: False, 0.3)
    result["new answers for the same images (3 times)"] = dict(slots)
    slots.clear()
    started = time.thread_time()
    analyses.set_granularity("fine" if analyses.granularity != "fine" else "coarse")
    result["starting a clustering"] = round((time.thread_time() - started) * 1000, 1)
    run_until(lambda: False, 0.2)
    run_until(clusters_done, 600)
    run_until(lambda: False, 1)
    result["the clusters arriving"] = dict(slots)
    window.close()
    app.processEvents()
    return result


def main() -> int:
    start_children_as_the_app_does()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path, nargs="?", default=DATASETS / "house_rooms")
    parser.add_argument("--catalog-dir", type=Path, default=CACHE, help="a data folder that indexed FOLDER")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="probe-ui-slots-"))
    try:
        os.environ["XDG_CONFIG_HOME"] = str(work / "config")  # the user's recent folders stay as they are
        shutil.copytree(args.catalog_dir, work / "data")  # the window writes to its data folder
        print(json.dumps(measure(args.folder.resolve(), work / "data"), indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
