"""Does computing clusters in a worker thread stall the thread that would run the window? By hand:

    flock /work/locks/heavy.lock .venv/bin/python benchmarks/probe_ui_clusters.py [--n 20000] \\
        [--before-tree DIR]

A small probe beside benchmarks/bench_ui.py (which measures the real window): a catalog of n
realistic vectors (bench_structure's), indexed (its Annoy index and, with today's code, its
compact vectors and graph), then `Library.clusters` runs in a worker thread — as the window's
task pool runs it — while the main thread wakes every 5 ms, as a Qt timer would, and records how
late each wake-up is. The interpreter is tuned as the app tunes it (1-ms switch interval). With
--before-tree the same runs on that checkout first (the in-process Louvain it replaced).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.children import start_children_as_the_app_does

HERE = Path(__file__).resolve().parent
TICK = 0.005


def probe(data_dir: Path) -> dict[str, object]:
    """In the child: prepare the folder's index, then time the main thread while clusters run."""
    from sorter_app.core.folder_index import refresh_vector_index
    from sorter_app.core.library import Library
    from sorter_app.paths import bundled_model_sidecar

    folder = data_dir / "photos"
    with Library(data_dir, bundled_model_sidecar()) as library:
        root_id = library.catalog.root_id(folder, create=False)
        assert root_id is not None
        refresh_vector_index(library.catalog, root_id, library.vector_key, library.index_dir)
    sys.setswitchinterval(0.0002)  # as sorter_app.ui.app.tune_interpreter does
    outcome: dict[str, object] = {}

    def work() -> None:
        started = time.perf_counter()
        with Library(data_dir, bundled_model_sidecar()) as library:  # its own connection, as a task's
            clustering = library.clusters(folder, "medium")
        outcome.update(seconds=round(time.perf_counter() - started, 2), clusters=len(clustering.clusters))

    worker = threading.Thread(target=work)
    lateness: list[float] = []
    worker.start()
    while worker.is_alive():
        asked = time.perf_counter()
        time.sleep(TICK)
        lateness.append(time.perf_counter() - asked - TICK)
    worker.join()
    late_ms = np.array(lateness) * 1000
    return {
        **outcome,
        "ticks": len(lateness),
        "worst_late_ms": round(float(late_ms.max()), 1),
        "p99_late_ms": round(float(np.percentile(late_ms, 99)), 1),
        "late_over_50ms": int((late_ms > 50).sum()),
        "load_average": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    start_children_as_the_app_does()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--embeddings", type=Path, default=Path("/work/cache/embeddings.npz"))
    parser.add_argument("--before-tree", type=Path)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(probe(args.child)), flush=True)
        return
    sys.path.insert(0, str(HERE))
    from bench_structure import write_catalog

    # As in bench_structure: vectors are keyed by the model id of the code that wrote the catalog.
    oldest = args.before_tree or HERE.parent
    os.environ.setdefault("SORTER_RESOURCES_DIR", str(oldest / "resources"))
    with tempfile.TemporaryDirectory(prefix="probe-ui-") as tmp:
        data_dir = Path(tmp)
        write_catalog(data_dir, args.n, args.embeddings, oldest)
        trees = [("before", args.before_tree)] if args.before_tree else []
        for label, tree in [*trees, ("after", HERE.parent)]:
            for index_file in (data_dir / "indexes").glob("*"):
                index_file.unlink()
            env = {**os.environ, "PYTHONPATH": str(tree)}
            child = [sys.executable, str(HERE / "probe_ui_clusters.py"), "--child", str(data_dir)]
            done = subprocess.run(child, env=env, capture_output=True, text=True, check=False)
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            result = json.loads(lines[-1]) if lines else {"failed": done.stderr.strip().splitlines()[-1:]}
            print(json.dumps({"code": label, "images": args.n, **result}), flush=True)


if __name__ == "__main__":
    main()
