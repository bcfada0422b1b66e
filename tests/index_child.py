"""Index one folder in this process and say what each file cost: run as a child by the tests.

    python tests/index_child.py FOLDER DATA_DIR TRACE_FILE

Indexes FOLDER with the real model and one decode thread, timing every file (the indexer's
per-file step is wrapped), and writes to TRACE_FILE, as it goes, one line per file started and
per file finished (`start|end <time> <relpath>`, and `fail` for one that raised), so that a run
killed mid-file still says which file it was on. Prints one JSON object at the end: the report,
each file's seconds, and the peak resident memory of this process and of its largest descendant
(the decode workers; Linux /proc).
It imports nothing from tests/, so benchmarks/hostile_corpus.py runs it against older code too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any


class PeakMemory:
    """Samples this process's descendants (the decode workers) from /proc: their peak RSS (VmHWM)."""

    def __init__(self, interval_s: float = 0.02) -> None:
        self.peak_child_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval_s,), daemon=True)
        self._thread.start()

    def _run(self, interval_s: float) -> None:
        me = os.getpid()
        while not self._stop.wait(interval_s):
            for pid in descendants(me):
                self.peak_child_mb = max(self.peak_child_mb, _vm_hwm_mb(pid))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def descendants(root: int) -> set[int]:
    """Every process below `root` (children, their children …), from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found: set[int] = set()
    grew = {root}
    while grew:
        grew = {pid for pid, parent in parents.items() if parent in grew} - found
        found |= grew
    return found


def run(folder: Path, work: Path, *, python: str = sys.executable, code: Path | None = None) -> Any:
    """Run this script on `folder` in a child process (data and trace in `work`): its JSON result.

    `code` puts another checkout's sorter_app first on the child's path (older code, for figures).
    """
    env = {**os.environ, "PYTHONPATH": str(code)} if code is not None else None
    done = subprocess.run(
        [python, __file__, str(folder), str(work / "data"), str(work / "trace.txt")],
        capture_output=True, text=True, timeout=600, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def _vm_hwm_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def main() -> None:
    folder, data_dir, trace_path = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    from sorter_app.core import indexer
    from sorter_app.core.library import Library
    from sorter_app.paths import bundled_model_sidecar

    trace = os.open(trace_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    seconds: dict[str, float] = {}
    prepare = indexer._prepare

    def timed_prepare(root: Path, file: Any, *args: Any) -> Any:
        started = time.time()
        os.write(trace, f"start {started:.3f} {file.relpath}\n".encode("utf-8", "backslashreplace"))
        try:
            return prepare(root, file, *args)
        except BaseException:  # the run is about to die of this file
            os.write(trace, f"fail {time.time():.3f} {file.relpath}\n".encode("utf-8", "backslashreplace"))
            raise
        finally:
            ended = time.time()
            seconds[file.relpath] = ended - started
            os.write(trace, f"end {ended:.3f} {file.relpath}\n".encode("utf-8", "backslashreplace"))

    indexer._prepare = timed_prepare  # type: ignore[assignment]
    memory = PeakMemory()
    with Library(data_dir, bundled_model_sidecar()) as library:
        report = indexer.index_folder(folder, library.catalog, library.embedder, library.index_dir, workers=1)
    memory.stop()
    print(
        json.dumps(
            {
                "indexed": report.indexed,
                "reused": report.reused,
                "skipped": {p.relpath: p.reason for p in report.skipped},
                "seconds": seconds,
                # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec
                "maxrss_mb": _vm_hwm_mb(os.getpid()),
                "peak_worker_mb": memory.peak_child_mb,
            }
        )
    )


if __name__ == "__main__":
    main()
