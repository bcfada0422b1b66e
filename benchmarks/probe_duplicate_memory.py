"""Peak memory and CPU of the duplicates' exact graph step at two re-scoring block sizes. By hand:

    .venv/bin/python -m benchmarks.bench_duplicates --source /work/cache/embeddings.npz \
        --photos-cache /tmp/photos.npz --prepare-only
    .venv/bin/python -m benchmarks.probe_duplicate_memory /tmp/photos.npz --n 33494

Builds bench_duplicates' real-density catalog of `--n` images, its stored graph, then runs
`duplicate_graph` (exact cosines of the stored graph's edges, down to the rule's lowest cosine)
with neighbours._RESCORE_EDGES at 65,536 and 16,384, twice each, and checks both give the same
graph. The peak is bound by the block, not by the folder's size, so a third of 100,000 shows it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from benchmarks.bench_duplicates import ROOT_NAME, _peak_rss_mb, _read_photos, _reset_peak_rss, build_catalog
from benchmarks.children import start_children_as_the_app_does
from sorter_app.core import neighbours
from sorter_app.core.duplicates import duplicate_graph
from sorter_app.core.library import Library
from sorter_app.core.near_rule import DEFAULT_RULE
from sorter_app.core.neighbours import KnnGraph
from sorter_app.paths import bundled_model_sidecar


def main() -> None:
    start_children_as_the_app_does()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("photos", type=Path, help="bench_duplicates --photos-cache file")
    parser.add_argument("--n", type=int, default=33_494)
    args = parser.parse_args()
    vectors, infos = _read_photos(args.photos)
    with tempfile.TemporaryDirectory(prefix="probe-duplicate-memory-") as tmp:
        build_catalog(Path(tmp), args.n, vectors, infos)
        del vectors, infos
        with Library(Path(tmp), bundled_model_sidecar()) as library:
            folder = library.folder_vectors(Path(tmp) / ROOT_NAME)  # builds the stored graph first
            tracemalloc.start()
            graphs: dict[int, KnnGraph] = {}
            for block in (65_536, 16_384, 65_536, 16_384):
                neighbours._RESCORE_EDGES = block
                tracemalloc.reset_peak()
                _reset_peak_rss()
                cpu, wall = time.process_time(), time.perf_counter()
                graph = duplicate_graph(folder, DEFAULT_RULE)
                report = {
                    "rescore_edges": block,
                    "cpu_s": round(time.process_time() - cpu, 1),
                    "wall_s": round(time.perf_counter() - wall, 1),
                    "traced_peak_mb": round(tracemalloc.get_traced_memory()[1] / 2**20),
                    "peak_rss_mb": _peak_rss_mb(),
                }
                print(json.dumps(report), flush=True)
                graphs.setdefault(block, graph)
    a, b = graphs[65_536], graphs[16_384]
    same = np.array_equal(a.indices, b.indices) and np.array_equal(a.similarities, b.similarities)
    print(json.dumps({"same_graph": same}))


if __name__ == "__main__":
    main()
