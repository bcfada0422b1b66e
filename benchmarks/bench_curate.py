"""`sorter-train curate` at scale: the partitioned dedupe, split and exhaustive split audit of
1,000,000 embeddings, and the model stage's images/s on real photos, each with 1 and 2 Ray workers.
By hand, under the heavy lock (progress lines with the load average go to stderr):

    flock /work/locks/heavy.lock nice -n 5 .venv/bin/python -m benchmarks.bench_curate dedupe \
        --cache DIR [--n 1000000] [--workers 2 1] [--work DIR]
    flock /work/locks/heavy.lock nice -n 5 .venv/bin/python -m benchmarks.bench_curate embed \
        [--images 1200] [--workers 1 2] [--onnx-threads 1] [--decode-threads 1]

dedupe: the real embeddings of the shared images (`/work/cache/embeddings.npz`) with the layout
signatures the app computes for them today (version 2, 1,040 bytes: bench_duplicates' photo cache,
made once in --cache), plus, to reach --n:
- "other photos of the same kind of scene": each a real vector turned to cosine U(0.55, 0.80)
  with another real photo's signature — distinct images, not duplicates by the rule;
- injected duplicates (10 % of n): copies of a random base vector turned to cosine U(0.86, 0.99),
  each with the signature of a *real edited copy* of the photo its base's signature comes from:
  every shared photo edited `EDITS_PER_PHOTO` ways drawn from calibrate_duplicates' 15 edits (JPEG
  q30–q90, PNG, 50/25 % resizes, 90/75 % crops, borders, 3° rotation, mirror, brightness,
  watermark, screenshot), the edited file decoded and signed as the indexer does (made once in
  --cache). The embedding of a copy is synthetic; its pixel check is the real one.
They are written once as work shards of 1,000 (the format the model stage leaves; --work keeps
them for another invocation) and go through the pipeline's own dedupe step, split and split audit
on the Ray engine, once per worker count. Figures: wall time per stage, peak RSS of the driver and
of every Ray worker process (VmHWM, polled), the recall of the injected duplicates (same group as
their original), the recall against exact all-pairs search for 1,000 sampled images (the sample
against all n vectors, full products, blockwise), and duplicate pairs spanning two splits: among
the injected pairs, and among every pair of 1,000 sampled val/test images against all n (full
products: a check independent of the audit's own search). The driver's items are as a manifest
run makes them (a path, a file and labels each), so its memory per image is what a real run needs.

embed: the model stage (decode + embed + noise probe) on --images real photos of the shared
datasets, shards of 100, with 1 and 2 actors of --onnx-threads and --decode-threads each, after a
warm-up; images/s of the stage alone.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from benchmarks.bench_duplicates import load_photos
from benchmarks.calibrate_duplicates import EDITS
from sorter_app.core.duplicates import NearRule
from sorter_app.core.images import load_image
from sorter_app.core.layout import layout_signature
from sorter_app.core.model_spec import load_spec
from sorter_app.paths import bundled_model_sidecar
from training.curate.bounded import pair_similarity
from training.curate.cells import normalised
from training.curate.dedupe import embedding_floor, near_duplicates
from training.curate.inputs import Item
from training.curate.noise import DEFAULT_PROBE, load_probe
from training.curate.ray_engine import RayEngine
from training.curate.rows import LAYOUT_BYTES
from training.curate.run_data import RunData
from training.curate.shard_worker import ModelSetup, ShardTask
from training.curate.split import assign_splits
from training.curate.steps import dedupe_step, split_audit_step
from training.curate.work import WorkStore

EMBEDDINGS = Path("/work/cache/embeddings.npz")
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SHARD = 1000
EDITS_PER_PHOTO = 2
EDIT_NAMES = list(EDITS)
BLOCK = 50_000


def log(message: str) -> None:
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"{time.strftime('%H:%M:%S')} [load {load}] {message}", file=sys.stderr, flush=True)


class PeakMemory:
    """Peak RSS (VmHWM) of this process and of every Ray worker process, polled every second."""

    def __init__(self) -> None:
        self.driver = 0
        self.workers: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> PeakMemory:
        # The driver's peak from here on: not the benchmark's own checks before the run (its exact
        # searches load 50,000 full vectors at a time), which a curate driver never does.
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            log("cannot reset this process's peak RSS: the driver's peak includes the set-up")
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _poll(self) -> None:
        while not self._stop.wait(1.0):
            self._sample()

    def _sample(self) -> None:
        """This process, and the Ray workers among its descendants (not other people's Ray)."""
        me = os.getpid()
        self.driver = max(self.driver, _hwm_kb(me))
        parents: dict[int, int] = {}
        cmdlines: dict[int, bytes] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                    cmdlines[int(entry.name)] = (entry / "cmdline").read_bytes()
                except (OSError, IndexError, ValueError):
                    continue
        for pid, cmdline in cmdlines.items():
            if not (cmdline.startswith(b"ray::") or b"default_worker.py" in cmdline):
                continue
            ancestor = parents.get(pid, 0)
            while ancestor > 1 and ancestor != me:
                ancestor = parents.get(ancestor, 0)
            if ancestor == me:
                self.workers[pid] = max(self.workers.get(pid, 0), _hwm_kb(pid))

    def describe(self) -> dict[str, Any]:
        peaks = sorted(self.workers.values(), reverse=True)
        return {
            "driver_peak_rss_mb": round(self.driver / 1024),
            "worker_peak_rss_mb": [round(k / 1024) for k in peaks[:4]],
        }


class HeapTrace:
    """The driver's traced Python heap (numpy arrays included), when asked for: at each mark, the
    total, the peak so far, and the ten source lines whose allocations grew most since the start."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.marks: list[dict[str, Any]] = []
        if enabled:
            tracemalloc.start()
            self._start = tracemalloc.take_snapshot()

    def mark(self, label: str) -> None:
        if not self.enabled:
            return
        current, peak = tracemalloc.get_traced_memory()
        growth = tracemalloc.take_snapshot().compare_to(self._start, "lineno")
        self.marks.append(
            {
                "at": label,
                "traced_mb": round(current / 2**20),
                "traced_peak_mb": round(peak / 2**20),
                "rss_mb": round(_rss_kb(os.getpid()) / 1024),
                "largest_growth": [
                    f"{g.size_diff / 2**20:+.0f} MB {g.count_diff:+d} blocks "
                    f"{g.traceback[0].filename.rsplit('/', 2)[-1]}:{g.traceback[0].lineno}"
                    for g in growth[:10]
                ],
            }
        )
        log(f"heap {label}: traced {current / 2**20:.0f} MB (peak {peak / 2**20:.0f})")

    def describe(self) -> dict[str, Any]:
        if self.enabled:
            tracemalloc.stop()
        return {"driver_heap": self.marks} if self.enabled else {}


def _rss_kb(pid: int) -> int:
    return _status_kb(pid, "VmRSS:")


def _hwm_kb(pid: int) -> int:
    return _status_kb(pid, "VmHWM:")


def _status_kb(pid: int, field: str) -> int:
    """One memory figure of /proc/PID/status, in kB (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _turn(vectors: np.ndarray, cosines: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each vector rotated to the given cosine, towards a mix of another vector and noise."""
    other = vectors[rng.permutation(len(vectors))]
    direction = normalised(other - vectors + 1e-6) + normalised(
        rng.standard_normal(vectors.shape).astype(np.float32)
    )
    direction -= (direction * vectors).sum(axis=1, keepdims=True) * vectors
    direction = normalised(direction)
    return normalised(cosines[:, None] * vectors + np.sqrt(1 - cosines**2)[:, None] * direction)


def build(
    work: Path, n: int, cache: Path, seed: int = 0
) -> tuple[list[Item], RunData, np.ndarray, np.ndarray, np.ndarray]:
    """Work shards of n vectors (written once by a child process, so that its memory is not counted
    as the driver's; kept in `work` for the next invocation); items, run data, copies, originals and
    the edit each copy's signature comes from."""
    record = work / "bench.json"
    wanted = {"n": n, "seed": seed, "signatures": "version 2, real edited copies"}
    if not (record.is_file() and json.loads(record.read_text()) == wanted):
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            pool.submit(_write_shards, work, n, cache, seed).result()
        record.write_text(json.dumps(wanted))
    with np.load(work / "bench-index.npz") as index:
        keys, shard_of, row_of = index["keys"].tolist(), index["shard_of"], index["row_of"]
        copies, originals, copy_edits = index["copies"], index["originals"], index["copy_edits"]
    n_base = n - len(copies)
    labels = [("indoor", "kitchen"), ("indoor", ""), ("outdoor", "")]
    items = [  # as read_manifest makes them: one path string and one Path per image
        Item(
            f"src{i % 5}/img/{i:07d}.jpg",
            Path(f"/data/src{i % 5}/img/{i:07d}.jpg"),
            f"src{i % 5}",
            *labels[i % 3],
        )
        for i in range(n)
    ]
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
    return items, data, copies, originals, copy_edits


def photo_signatures(cache: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """The shared photos' distinct contents: hashes, version-2 signatures [m, 1040], and the
    signatures of real edited copies of each [m, EDITS_PER_PHOTO, 1040] with their edits' indices
    into `EDIT_NAMES` [m, EDITS_PER_PHOTO]. Made once (bench_duplicates' photo cache, and
    `edited.npz` beside it), then read from `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    _, infos = load_photos(EMBEDDINGS, cache / "photos.npz")
    hashes = [info.content_hash for info in infos]
    originals = np.stack([np.frombuffer(info.layout, np.uint8) for info in infos])
    edited_file = cache / "edited.npz"
    if not edited_file.is_file():
        z = np.load(EMBEDDINGS)
        path_of = dict(zip(z["content_hash"].tolist()[::-1], z["paths"].tolist()[::-1], strict=True))
        paths = [path_of[h] for h in hashes]
        chunks = [(k, paths[k : k + 500]) for k in range(0, len(paths), 500)]
        with ProcessPoolExecutor(os.cpu_count() or 1, mp_context=multiprocessing.get_context("fork")) as pool:
            parts = list(pool.map(_edited_copies, chunks))
        np.savez(
            edited_file,
            hashes=np.array(hashes),
            layouts=np.concatenate([layouts for layouts, _ in parts]),
            edits=np.concatenate([edits for _, edits in parts]),
            edit_names=np.array(EDIT_NAMES),
        )
    with np.load(edited_file) as edited:
        if edited["hashes"].tolist() != hashes or edited["edit_names"].tolist() != EDIT_NAMES:
            raise SystemExit(f"{edited_file} was made from other photos or edits: delete it")
        return hashes, originals, edited["layouts"], edited["edits"]


def _edited_copies(chunk: tuple[int, list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """`EDITS_PER_PHOTO` distinct edits of each photo (seeded by its position), each saved as the edit
    saves it, then decoded and signed as the indexer would (JPEG draft mode at the model's size)."""
    first, paths = chunk
    size = load_spec(bundled_model_sidecar()).preprocess.size
    layouts = np.zeros((len(paths), EDITS_PER_PHOTO, LAYOUT_BYTES), np.uint8)
    edits = np.zeros((len(paths), EDITS_PER_PHOTO), np.int64)
    for k, path in enumerate(paths):
        rng = np.random.default_rng([first + k, 0xED17])
        with Image.open(DATASETS / path) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
        edits[k] = rng.choice(len(EDIT_NAMES), EDITS_PER_PHOTO, replace=False)
        for e, edit in enumerate(edits[k].tolist()):
            copy = load_image(EDITS[EDIT_NAMES[edit]](image, rng), size).image
            layouts[k, e] = np.frombuffer(layout_signature(copy), np.uint8)
    return layouts, edits


def _write_shards(work: Path, n: int, cache: Path, seed: int) -> None:
    z = np.load(EMBEDDINGS)
    real = z["vectors"].astype(np.float32)
    photo_hashes, photo_layouts, edited_layouts, edits = photo_signatures(cache)
    photo_at = {h: k for k, h in enumerate(photo_hashes)}
    photo_of_real = np.array([photo_at[h] for h in z["content_hash"].tolist()], np.int64)
    rng = np.random.default_rng(seed)
    n_dups = n // 10
    n_base = n - n_dups
    n_other = n_base - len(real)
    store = WorkStore(work)
    vectors = np.zeros((n, real.shape[1]), np.float32)  # only while building; freed before the run
    layouts = np.zeros((n, LAYOUT_BYTES), np.uint8)
    photo_of = np.zeros(n_base, np.int64)  # the photo whose signature each base image has
    vectors[: len(real)], photo_of[: len(real)] = real, photo_of_real
    for start in range(len(real), n_base, BLOCK):  # in chunks: the temporaries of a 1M turn are 20 GB
        end = min(start + BLOCK, n_base)
        src = rng.integers(0, len(real), end - start)
        vectors[start:end] = _turn(real[src], rng.uniform(0.55, 0.80, end - start).astype(np.float32), rng)
    photo_of[len(real) :] = photo_of_real[rng.integers(0, len(real), n_other)]
    layouts[:n_base] = photo_layouts[photo_of]
    originals = np.sort(rng.choice(n_base, n_dups, replace=False))
    copies = np.arange(n_base, n)
    for start in range(0, n_dups, BLOCK):
        part = slice(start, min(start + BLOCK, n_dups))
        cosines = rng.uniform(0.86, 0.99, len(copies[part])).astype(np.float32)
        vectors[copies[part]] = _turn(vectors[originals[part]], cosines, rng)
    which = rng.integers(0, EDITS_PER_PHOTO, n_dups)
    layouts[copies] = edited_layouts[photo_of[originals], which]
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
    np.savez(
        work / "bench-index.npz",
        keys=np.array(keys),
        shard_of=(position // SHARD).astype(np.int32),
        row_of=(position % SHARD).astype(np.int32),
        copies=copies,
        originals=originals,
        copy_edits=edits[photo_of[originals], which],
    )


def rule_pairs_against_all(data: RunData, picked: np.ndarray, rule: NearRule) -> list[tuple[int, int]]:
    """Every pair the rule accepts between `picked` images and all n, by full products, blockwise."""
    n = len(data.hashes)
    queries, query_layouts = data.rows(picked).load(picked)
    floor = embedding_floor(rule)
    pairs: list[tuple[int, int]] = []
    for start in range(0, n, BLOCK):
        block = np.arange(start, min(start + BLOCK, n))
        vectors, layouts = data.rows(block).load(block)
        sims = queries @ vectors.T
        q, j = np.nonzero(sims >= floor - 1e-3)
        other = picked[q] != block[j]
        q, j = q[other], j[other]
        accepted = near_duplicates(
            rule, pair_similarity(queries[q], vectors[j]), query_layouts[q], layouts[j]
        )
        pairs += zip(picked[q[accepted]].tolist(), block[j[accepted]].tolist(), strict=True)
    return pairs


def accepted_injected(
    data: RunData, rule: NearRule, copies: np.ndarray, originals: np.ndarray
) -> list[tuple[int, int]]:
    """The injected (copy, original) pairs that the rule itself accepts, compared directly."""
    accepted: list[tuple[int, int]] = []
    for start in range(0, len(copies), 20_000):
        c, o = copies[start : start + 20_000], originals[start : start + 20_000]
        cv, cl = data.rows(c).load(np.sort(c))
        ov, ol = data.rows(o).load(np.sort(o))
        c_at, o_at = np.argsort(np.argsort(c)), np.argsort(np.argsort(o))
        sims = pair_similarity(cv[c_at], ov[o_at])
        judged = near_duplicates(rule, sims, cl[c_at], ol[o_at])
        accepted += zip(c[judged].tolist(), o[judged].tolist(), strict=True)
    return accepted


def run_once(items: list[Item], data: RunData, workers: int, trace: bool = False) -> dict[str, Any]:
    """Dedupe, split and split audit on a fresh local Ray cluster of `workers` tasks in flight.

    `trace`: the driver's Python heap traced (tracemalloc: slower), the largest growths by line
    recorded after each stage — what the driver's memory per image is made of."""
    rule = NearRule()
    n = len(items)
    engine = RayEngine(address=None, workers=workers)
    seconds: dict[str, float] = {}
    heap = HeapTrace(trace)
    rss_at_start = _rss_kb(os.getpid()) / 1024
    try:
        with PeakMemory() as memory:
            log(f"workers={workers}: dedupe")
            t = time.perf_counter()
            step, groups = dedupe_step(items, range(n), data, rule, engine)
            seconds["dedupe"] = time.perf_counter() - t
            heap.mark("after dedupe")
            log(f"workers={workers}: split ({seconds['dedupe']:.0f} s dedupe)")
            t = time.perf_counter()
            kept = [i for i in range(n) if i not in step.dropped]
            split_of = assign_splits(
                kept,
                [(items[i].scene, items[i].room, items[i].source) for i in kept],
                [data.hashes[i] for i in kept],
                seed=0,
            )
            seconds["split"] = time.perf_counter() - t
            heap.mark("after split")
            log(f"workers={workers}: split audit")
            t = time.perf_counter()
            audit, search = split_audit_step(items, kept, split_of, data, rule, engine)
            seconds["audit"] = time.perf_counter() - t
            heap.mark("after audit")
            log(f"workers={workers}: done ({seconds['audit']:.0f} s audit)")
    finally:
        engine.close()
    for i in audit.dropped:
        del split_of[i]
    return {
        "workers": workers,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "memory": memory.describe() | {"driver_rss_mb_at_start": round(rss_at_start)} | heap.describe(),
        "task_costs": {"dedupe": step.cost, "split_audit": audit.cost},
        "dedupe": {k: step.extra[k] for k in ("search", "recall", "groups")} | {"dropped": len(step.dropped)},
        "audit": {"search": audit.extra["search"], "dropped": len(audit.dropped), "tasks": search.tasks},
        "_groups": groups,
        "_split_of": split_of,
    }


def bench_dedupe(n: int, worker_counts: list[int], work: Path, cache: Path, trace: bool) -> None:
    log(f"building {n} embeddings in {work}")
    t = time.perf_counter()
    items, data, copies, originals, copy_edits = build(work, n, cache)
    log(f"built in {time.perf_counter() - t:.0f} s; driver holds the items and run data")
    driver_after_build = _rss_kb(os.getpid()) / 1024  # the items and run data
    rule = NearRule()
    truth = accepted_injected(data, rule, copies, originals)
    rng = np.random.default_rng(1)
    recall_sample = np.sort(rng.choice(n, 1000, replace=False))
    log("exact all-pairs search of the recall sample")
    sample_pairs = rule_pairs_against_all(data, recall_sample, rule)
    edit_of = dict(zip(copies.tolist(), copy_edits.tolist(), strict=True))
    fingerprint = None
    for workers in worker_counts:
        run = run_once(items, data, workers, trace)
        groups, split_of = run.pop("_groups"), run.pop("_split_of")
        group_of = {m: k for k, g in enumerate(groups) for m in g.members}
        found_pairs = [(c, o) for c, o in truth if c in group_of and group_of[c] == group_of.get(o)]
        together = len(found_pairs)
        by_edit = {
            name: {
                "injected": int((copy_edits == e).sum()),
                "by_the_rule": sum(1 for c, _ in truth if edit_of[c] == e),
                "in_their_originals_group": sum(1 for c, _ in found_pairs if edit_of[c] == e),
            }
            for e, name in enumerate(EDIT_NAMES)
        }
        spanning = sum(1 for a, b in truth if a in split_of and b in split_of and split_of[a] != split_of[b])
        found = sum(1 for a, b in sample_pairs if a in group_of and group_of.get(a) == group_of.get(b))
        digest = hashlib.sha256(json.dumps(sorted(split_of.items())).encode()).hexdigest()
        if fingerprint is None:
            fingerprint = digest
            rng = np.random.default_rng(2)
            held_out = np.array(sorted(i for i, s in split_of.items() if s != "train"), np.int64)
            picked = np.sort(rng.choice(held_out, min(1000, len(held_out)), replace=False))
            log("exact all-pairs check of 1,000 val/test images against all n")
            crossing = [
                (a, b)
                for a, b in rule_pairs_against_all(data, picked, rule)
                if b in split_of and split_of[b] != split_of[a]
            ]
            run["sampled_val_test_pairs_across_splits"] = {"sample": len(picked), "pairs": len(crossing)}
        run |= {
            "n": n,
            "injected_duplicates": len(copies),
            "injected_duplicates_by_the_rule": len(truth),
            "injected_in_their_originals_group": together,
            "recall_injected": round(together / len(truth), 4),
            "injected_by_edit": by_edit,
            "recall_exact_sample": {
                "sample": len(recall_sample),
                "pairs_by_exact_search": len(sample_pairs),
                "found": found,
                "recall": round(found / len(sample_pairs), 4) if sample_pairs else None,
            },
            "injected_pairs_spanning_two_splits": spanning,
            "kept": len(split_of),
            "same_output_as_first_run": digest == fingerprint,
            "driver_rss_mb_after_build": round(driver_after_build),
        }
        print(json.dumps(run), flush=True)


def bench_embed(
    images: int, workers: int, onnx_threads: int, decode_threads: int, root: Path, datasets: Path
) -> dict[str, Any]:
    with (datasets / "manifest.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["kind"] == "photo"]
    rows = rows[:: max(1, len(rows) // images)][:images]
    items = [Item(r["path"], datasets / r["path"], r["source"]) for r in rows]
    sidecar = bundled_model_sidecar()
    scorer = load_probe(DEFAULT_PROBE, load_spec(sidecar).embedding_id)
    setup = ModelSetup(sidecar, None, scorer, 10, threads=onnx_threads, decode_threads=decode_threads)
    engine = RayEngine(address=None, workers=workers)
    try:
        warm = [ShardTask(0, f"warm{k}", items[:20]) for k in range(workers)]
        engine.process_shards(setup, root / "warm", warm, lambda _r: None)
        tasks = [
            ShardTask(k, f"s{workers}-{k}", items[s : s + 100])
            for k, s in enumerate(range(0, len(items), 100))
        ]
        log(f"embed: {workers} actors")
        t = time.perf_counter()
        engine.process_shards(setup, root / f"embed-{workers}", tasks, lambda _r: None)
        seconds = time.perf_counter() - t
    finally:
        engine.close()
    return {
        "images": len(items),
        "workers": workers,
        "onnx_threads": onnx_threads,
        "decode_threads": decode_threads,
        "seconds": round(seconds, 1),
        "images_per_second": round(len(items) / seconds, 1),
        "load_average": Path("/proc/loadavg").read_text().split()[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("dedupe", "embed"))
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, help="where the dedupe's work shards are built (and kept)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "bench-curate-signatures",
        help="where the shared photos' version-2 signatures and those of their edited copies are kept "
        "(made once, a few minutes of decoding)",
    )
    parser.add_argument("--trace-memory", action="store_true", help="trace the driver's heap (slower)")
    parser.add_argument("--images", type=int, default=1200)
    parser.add_argument("--datasets", type=Path, default=DATASETS, help="the shared datasets folder")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--onnx-threads", type=int, default=1)
    parser.add_argument("--decode-threads", type=int, default=1)
    args = parser.parse_args()
    if args.what == "dedupe":
        if args.work:
            args.work.mkdir(parents=True, exist_ok=True)
            bench_dedupe(args.n, args.workers, args.work, args.cache, args.trace_memory)
        else:
            with tempfile.TemporaryDirectory(prefix="bench-curate-") as tmp:
                bench_dedupe(args.n, args.workers, Path(tmp), args.cache, args.trace_memory)
        return
    for workers in args.workers:
        with tempfile.TemporaryDirectory(prefix="bench-curate-") as tmp:
            print(
                json.dumps(
                    bench_embed(
                        args.images, workers, args.onnx_threads, args.decode_threads, Path(tmp), args.datasets
                    )
                )
            )


if __name__ == "__main__":
    main()
