"""Search and structure over 100,000 and 1,000,000 realistic vectors: time and peak memory. By hand:

    flock /work/locks/heavy.lock .venv/bin/python benchmarks/bench_structure.py --n 100000 \\
        [--before-tree DIR] [--embeddings /work/cache/embeddings.npz] [--keep DIR]

The vectors are realistic, not uniform noise: the real embeddings of the shared photos (the npz
written from their catalog), then variants of them — each a real photo moved part of the way
towards one of its 10 nearest real neighbours, plus noise shaped like the real photos' own spread
(their top 256 principal directions) and a little everywhere else — and 1 % planted near-copies
(cosine ~0.98, same layout) of the row before. Everything else is real: a SQLite catalog, read
through `Library` exactly as `sorter` runs it.

Each operation runs in its own child process, watched every 0.1 s: its peak RSS is its own, and a
child that passes --rss-limit-gb or --timeout is stopped and reported as not finishing. With
--before-tree (a checkout of the code to compare with, e.g. `git worktree add /tmp/before main`)
the same operations first run on that code, then its index files are removed and today's run.
Operations: `build` (what indexing adds after embedding: the Annoy index, and now compact vectors
and the neighbour graph), `similar` (an open folder answering 500 queries of k=24: latency, and
recall@24 against exact search over the full vectors), `duplicates`, `clusters:medium`,
`outliers`, and `browse` (open the folder as the window does: its similar index, its items, then 500
similar queries).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.children import start_children_as_the_app_does

ROOT_NAME = "photos"
HERE = Path(__file__).resolve().parent
QUERIES = 500
RECALL_QUERIES = 100


# --- the catalog -----------------------------------------------------------------------------------


def real_neighbours(real: np.ndarray, k: int = 10) -> np.ndarray:
    """Each real embedding's k nearest other real embeddings (exact, a block of rows at a time)."""
    out = np.empty((len(real), k), dtype=np.int64)
    for start in range(0, len(real), 2048):
        sims = real[start : start + 2048] @ real.T
        sims[np.arange(len(sims)), np.arange(start, start + len(sims))] = -np.inf
        out[start : start + 2048] = np.argpartition(-sims, k, axis=1)[:, :k]
    return out


def realistic_vectors(real: np.ndarray, n: int, seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Blocks of 10,000 unit vectors: the real ones first, then variants; and which are planted copies."""
    rng = np.random.default_rng(seed)
    neighbours = real_neighbours(real)
    centred = real - real.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred / len(real))
    shape = (vectors[:, ::-1][:, :256] * np.sqrt(np.maximum(values[::-1][:256], 0))).T.astype(np.float32)
    for start in range(0, min(n, len(real)), 10_000):
        block = real[start : min(start + 10_000, n)]
        yield block, np.zeros(len(block), dtype=bool)
    for start in range(len(real), n, 10_000):
        count = min(10_000, n - start)
        base = rng.integers(0, len(real), count)
        towards = neighbours[base, rng.integers(0, neighbours.shape[1], count)]
        step = rng.uniform(0.0, 0.5, (count, 1)).astype(np.float32)
        block = (1 - step) * real[base] + step * real[towards]
        block += 0.9 * rng.normal(size=(count, 256)).astype(np.float32) @ shape
        block += 0.008 * rng.normal(size=block.shape).astype(np.float32)
        copies = np.flatnonzero(rng.random(count) < 0.01)
        copies = copies[copies > 0]
        block[copies] = block[copies - 1] + 0.004 * rng.normal(size=(len(copies), block.shape[1]))
        planted = np.zeros(count, dtype=bool)
        planted[copies] = True
        yield (block / np.linalg.norm(block, axis=1, keepdims=True)).astype(np.float32), planted


def build_catalog(data_dir: Path, n: int, embeddings: Path) -> dict[str, Any]:
    from sorter_app.core.catalog import Catalog, FileRow, ImageInfo
    from sorter_app.core.library import Library
    from sorter_app.paths import bundled_model_sidecar

    model_id = Library(data_dir, bundled_model_sidecar()).spec.model_id
    real = np.load(embeddings)["vectors"].astype(np.float32)
    rng = np.random.default_rng(1)
    start = 0
    planted_total = 0
    nn1: list[float] = []
    with Catalog(data_dir / "catalog.sqlite") as catalog:
        root_id = catalog.root_id(data_dir / ROOT_NAME)
        assert root_id is not None
        for vectors, planted in realistic_vectors(real, n):
            count = len(vectors)
            layouts = rng.integers(0, 256, (count, 256), dtype=np.uint8)
            for i in np.flatnonzero(planted):
                layouts[i] = layouts[i - 1]
            planted_total += int(planted.sum())
            sims = vectors[:50] @ vectors.T
            nn1 += np.sort(sims, axis=1)[:, -2].tolist()  # nearest other row within the block
            hashes = [f"{start + i:032x}" for i in range(count)]
            with catalog.transaction():
                catalog.upsert_vectors(model_id, zip(hashes, vectors, strict=True))
                catalog.upsert_images(
                    ImageInfo(h, 4000, 3000, "JPEG", 1, layouts[i].tobytes()) for i, h in enumerate(hashes)
                )
                catalog.upsert_files(
                    root_id,
                    (FileRow(f"img{start + i:07d}.jpg", 3_000_000, i, h, None) for i, h in enumerate(hashes)),
                )
            start += count
    return {
        "planted_copies": planted_total,
        "nearest_in_block_cosine_median": round(float(np.median(nn1)), 3),
    }


def write_catalog(data_dir: Path, n: int, embeddings: Path, tree: Path) -> None:
    """build_catalog run by the code in `tree`: the oldest compared, so that every one can open it."""
    command = [
        sys.executable,
        str(HERE / "bench_structure.py"),
        "--n",
        str(n),
        "--embeddings",
        str(embeddings),
    ]
    subprocess.run(
        [*command, "--build-child", str(data_dir)], env={**os.environ, "PYTHONPATH": str(tree)}, check=True
    )


# --- in the child: one operation, as the CLI or the window runs it --------------------------------


def _peak_mb() -> int:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, it does not carry the parent's over exec)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) // 1024


def _exact_top(catalog: Any, model_id: str, keys: list[str], queries: np.ndarray, k: int) -> list[set[str]]:
    """Exact top-k content hashes of each query, streaming the full vectors from SQLite."""
    best_sims = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_keys = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(keys), 20_000):
        sims = queries @ catalog.vectors(model_id, keys[start : start + 20_000]).T
        both = np.concatenate([best_sims, sims], axis=1)
        ids = np.concatenate(
            [best_keys, np.arange(start, start + sims.shape[1])[None].repeat(len(queries), 0)], 1
        )
        top = np.argpartition(-both, k, axis=1)[:, :k]
        best_sims, best_keys = np.take_along_axis(both, top, 1), np.take_along_axis(ids, top, 1)
    return [{keys[i] for i in row} for row in best_keys.tolist()]


def _query_files(catalog_path: Path, root_id: int) -> list[tuple[str, str]]:
    """QUERIES usable files of the folder, the same ones for every code compared, and their content
    hashes: streamed from the catalog (through sqlite3, not the code measured) so that the paths of
    a million files never count towards the peak measured."""
    db = sqlite3.connect(f"file:{catalog_path}?mode=ro", uri=True)
    try:
        where = "WHERE root_id = ? AND error IS NULL AND content_hash IS NOT NULL"
        total = db.execute(f"SELECT count(*) FROM files {where}", (root_id,)).fetchone()[0]
        picks = set(np.random.default_rng(0).choice(total, QUERIES, replace=False).tolist())
        rows = db.execute(f"SELECT relpath, content_hash FROM files {where} ORDER BY relpath", (root_id,))
        chosen = [(path, key) for i, (path, key) in enumerate(rows) if i in picks]
    finally:
        db.close()
    np.random.default_rng(1).shuffle(chosen)
    return chosen


def _similar(library: Any, folder: Path, with_recall: bool) -> dict[str, Any]:
    from sorter_app.core.folder_index import FolderIndex

    root_id = library.catalog.root_id(folder, create=False)
    model_id = library.vector_key
    started = time.perf_counter()
    index = FolderIndex.open(library.catalog, root_id, model_id, library.index_dir)
    opened = time.perf_counter() - started
    queries = _query_files(library.catalog.path, root_id)
    latencies, cpu, answers = [], [], []
    for path, _ in queries:
        t0, c0 = time.perf_counter(), time.thread_time()
        answers.append(index.similar(path, 24))
        latencies.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    ms, cpu_ms = np.array(latencies) * 1000, np.array(cpu) * 1000
    result: dict[str, Any] = {
        "annoy": index.uses_annoy,
        "open_seconds": round(opened, 2),
        "similar_ms": {p: round(float(np.percentile(ms, v)), 2) for p, v in (("p50", 50), ("p95", 95))},
        "similar_ms_max": round(float(ms.max()), 2),
        # CPU time of the querying thread: what a loaded machine's waits for a core do not inflate.
        "similar_cpu_ms": {
            p: round(float(np.percentile(cpu_ms, v)), 2) for p, v in (("p50", 50), ("p95", 95))
        },
        "load_average": round(os.getloadavg()[0], 1),
        "peak_rss_mb_before_recall": _peak_mb(),
    }
    if with_recall:
        keys = list(library.catalog.paths_by_hash(root_id, model_id))
        query_keys = [key for _, key in queries[:RECALL_QUERIES]]
        truth = _exact_top(library.catalog, model_id, keys, library.catalog.vectors(model_id, query_keys), 25)
        hits = []
        for answer, key, exact in zip(answers[:RECALL_QUERIES], query_keys, truth, strict=True):
            exact.discard(key)
            found = {library.catalog.file_row(root_id, n.relpath).content_hash for n in answer}
            hits.append(len(found & exact) / min(24, len(exact)))
        result["recall_at_24"] = round(float(np.mean(hits)), 4)
    return result


def run_one(data_dir: Path, operation: str, folder: Path) -> dict[str, Any]:
    from sorter_app.core.folder_index import refresh_vector_index
    from sorter_app.core.library import Library
    from sorter_app.paths import bundled_model_sidecar

    with Library(data_dir, bundled_model_sidecar()) as library:
        started = time.perf_counter()
        result: dict[str, Any]
        if operation == "build":
            root_id = library.catalog.root_id(folder, create=False)
            assert root_id is not None
            refresh_vector_index(library.catalog, root_id, library.vector_key, library.index_dir)
            result = {}
        elif operation == "similar":
            result = _similar(library, folder, with_recall=True)
        elif operation == "browse":  # what the window's folder load does (session.py)
            library.prepare_similar(folder)  # so `similar`'s open_seconds below is the cache's
            prepared = time.perf_counter() - started
            items = library.browse_items(folder)
            result = {
                "items": len(items),
                "prepare_similar_seconds": round(prepared, 2),
                **_similar(library, folder, with_recall=False),
            }
        elif operation == "duplicates":
            groups = library.duplicates(folder)
            result = {"groups": len(groups), "near": sum(g.tier == "near" for g in groups)}
            result["near_pairs"] = _near_pairs(groups)
        elif operation == "outliers":
            result = {"ranked": len(library.outliers(folder))}
        else:
            clustering = library.clusters(folder, operation.split(":")[1])
            result = {"clusters": len(clustering.clusters), "unsorted": len(clustering.unsorted)}
        seconds = time.perf_counter() - started
    return {
        "operation": operation,
        "seconds": round(seconds, 1),
        "peak_rss_mb": _peak_mb(),
        "load_average_1min": round(os.getloadavg()[0], 1),
        **result,
    }


def _near_pairs(groups: list[Any]) -> list[list[str]]:
    """Every pair of paths inside each near group: what precision and recall are counted on."""
    pairs = []
    for group in groups:
        if group.tier == "near":
            members = sorted(group.paths)
            pairs += [[a, b] for i, a in enumerate(members) for b in members[i + 1 :]]
    return pairs


# --- the parent: children, watched ----------------------------------------------------------------


def tree_rss_mb(pid: int) -> int:
    """RSS of a process and all its descendants (clusters run igraph in a child of the child)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, StopIteration):
            continue
        pending += [int(c) for c in children]
    return total // 1024


def watch(command: list[str], env: dict[str, str], rss_limit_mb: int, timeout: float) -> dict[str, Any]:
    """Run a child to the end, or stop it at the memory or time limit; its JSON line, or why not."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env, text=True)
        peak = 0
        stopped = ""
        while child.poll() is None:
            peak = max(peak, tree_rss_mb(child.pid))
            elapsed = time.perf_counter() - started
            if peak > rss_limit_mb or elapsed > timeout:
                stopped = (
                    f"stopped at {peak} MB after {elapsed:.0f} s (limit {rss_limit_mb} MB, {timeout:.0f} s)"
                )
                child.kill()
                child.wait()
                break
            time.sleep(0.1)
        out.seek(0)
        err.seek(0)
        lines = [line for line in out.read().splitlines() if line.startswith("{")]
        if stopped or child.returncode != 0 or not lines:
            return {"finished": False, "why": stopped or err.read().strip().splitlines()[-1:]}
        # peak_rss_mb: the operation's own process; with_children_mb: with any process it started,
        # sampled every 0.1 s (a short-lived peak between samples can be missed).
        return {"finished": True, **json.loads(lines[-1]), "with_children_mb": peak}


def compare_duplicates(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Precision and recall of today's near pairs, counting yesterday's as the truth."""
    if not (before.get("finished") and after.get("finished")):
        return {}
    truth = {tuple(p) for p in before.pop("near_pairs")}
    found = {tuple(p) for p in after.pop("near_pairs")}
    both = len(truth & found)
    return {
        "pairs_before": len(truth),
        "pairs_after": len(found),
        "precision_vs_before": round(both / len(found), 4) if found else None,
        "recall_vs_before": round(both / len(truth), 4) if truth else None,
    }


def main() -> None:
    start_children_as_the_app_does()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--embeddings", type=Path, default=Path("/work/cache/embeddings.npz"))
    parser.add_argument("--before-tree", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--rss-limit-gb", type=float, default=8.0)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per operation")
    parser.add_argument("--keep", type=Path, help="build the catalog here (or reuse the one there)")
    parser.add_argument("--only", action="append", help="operations to run (default: all)")
    parser.add_argument(
        "--before-only", action="append", help="operations to run on --before-tree (default: --only)"
    )
    parser.add_argument(
        "--folder",
        type=Path,
        help="the indexed folder, for a --keep catalog of real photos (default: synthetic)",
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("DATA_DIR", "OPERATION", "FOLDER"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--codes",
        choices=("both", "before", "after"),
        default="both",
        help="which code to run (default: both)",
    )
    parser.add_argument(
        "--reuse-index", action="store_true", help="keep the index files a previous run of the same code left"
    )
    parser.add_argument("--build-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(Path(args.child[0]), args.child[1], Path(args.child[2]))), flush=True)
        return
    if args.build_child:
        started = time.perf_counter()
        facts = build_catalog(args.build_child, args.n, args.embeddings)
        seconds = round(time.perf_counter() - started, 1)
        print(json.dumps({"catalog_items": args.n, "build_seconds": seconds, **facts}), flush=True)
        return
    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="bench-structure-"))
    # Vectors are stored under the model id of the code that wrote the catalog (the oldest compared):
    # every code compared runs with that code's bundled model, or a newer one would find no vectors.
    oldest = args.before_tree or HERE.parent
    os.environ.setdefault("SORTER_RESOURCES_DIR", str(oldest / "resources"))
    if not (data_dir / "catalog.sqlite").exists():
        write_catalog(data_dir, args.n, args.embeddings, oldest)
    operations = args.only or ["build", "similar", "duplicates", "clusters:medium", "outliers", "browse"]
    limit = int(args.rss_limit_gb * 1024)
    trees = [("before", args.before_tree)] if args.before_tree else []
    trees = [t for t in [*trees, ("after", HERE.parent)] if args.codes in ("both", t[0])]
    results: dict[str, dict[str, Any]] = {}
    for label, tree in trees:
        if not args.reuse_index:
            shutil.rmtree(data_dir / "indexes", ignore_errors=True)
        env = {**os.environ, "PYTHONPATH": str(tree)}
        for operation in (args.before_only or operations) if label == "before" else operations:
            folder = args.folder or data_dir / ROOT_NAME
            command = [sys.executable, str(HERE / "bench_structure.py"), "--child", str(data_dir), operation]
            command.append(str(folder))
            result = watch(command, env, limit, args.timeout)
            results[f"{label} {operation}"] = result
            shown = {k: v for k, v in result.items() if k != "near_pairs"}
            print(json.dumps({"code": label, "n": args.n, **shown}), flush=True)
    if "before duplicates" in results and "after duplicates" in results:
        comparison = compare_duplicates(results["before duplicates"], results["after duplicates"])
        print(json.dumps({"duplicates_after_vs_before": comparison}), flush=True)
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
