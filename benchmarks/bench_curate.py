"""`sorter-train curate` at scale: the partitioned dedupe + split of 1,000,000 embeddings, and the
model stage's images/s on real photos, each with 1 and 2 Ray workers. By hand, under the heavy lock:

    flock /work/locks/heavy.lock nice -n 5 .venv/bin/python -m benchmarks.bench_curate dedupe [--n 1000000]
    flock /work/locks/heavy.lock nice -n 5 .venv/bin/python -m benchmarks.bench_curate embed [--images 1200]

dedupe: the real embeddings of the shared images (`/work/cache/embeddings.npz`, or --embeddings)
with their real layout signatures (the catalog beside it), plus, to reach --n:
- "other photos of the same kind of scene": each a real vector turned to cosine U(0.55, 0.80)
  with another real photo's layout — distinct images, not duplicates by the rule;
- injected duplicates (10 % of n): copies of a random base vector turned to cosine U(0.86, 0.99)
  with its layout plus noise — what re-encodes, resizes and small edits do.
They are written as work shards of 1,000 (the format the model stage leaves) and go through the
pipeline's own dedupe step, split and split audit on the Ray engine. Figures: wall time per stage,
peak RSS of the driver and of each worker process, the recall of the injected duplicates (same
group as their original), the recall against exact all-pairs search for 1,000 sampled images (the
sample against all n vectors, blockwise), and the duplicate groups that span two splits.

embed: the model stage (decode + embed + noise probe) on --images real photos of the shared
datasets, shards of 100, with 1 and 2 actors, after a warm-up; images/s of the stage alone.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import resource
import sqlite3
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from sorter_app.core.duplicates import NearRule
from sorter_app.paths import bundled_model_sidecar
from training.curate.cells import normalised
from training.curate.dedupe import near_duplicate
from training.curate.inputs import Item
from training.curate.noise import DEFAULT_PROBE, load_probe
from training.curate.ray_engine import RayEngine
from training.curate.run_data import RunData
from training.curate.shard_worker import ModelSetup, ShardTask
from training.curate.split import assign_splits
from training.curate.steps import dedupe_step, split_audit_step
from training.curate.work import WorkStore

EMBEDDINGS = Path("/work/cache/embeddings.npz")
CATALOG = Path("/work/cache/sorter-data/catalog.sqlite")
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SHARD = 1000


def _turn(vectors: np.ndarray, cosines: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each vector rotated to the given cosine, towards a mix of another vector and noise."""
    other = vectors[rng.permutation(len(vectors))]
    direction = normalised(other - vectors + 1e-6) + normalised(
        rng.standard_normal(vectors.shape).astype(np.float32)
    )
    direction -= (direction * vectors).sum(axis=1, keepdims=True) * vectors
    direction = normalised(direction)
    return normalised(cosines[:, None] * vectors + np.sqrt(1 - cosines**2)[:, None] * direction)


def build(work: Path, n: int, seed: int = 0) -> tuple[list[Item], RunData, np.ndarray, np.ndarray]:
    """Work shards of n vectors, written by a child process (so that its memory is not counted as
    the driver's); returns items, run data, injected copy ids and their originals."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        keys, shard_of, row_of, copies, originals = pool.submit(_write_shards, work, n, seed).result()
    n_base = n - len(copies)
    labels = [("indoor", "kitchen"), ("indoor", ""), ("outdoor", "")]
    items = [Item(f"img/{i:07d}.jpg", Path("/nonexistent"), f"src{i % 5}", *labels[i % 3]) for i in range(n)]
    data = RunData(
        reasons=[None] * n,
        hashes=[f"{i:032x}" for i in range(n)],
        widths=np.full(n, 640, np.int64) - (np.arange(n) >= n_base) * 320,  # copies are smaller
        heights=np.full(n, 480, np.int64),
        file_sizes=np.full(n, 100_000, np.int64),
        noise=np.zeros(n),
        shard_of=shard_of,
        row_of=row_of,
        keys=keys,
        work=work,
    )
    return items, data, copies, originals


def _write_shards(
    work: Path, n: int, seed: int
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    z = np.load(EMBEDDINGS)
    real = z["vectors"].astype(np.float32)
    hashes = z["content_hash"].tolist()
    with sqlite3.connect(f"file:{CATALOG}?mode=ro", uri=True) as db:
        stored = dict(db.execute("SELECT content_hash, layout FROM images"))
    rng = np.random.default_rng(seed)
    real_layouts = np.stack(
        [
            np.frombuffer(stored[h], np.uint8) if h in stored else rng.integers(0, 256, 256, dtype=np.uint8)
            for h in hashes
        ]
    )
    n_dups = n // 10
    n_base = n - n_dups
    n_other = n_base - len(real)
    store = WorkStore(work)
    vectors = np.zeros((n, real.shape[1]), np.float32)  # only while building; freed before the run
    layouts = np.zeros((n, 256), np.uint8)
    vectors[: len(real)], layouts[: len(real)] = real, real_layouts
    for start in range(len(real), n_base, 50_000):  # in chunks: the temporaries of a 1M turn are 20 GB
        end = min(start + 50_000, n_base)
        src = rng.integers(0, len(real), end - start)
        vectors[start:end] = _turn(real[src], rng.uniform(0.55, 0.80, end - start).astype(np.float32), rng)
    layouts[len(real) : n_base] = real_layouts[rng.integers(0, len(real), n_other)]
    originals = np.sort(rng.choice(n_base, n_dups, replace=False))
    copies = np.arange(n_base, n)
    for start in range(0, n_dups, 50_000):
        part = slice(start, min(start + 50_000, n_dups))
        cosines = rng.uniform(0.86, 0.99, len(copies[part])).astype(np.float32)
        vectors[copies[part]] = _turn(vectors[originals[part]], cosines, rng)
    noisy = layouts[originals].astype(np.float64) + rng.normal(0, 6.0, (n_dups, 256))
    layouts[copies] = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    order = rng.permutation(n)  # copies spread over the shards like any other image
    position = np.empty(n, np.int64)
    position[order] = np.arange(n)
    keys = []
    for s, start in enumerate(range(0, n, SHARD)):
        key = f"bench{s:06d}"
        rows = order[start : start + SHARD]
        store.write_array(key, "embedding.npy", vectors[rows])
        store.write_array(key, "layout.npy", layouts[rows])
        keys.append(key)
    shard_of = (position // SHARD).astype(np.int32)
    return keys, shard_of, (position % SHARD).astype(np.int32), copies, originals


def exact_sample_recall(
    data: RunData, group_of: dict[int, int], rule: NearRule, sample: int
) -> dict[str, Any]:
    """Every pair the rule accepts between `sample` random images and all n, found blockwise."""
    rng = np.random.default_rng(1)
    n = len(data.hashes)
    picked = np.sort(rng.choice(n, sample, replace=False))
    queries, query_layouts = data.rows(picked).load(picked)
    threshold = rule.all_pairs_candidate
    pairs = []
    everyone = np.arange(n)
    for start in range(0, n, 50_000):
        block = everyone[start : start + 50_000]
        vectors, layouts = data.rows(block).load(block)
        sims = queries @ vectors.T
        for q, j in zip(*np.nonzero(sims >= threshold), strict=True):
            a, b = int(picked[q]), int(block[j])
            if a != b and near_duplicate(
                rule, float(sims[q, j]), query_layouts[q].tobytes(), layouts[j].tobytes()
            ):
                pairs.append((a, b))
    found = sum(1 for a, b in pairs if a in group_of and group_of.get(a) == group_of.get(b))
    return {
        "sample": sample,
        "pairs_by_exact_search": len(pairs),
        "found": found,
        "recall": round(found / len(pairs), 4) if pairs else None,
    }


def _accepted_pairs(
    data: RunData, rule: NearRule, copies: np.ndarray, originals: np.ndarray
) -> list[tuple[int, int]]:
    """The injected (copy, original) pairs that the rule itself accepts, compared directly."""
    accepted = []
    for start in range(0, len(copies), 20_000):
        c, o = copies[start : start + 20_000], originals[start : start + 20_000]
        cv, cl = data.rows(c).load(np.sort(c))
        ov, ol = data.rows(o).load(np.sort(o))
        c_at, o_at = np.argsort(np.argsort(c)), np.argsort(np.argsort(o))
        for k in range(len(c)):
            i, j = c_at[k], o_at[k]
            if near_duplicate(rule, float(cv[i] @ ov[j]), cl[i].tobytes(), ol[j].tobytes()):
                accepted.append((int(c[k]), int(o[k])))
    return accepted


def bench_dedupe(n: int, workers: int, root: Path) -> dict[str, Any]:
    work = root / f"work-{workers}"
    t = time.perf_counter()
    items, data, copy_gids, original_gids = build(work, n)
    build_s = time.perf_counter() - t
    engine = RayEngine(address=None, workers=workers)
    rule = NearRule()
    alive = list(range(n))
    try:
        t = time.perf_counter()
        step, groups = dedupe_step(items, alive, data, rule, engine)
        dedupe_s = time.perf_counter() - t
        t = time.perf_counter()
        kept = [i for i in alive if i not in step.dropped]
        split_of = assign_splits(
            kept,
            [(items[i].scene, items[i].room, items[i].source) for i in kept],
            [data.hashes[i] for i in kept],
            seed=0,
        )
        split_s = time.perf_counter() - t
        t = time.perf_counter()
        audit, audit_search = split_audit_step(items, kept, split_of, data, rule, engine)
        audit_s = time.perf_counter() - t
    finally:
        engine.close()
    for i in audit.dropped:
        del split_of[i]
    group_of = {m: k for k, g in enumerate(groups) for m in g.members}
    truth = _accepted_pairs(data, rule, copy_gids, original_gids)
    together = sum(1 for c, o in truth if c in group_of and group_of[c] == group_of.get(o))
    spanning = sum(1 for a, b in truth if a in split_of and b in split_of and split_of[a] != split_of[b])
    sample = exact_sample_recall(data, group_of, rule, 1000)
    dedupe = step.extra
    return {
        "n": n,
        "workers": workers,
        "build_seconds": round(build_s, 1),
        "dedupe_seconds": round(dedupe_s, 1),
        "split_seconds": round(split_s, 1),
        "audit_seconds": round(audit_s, 1),
        "search": dedupe["search"],
        "groups": dedupe["groups"],
        "dropped": len(step.dropped),
        "injected_duplicates": len(copy_gids),
        "injected_duplicates_by_the_rule": len(truth),
        "injected_in_their_originals_group": together,
        "recall_injected": round(together / len(truth), 4),
        "recall_reported_in_manifest": dedupe["recall"],
        "recall_exact_sample": sample,
        "audit_leaks_dropped": len(audit.dropped),
        "injected_pairs_spanning_two_splits": spanning,
        "peak_rss_mb_worker": round(audit_search.peak_rss_mb, 0),
        "peak_rss_mb_driver": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
    }


def bench_embed(images: int, workers: int, root: Path) -> dict[str, Any]:
    with (DATASETS / "manifest.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["kind"] == "photo"]
    rows = rows[:: max(1, len(rows) // images)][:images]
    items = [Item(r["path"], DATASETS / r["path"], r["source"]) for r in rows]
    sidecar = bundled_model_sidecar()
    from sorter_app.core.model_spec import load_spec

    scorer = load_probe(DEFAULT_PROBE, load_spec(sidecar).embedding_id)
    setup = ModelSetup(sidecar, None, scorer, 10, threads=1, decode_threads=2)
    engine = RayEngine(address=None, workers=workers)
    try:
        warm = [ShardTask(0, f"warm{k}", items[:20]) for k in range(workers)]
        engine.process_shards(setup, root / "warm", warm, lambda _r: None)
        tasks = [
            ShardTask(k, f"s{workers}-{k}", items[s : s + 100])
            for k, s in enumerate(range(0, len(items), 100))
        ]
        t = time.perf_counter()
        engine.process_shards(setup, root / f"embed-{workers}", tasks, lambda _r: None)
        seconds = time.perf_counter() - t
    finally:
        engine.close()
    return {
        "images": len(items),
        "workers": workers,
        "seconds": round(seconds, 1),
        "images_per_second": round(len(items) / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("dedupe", "embed"))
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--images", type=int, default=1200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    for workers in args.workers:
        with tempfile.TemporaryDirectory(prefix="bench-curate-") as tmp:
            if args.what == "dedupe":
                result = bench_dedupe(args.n, workers, Path(tmp))
            else:
                result = bench_embed(args.images, workers, Path(tmp))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
