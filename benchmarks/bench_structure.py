"""Duplicates, clusters and outliers over a 100,000-image catalog: time and peak memory. By hand:

    .venv/bin/python -m benchmarks.bench_structure [--n 100000]

The catalog is synthetic (clustered 1280-d unit vectors, 1 % planted near-duplicates with equal
layouts) but real in every other way: SQLite rows read by `Library`, exactly as `sorter duplicates`
and `sorter clusters` run. Each operation runs in a fresh child process so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sorter_app.core.catalog import Catalog, FileRow, ImageInfo
from sorter_app.core.library import Library
from sorter_app.paths import bundled_model_sidecar

ROOT_NAME = "photos"


def build_catalog(data_dir: Path, n: int) -> None:
    model_id = Library(data_dir, bundled_model_sidecar()).spec.model_id
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(max(n // 200, 1), 1280)).astype(np.float32)
    with Catalog(data_dir / "catalog.sqlite") as catalog:
        root_id = catalog.root_id(data_dir / ROOT_NAME)
        assert root_id is not None
        for start in range(0, n, 10_000):
            count = min(10_000, n - start)
            vectors = centres[rng.integers(0, len(centres), count)]
            vectors = vectors + 0.8 * rng.normal(size=(count, 1280)).astype(np.float32)
            layouts = rng.integers(0, 256, (count, 256), dtype=np.uint8)
            planted = rng.random(count) < 0.01  # 1 %: near-copies of the previous item
            for i in np.flatnonzero(planted[1:]) + 1:
                vectors[i] = vectors[i - 1] + 0.05 * rng.normal(size=1280).astype(np.float32)
                layouts[i] = layouts[i - 1]
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            hashes = [f"{start + i:032x}" for i in range(count)]
            with catalog.transaction():
                catalog.upsert_vectors(model_id, zip(hashes, vectors, strict=True))
                catalog.upsert_images(
                    ImageInfo(h, 4000, 3000, "JPEG", 1, layouts[i].tobytes()) for i, h in enumerate(hashes)
                )
                catalog.upsert_files(
                    root_id,
                    (FileRow(f"img{start + i:06d}.jpg", 3_000_000, i, h, None) for i, h in enumerate(hashes)),
                )


def run_one(data_dir: Path, operation: str) -> dict[str, object]:
    """In the child: run one operation as the CLI would and report its time and peak memory."""
    with Library(data_dir, bundled_model_sidecar()) as library:
        folder = data_dir / ROOT_NAME
        started = time.perf_counter()
        if operation == "duplicates":
            result = {"groups": len(library.duplicates(folder))}
        elif operation == "outliers":
            result = {"ranked": len(library.outliers(folder))}
        else:
            clustering = library.clusters(folder, operation.split(":")[1])
            result = {"clusters": len(clustering.clusters), "unsorted": len(clustering.unsorted)}
        seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"operation": operation, "seconds": round(seconds, 1), "peak_rss_mb": round(peak_mb), **result}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--child", nargs=2, metavar=("DATA_DIR", "OPERATION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(Path(args.child[0]), args.child[1])))
        return
    with tempfile.TemporaryDirectory(prefix="bench-structure-") as tmp:
        data_dir = Path(tmp)
        started = time.perf_counter()
        build_catalog(data_dir, args.n)
        print(json.dumps({"catalog_items": args.n, "build_seconds": round(time.perf_counter() - started, 1)}))
        for operation in ("duplicates", "clusters:medium", "outliers"):
            child = [sys.executable, "-m", "benchmarks.bench_structure", "--child", str(data_dir), operation]
            print(
                subprocess.run(child, check=True, capture_output=True, text=True).stdout.strip(), flush=True
            )


if __name__ == "__main__":
    main()
