"""`sorter duplicates` over 100,000 images with real look-alike density: time and peak memory. By hand:

    .venv/bin/python -m benchmarks.bench_duplicates --source DATA_DIR [--n 100000]
    .venv/bin/python -m benchmarks.bench_duplicates --source /work/cache/embeddings.npz

DATA_DIR is a data folder in which ../shared/datasets was indexed (`sorter index --data-dir
DATA_DIR ../shared/datasets`) by a model whose id is the bundled one's; an `.npz` of the datasets'
embeddings (arrays `paths`, relative to the datasets folder, `vectors` and `content_hash`) serves
as well, whatever model id made it, the files being decoded for their sizes and layouts. The
16,747 distinct photos' embeddings and layouts are copied six times into
a synthetic catalog, each copy turned by its own random rotation of the embedding space: every
copy keeps the real neighbourhoods (the same look-alike rooms, skies and charts, the same genuine
duplicates) and no two copies are near each other. So the pixel check meets as many candidate
pairs per photo as in a real collection of such photos — unlike bench_structure's clustered random
vectors, which give it almost none. Layouts stored before version 2 are recomputed from the files
first (in memory; DATA_DIR is only read), as re-indexing would.

`--n 16747` (one copy) measures the shared photos themselves. `--parts-everywhere` also searches
for one picture inside the other on every graph pair (cosine ≥ 0.5), not only from cosine 0.75:
the cost if every candidate needed the full search.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.children import start_children_as_the_app_does
from sorter_app.core import near_rule
from sorter_app.core.catalog import Catalog, FileRow, ImageInfo
from sorter_app.core.duplicates import candidate_pairs, duplicate_graph, find_duplicate_tiers
from sorter_app.core.images import load_image, load_image_file
from sorter_app.core.layout import is_legacy, layout_signature
from sorter_app.core.library import Library
from sorter_app.core.model_spec import load_spec
from sorter_app.paths import bundled_model_sidecar

DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
ROOT_NAME = "photos"


def real_photos(source: Path) -> tuple[list[str], np.ndarray, list[ImageInfo]]:
    """The indexed datasets' distinct contents: hashes, vectors, image rows with version-2 layouts."""
    if source.suffix == ".npz":
        return _photos_from_npz(source)
    with Library(source, bundled_model_sidecar()) as library:
        catalog = library.catalog
        root_id = catalog.root_id(DATASETS.resolve(), create=False)
        if root_id is None:
            raise SystemExit(f"{DATASETS} is not indexed in {source}")
        by_hash = catalog.paths_by_hash(root_id, library.spec.model_id)
        hashes = sorted(by_hash)
        vectors = catalog.vectors(library.spec.model_id, hashes)
        infos = []
        for h in hashes:
            info = catalog.image_info(h)
            assert info is not None
            if is_legacy(info.layout):
                image = load_image(
                    (DATASETS / by_hash[h][0]).read_bytes(), library.spec.preprocess.size
                ).image
                info = replace(info, layout=layout_signature(image))
            infos.append(info)
    return hashes, vectors, infos


def _photos_from_npz(source: Path) -> tuple[list[str], np.ndarray, list[ImageInfo]]:
    """Each distinct content of the cached embeddings once, its image row made from its file."""
    cached = np.load(source, allow_pickle=False)
    first: dict[str, int] = {}
    for i, h in enumerate(cached["content_hash"].tolist()):
        first.setdefault(h, i)
    hashes = sorted(first)
    rows = [first[h] for h in hashes]
    size = load_spec(bundled_model_sidecar()).preprocess.size
    infos = []
    for h, row in zip(hashes, rows, strict=True):
        loaded = load_image_file(DATASETS / str(cached["paths"][row]), size)
        infos.append(
            ImageInfo(
                h, loaded.width, loaded.height, loaded.format, loaded.frames, layout_signature(loaded.image)
            )
        )
    return hashes, np.ascontiguousarray(cached["vectors"][rows], dtype=np.float32), infos


def load_photos(source: Path, cache: Path | None) -> tuple[np.ndarray, list[ImageInfo]]:
    """`real_photos`' vectors and image rows, read from `cache` when it exists and written to it
    when not (the decoding, done once, outside any timed run; benchmarks.bench_curate uses it too)."""
    if cache is not None and cache.is_file():
        return _read_photos(cache)
    _, vectors, infos = real_photos(source)
    if cache is not None:
        _write_photos(cache, vectors, infos)
    return vectors, infos


def _write_photos(path: Path, vectors: np.ndarray, infos: list[ImageInfo]) -> None:
    np.savez(
        path,
        vectors=vectors,
        hashes=np.array([i.content_hash for i in infos]),
        sizes=np.array([(i.width, i.height, i.frames) for i in infos], dtype=np.int64),
        formats=np.array([i.format for i in infos]),
        layouts=np.array([np.frombuffer(i.layout, dtype=np.uint8) for i in infos]),
    )


def _read_photos(path: Path) -> tuple[np.ndarray, list[ImageInfo]]:
    cached = np.load(path, allow_pickle=False)
    infos = [
        ImageInfo(str(h), int(w), int(ht), str(f), int(frames), bytes(layout))
        for h, (w, ht, frames), f, layout in zip(
            cached["hashes"], cached["sizes"], cached["formats"], cached["layouts"], strict=True
        )
    ]
    return cached["vectors"], infos


def build_catalog(data_dir: Path, n: int, vectors: np.ndarray, infos: list[ImageInfo]) -> None:
    model_id = Library(data_dir, bundled_model_sidecar()).spec.model_id
    rng = np.random.default_rng(0)
    with Catalog(data_dir / "catalog.sqlite") as catalog:
        root_id = catalog.root_id(data_dir / ROOT_NAME)
        assert root_id is not None
        made = 0
        for copy in range(-(-n // len(vectors))):
            count = min(len(vectors), n - made)
            rotation, _ = np.linalg.qr(rng.normal(size=(vectors.shape[1], vectors.shape[1])))
            turned = (vectors[:count] @ rotation).astype(np.float32)
            hashes = [f"{copy:02d}{i:030x}" for i in range(count)]
            with catalog.transaction():
                catalog.upsert_vectors(model_id, zip(hashes, turned, strict=True))
                catalog.upsert_images(replace(infos[i], content_hash=h) for i, h in enumerate(hashes))
                catalog.upsert_files(
                    root_id,
                    (FileRow(f"c{copy}/img{i:06d}.jpg", 300_000, i, h, None) for i, h in enumerate(hashes)),
                )
            made += count


def run_one(data_dir: Path, parts_everywhere: bool) -> dict[str, object]:
    """In the child: what `Library.duplicate_tiers` does on an indexed folder (its stored graph built
    first, as indexing does), loading, the exact graph and the verdicts timed apart."""
    rule = near_rule.DEFAULT_RULE
    if parts_everywhere:
        rule = replace(rule, part_candidate=rule.candidate)
    with Library(data_dir, bundled_model_sidecar()) as library:
        folder = data_dir / ROOT_NAME
        clock = _Clock()
        library.folder_vectors(folder)  # the stored compact vectors and graph, which indexing builds
        indexing = clock.lap()
        indexing_peak_mb = _reset_peak_rss()
        vectors = library.folder_vectors(folder)
        facts = library.catalog.file_facts(library.catalog.root_id(folder, create=False) or -1)
        layouts = library.catalog.layouts(vectors.keys)
        loading = clock.lap()
        graph = duplicate_graph(vectors, rule)
        graphing = clock.lap()
        tiers = find_duplicate_tiers(vectors, facts, layouts, rule=rule, graph=graph)
        judging = clock.lap()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        duplicates_peak_mb = _peak_rss_mb()
    _, _, cosines = candidate_pairs(graph, rule.lowest)
    checked = int((cosines >= rule.candidate).sum())
    return {
        "images": len(vectors),
        "parts_everywhere": parts_everywhere,
        "stored_graph_built_first_seconds": round(indexing[0], 1),
        "seconds": round(loading[0] + graphing[0] + judging[0], 1),
        "load_graph_verdicts_seconds": [round(loading[0], 1), round(graphing[0], 1), round(judging[0], 1)],
        "load_graph_verdicts_cpu_seconds": [
            round(loading[1], 1),
            round(graphing[1], 1),
            round(judging[1], 1),
        ],
        "peak_rss_mb": round(peak_mb),
        # The stored graph is indexing's work, done first in this process: the peak after it, apart.
        "peak_rss_mb_stored_graph_build": indexing_peak_mb,
        "peak_rss_mb_duplicates_only": duplicates_peak_mb,
        "pairs_checked": checked,
        "pairs_searched_for_parts": int((cosines >= rule.part_candidate).sum()),
        "verdict_cpu_us_per_pair": round(1e6 * judging[1] / max(checked, 1), 1),
        "groups": len(tiers.groups),
        "near": sum(g.tier == "near" for g in tiers.groups),
        "similar": len(tiers.similar),
    }


def _peak_rss_mb() -> int | None:
    """This process's peak resident memory since the last reset (Linux VmHWM), or None."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    line = next((x for x in status.splitlines() if x.startswith("VmHWM:")), None)
    return round(int(line.split()[1]) / 1024) if line else None


def _reset_peak_rss() -> int | None:
    """The peak so far; then the peak starts again from what is resident now (Linux clear_refs 5)."""
    peak = _peak_rss_mb()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    return peak


class _Clock:
    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        lap = (wall - self.wall, cpu - self.cpu)
        self.wall, self.cpu = wall, cpu
        return lap


def main() -> None:
    start_children_as_the_app_does()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--source", type=Path, help="a data folder in which ../shared/datasets was indexed, or an .npz of it"
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--parts-everywhere", action="store_true")
    parser.add_argument(
        "--photos-cache",
        type=Path,
        help="an .npz the source's photos (vectors, sizes, version-2 layouts) are read from when it "
        "exists and written to when not: the decoding, done once, outside the timed run",
    )
    parser.add_argument("--prepare-only", action="store_true", help="write --photos-cache and stop")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args.parts_everywhere)))
        return
    if args.source is None:
        parser.error("--source DATA_DIR is needed (see the description)")
    started = time.perf_counter()
    vectors, infos = load_photos(args.source, args.photos_cache)
    if args.prepare_only:
        return
    with tempfile.TemporaryDirectory(prefix="bench-duplicates-") as tmp:
        build_catalog(Path(tmp), args.n, vectors, infos)
        print(
            json.dumps(
                {
                    "catalog_items": args.n,
                    "real_photos": len(vectors),
                    "build_seconds": round(time.perf_counter() - started, 1),
                }
            )
        )
        child = [sys.executable, "-m", "benchmarks.bench_duplicates", "--child", tmp]
        if args.parts_everywhere:
            child.append("--parts-everywhere")
        print(subprocess.run(child, check=True, capture_output=True, text=True).stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
