"""Index and query speed against the budgets in DESIGN.md. Run by hand, not in CI:

    .venv/bin/python -m benchmarks.bench_index                 # everything
    .venv/bin/python -m benchmarks.bench_index --only query    # one part: rooms, 12mp, isolation,
                                                               # reopen, query
    .venv/bin/python -m benchmarks.bench_index --only 12mp --n12mp 300 --rounds 2 \
        --model OLD/image-sorter.json --model resources/models/image-sorter.json   # two models, interleaved

Each throughput figure is paired with a naive baseline run in the same process on the same files
(full decode, one image per model call, no catalog, no cache), so the ratio says what the pipeline
(draft decoding, threads, batching) buys.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

from benchmarks.children import start_children_as_the_app_does
from sorter_app.core.catalog import Catalog, FileRow
from sorter_app.core.folder_index import FolderIndex, refresh_vector_index
from sorter_app.core.library import Library
from sorter_app.core.model_spec import load_spec
from sorter_app.core.preprocess import normalise_batch, to_model_pixels
from sorter_app.paths import bundled_model_sidecar

REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO.parent / "shared" / "datasets"
OUT = REPO / "benchmarks" / "out"


def naive_images_per_second(files: list[Path], sidecar: Path) -> float:
    """The obvious loop: default onnxruntime session, full decode, one image per call, nothing cached."""
    spec = load_spec(sidecar)
    session = ort.InferenceSession(str(sidecar.parent / spec.onnx_file), providers=["CPUExecutionProvider"])
    pre = spec.preprocess
    started = time.perf_counter()
    for path in files:
        img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        session.run(None, {spec.input_name: normalise_batch(to_model_pixels(img, pre)[None], pre)})
    return len(files) / (time.perf_counter() - started)


def index_once(folder: Path, sidecar: Path) -> tuple[dict[str, Any], Path]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-data-"))
    with Library(data_dir, sidecar) as library:
        report = library.index(folder)
    result = {
        "images": report.indexed,
        "skipped": len(report.skipped),
        "seconds": round(report.seconds, 2),
        "images_per_second": round(report.images_per_second, 1),
    }
    return result, data_dir


def compare(folder: Path, files: list[Path], sidecar: Path) -> dict[str, Any]:
    pipeline, data_dir = index_once(folder, sidecar)
    shutil.rmtree(data_dir)
    naive = naive_images_per_second(files, sidecar)
    return {
        "pipeline": pipeline,
        "naive_images_per_second": round(naive, 1),
        "speedup": round(pipeline["images_per_second"] / naive, 2),
    }


def bench_rooms(sidecar: Path) -> dict[str, Any]:
    folder = DATASETS / "house_rooms"
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    return {"folder": str(folder), **compare(folder, files, sidecar)}


PHOTOS_12MP = "indoor_outdoor_alek"  # its first photos by name, all of them outdoor


def make_12mp_jpegs(n: int, source: str = PHOTOS_12MP) -> Path:
    """12-MP camera-like JPEGs made from real photos (upscaled, with sensor-like noise), cached:
    the first `n` of `source` by name, or for another source than the historical one, `n` spread
    over all of it (house_rooms: a folder of rooms, where the room pass runs for every photo)."""
    folder = OUT / ("jpeg-12mp" if source == PHOTOS_12MP else f"jpeg-12mp-{source}")
    folder.mkdir(parents=True, exist_ok=True)
    found = sorted((DATASETS / source).rglob("*.jpg"))
    photos = found[:n] if source == PHOTOS_12MP else found[:: max(1, len(found) // n)][:n]
    rng = np.random.default_rng(0)
    for i, photo in enumerate(photos):
        target = folder / f"photo{i:03d}.jpg"
        if target.exists():
            continue
        big = Image.open(photo).convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
        noisy = np.asarray(big, dtype=np.int16) + rng.normal(0, 6, (3000, 4000, 3)).astype(np.int16)
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(target, "JPEG", quality=92)
    return folder


def bench_12mp(sidecar: Path, n: int, source: str = PHOTOS_12MP) -> dict[str, Any]:
    folder = make_12mp_jpegs(n, source)
    files = sorted(folder.glob("*.jpg"))
    mean_mb = sum(p.stat().st_size for p in files) / len(files) / 1e6
    return {"files": len(files), "mean_file_mb": round(mean_mb, 2), **compare(folder, files, sidecar)}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        fields = fh.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_isolation(sidecar: Path, n: int) -> dict[str, Any]:
    """CPU time per 12-MP JPEG for the decode step: in this process vs in a decode worker.

    Wall-clock throughput on a shared machine swings with the load; CPU time much less. The worker
    path adds a second read of the file (page cache), a pipe round trip and 150 KB of pickled
    pixels per image; this says what that costs, on the same files, same decode.
    """
    from sorter_app.core.decode_pool import DecodePool
    from sorter_app.core.hashing import file_hash
    from sorter_app.core.images import load_image
    from sorter_app.core.layout import layout_signature
    from sorter_app.core.model_input import prepare_model_input

    pre = load_spec(sidecar).preprocess
    files = sorted(make_12mp_jpegs(n).glob("*.jpg"))
    started = time.process_time()
    for path in files:
        data = path.read_bytes()
        file_hash(path)
        loaded = load_image(data, min_side=pre.size)
        to_model_pixels(loaded.image, pre)
        layout_signature(loaded.image)
    in_process = time.process_time() - started
    with DecodePool(1) as pool:
        pool.call(prepare_model_input, str(files[0]), pre)  # start the worker outside the timing
        worker = pool.worker_pids()[0]
        started, worker_started = time.process_time(), _cpu_seconds(worker)
        for path in files:
            file_hash(path)
            result = pool.call(prepare_model_input, str(path), pre)
            assert not isinstance(result, str), result
        here, there = time.process_time() - started, _cpu_seconds(worker) - worker_started
    return {
        "files": len(files),
        "cpu_ms_per_image_in_process": round(1000 * in_process / len(files), 1),
        "cpu_ms_per_image_with_worker": round(1000 * (here + there) / len(files), 1),
        "of_which_in_worker": round(1000 * there / len(files), 1),
    }


def bench_reopen(sidecar: Path) -> dict[str, Any]:
    """Index the whole shared dataset, then time re-opening it unchanged."""
    first, data_dir = index_once(DATASETS, sidecar)
    timings = []
    with Library(data_dir, sidecar) as library:
        for _ in range(3):
            report = library.index(DATASETS)
            timings.append(report.seconds)
        files = report.reused
        started = time.perf_counter()
        index = library.open_folder(DATASETS)
        open_index = time.perf_counter() - started
        index.close()
    shutil.rmtree(data_dir)
    return {
        "first_index": first,
        "files": files,
        "reopen_seconds": [round(t, 3) for t in timings],
        "open_for_queries_seconds": round(open_index, 3),
    }


def _clustered_unit_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Like real embeddings, synthetic ones sit in clusters; uniform noise in 1280-d would not."""
    centres = rng.normal(size=(max(n // 200, 1), dim)).astype(np.float32)
    vectors = centres[rng.integers(0, len(centres), n)] + 0.8 * rng.normal(size=(n, dim)).astype(np.float32)
    unit: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit


def bench_query(n: int = 100_000, dim: int = 1280, queries: int = 500) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    vectors = _clustered_unit_vectors(n, dim, rng)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-query-"))
    with Catalog(data_dir / "catalog.sqlite") as catalog:
        root_id = catalog.root_id(data_dir / "photos")
        assert root_id is not None
        with catalog.transaction():
            catalog.upsert_vectors("synthetic", ((f"h{i}", v) for i, v in enumerate(vectors)))
            catalog.upsert_files(root_id, (FileRow(f"img{i:06d}.jpg", 1, 1, f"h{i}", None) for i in range(n)))
        started = time.perf_counter()
        refresh_vector_index(catalog, root_id, "synthetic", data_dir)
        build_seconds = time.perf_counter() - started
        started = time.perf_counter()
        index = FolderIndex.open(catalog, root_id, "synthetic", data_dir)
        open_seconds = time.perf_counter() - started
        picks = rng.integers(0, n, queries)
        latencies, recalls = [], []
        for q in picks:
            t0 = time.perf_counter()
            got = index.similar(f"img{q:06d}.jpg", 24)
            latencies.append(time.perf_counter() - t0)
            truth = np.argsort(-(vectors @ vectors[q]))[1:25]
            recalls.append(len({f"img{i:06d}.jpg" for i in truth} & {g.relpath for g in got}) / 24)
        index.close()
    shutil.rmtree(data_dir)
    ms = np.array(latencies) * 1000
    return {
        "vectors": n,
        "dim": dim,
        "annoy_build_seconds": round(build_seconds, 1),
        "open_seconds": round(open_seconds, 2),
        "similar_k24_ms": {
            "p50": round(float(np.percentile(ms, 50)), 2),
            "p95": round(float(np.percentile(ms, 95)), 2),
            "max": round(float(ms.max()), 2),
        },
        "recall_at_24": round(float(np.mean(recalls)), 3),
    }


def main() -> None:
    start_children_as_the_app_does()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["rooms", "12mp", "isolation", "reopen", "query"], action="append")
    parser.add_argument("--n12mp", type=int, default=100, help="how many 12-MP JPEGs to generate")
    parser.add_argument(
        "--model",
        type=Path,
        action="append",
        help="a model's sidecar (default: the bundled one); several are run in turn, for a comparison "
        "on the same files under the same load",
    )
    parser.add_argument("--rounds", type=int, default=1, help="run the parts this many times")
    parser.add_argument(
        "--12mp-from",
        dest="photos",
        default=PHOTOS_12MP,
        help="the photo source the 12-MP JPEGs are made from (default: %(default)s, outdoor photos)",
    )
    args = parser.parse_args()
    for _ in range(args.rounds):
        for sidecar in args.model or [bundled_model_sidecar()]:
            for name, result in _run_parts(sidecar, args.only, args.n12mp, args.photos):
                print(json.dumps({name: result, "model": load_spec(sidecar).model_id}), flush=True)


def _run_parts(
    sidecar: Path, only: list[str] | None, n12mp: int, photos: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    parts: dict[str, Callable[[], dict[str, Any]]] = {
        "rooms": lambda: bench_rooms(sidecar),
        "12mp": lambda: bench_12mp(sidecar, n12mp, photos),
        "isolation": lambda: bench_isolation(sidecar, n12mp),
        "reopen": lambda: bench_reopen(sidecar),
        "query": bench_query,
    }
    for name in only or list(parts):
        yield name, parts[name]()


if __name__ == "__main__":
    main()
