"""Few-shot labelling on the cached embeddings of the shared photos. By hand:

    .venv/bin/python -m benchmarks.bench_labels [--only fewshot|active|timing] [--seeds 5]

fewshot — accuracy on every image not labelled, against labelled examples per category (1, 3, 5,
    10, 20), for the app's classifier (label_model.py) and nearest-class-mean on the same vectors,
    on `miniplaces` (73 categories), `sun8_scenes` (8) and `house_rooms` (5). Also how the "unknown"
    threshold the classifier chose by cross-validation does on those images: the share it answers
    and how often those answers are right (its target is 90 %).
active — `sun8_scenes` split in half (pool / test, by category); one labelled image per category to
    start; then images are "reviewed" (labelled with their true category) 5 at a time in the review
    queue's order, or in a random order, retraining after each batch, until the best guesses on the
    test half are 90 % right. Reports how many reviewed images each order needed.
timing — training and predicting 20,000 images with 10 labels (real vectors, tiled), in-process,
    and end to end through `Labelling` on the real catalog of the shared photos (SQLite reads
    included) when `/work/cache/sorter-data` or `--data-dir` has it.

Nothing here tunes the classifier: its regularisation and thresholds are chosen by cross-validation
inside the labelled examples of each run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from benchmarks.children import start_children_as_the_app_does
from sorter_app.core.label_model import LabelModel, train_label_model
from sorter_app.core.label_review import review_order

EMBEDDINGS = Path(os.environ.get("SORTER_EMBEDDINGS", "/work/cache/embeddings.npz"))
CATALOG_DIR = Path("/work/cache/sorter-data")  # the shared photos indexed: `sorter index DATASETS_DIR`
DATASETS_DIR = Path("/work/shared/datasets")
DATASETS = ("miniplaces", "sun8_scenes", "house_rooms")
SHOTS = (1, 3, 5, 10, 20)
BATCH = 5
GOAL = 0.9


def load(source: str) -> tuple[NDArray[np.float32], NDArray[np.int64], list[str]]:
    """One row per distinct content of `source` (byte-identical copies would leak across splits)."""
    data = np.load(EMBEDDINGS)
    rows = np.flatnonzero(data["source"] == source)
    _, first = np.unique(data["content_hash"][rows], return_index=True)
    rows = rows[np.sort(first)]
    names = sorted(set(data["category"][rows].tolist()))
    targets = np.array([names.index(c) for c in data["category"][rows]], dtype=np.int64)
    return data["vectors"][rows].astype(np.float32), targets, names


def class_mean_predict(
    vectors: NDArray[np.float32], targets: NDArray[np.int64], n: int, queries: NDArray[np.float32]
) -> NDArray[np.int64]:
    means = np.stack([vectors[targets == c].mean(axis=0) for c in range(n)])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    best: NDArray[np.int64] = (queries @ means.T).argmax(axis=1).astype(np.int64)
    return best


def fewshot(seeds: int) -> None:
    print(
        "| dataset | examples per category | classifier | nearest class mean "
        "| answered (not unknown) | right when answered | train s |"
    )
    print("|---|---|---|---|---|---|---|")
    for source in DATASETS:
        vectors, targets, names = load(source)
        for shots in SHOTS:
            ours, ncm, answered, right_answered, seconds = [], [], [], [], []
            for seed in range(seeds):
                rng = np.random.default_rng(seed)
                chosen = np.concatenate(
                    [
                        rng.choice(np.flatnonzero(targets == c), shots, replace=False)
                        for c in range(len(names))
                    ]
                )
                rng.shuffle(chosen)
                rest = np.setdiff1d(np.arange(len(targets)), chosen)
                started = time.perf_counter()
                model = train_label_model(vectors[chosen], targets[chosen], names)
                seconds.append(time.perf_counter() - started)
                guesses = model.predict(vectors[rest])
                best = np.array([names.index(model.labels[i]) for i in guesses.best])
                ours.append(float((best == targets[rest]).mean()))
                ncm.append(
                    float(
                        (
                            class_mean_predict(vectors[chosen], targets[chosen], len(names), vectors[rest])
                            == targets[rest]
                        ).mean()
                    )
                )
                known = guesses.confidence >= model.threshold
                answered.append(float(known.mean()))
                if known.any():
                    right_answered.append(float((best[known] == targets[rest][known]).mean()))
            right = f"{statistics.mean(right_answered):.3f}" if right_answered else "—"
            cells = [
                f"{source} ({len(names)})",
                str(shots),
                f"{statistics.mean(ours):.3f} ± {statistics.pstdev(ours):.3f}",
                f"{statistics.mean(ncm):.3f} ± {statistics.pstdev(ncm):.3f}",
                f"{statistics.mean(answered):.2f}",
                right,
                f"{statistics.median(seconds):.2f}",
            ]
            print("| " + " | ".join(cells) + " |", flush=True)


def active(seeds: int, limit: int = 600) -> None:
    vectors, targets, names = load("sun8_scenes")
    print(f"sun8_scenes: {len(targets)} distinct images, {len(names)} categories; batches of {BATCH}")
    print("| seed | review queue | random order | queue without the near-copy rule |")
    print("|---|---|---|---|")
    results: dict[str, list[int | None]] = {"queue": [], "random": [], "margin": []}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        pool_parts, test_parts = [], []
        for c in range(len(names)):
            rows = rng.permutation(np.flatnonzero(targets == c))
            pool_parts.append(rows[: len(rows) // 2])
            test_parts.append(rows[len(rows) // 2 :])
        pool, test = np.concatenate(pool_parts), np.concatenate(test_parts)
        start = [int(rng.choice(part)) for part in pool_parts]
        orders: dict[str, Callable[[LabelModel, NDArray[np.int64]], NDArray[np.int64]]] = {
            "queue": lambda model, rest: rest[
                review_order(vectors[rest], model.predict(vectors[rest]).probabilities, BATCH)
            ],
            "random": lambda model, rest: np.random.default_rng(len(rest)).choice(
                rest, min(BATCH, len(rest)), replace=False
            ),
            "margin": lambda model, rest: rest[
                review_order(vectors[rest], model.predict(vectors[rest]).probabilities, BATCH, near=2.0)
            ],
        }
        row = []
        for name, pick in orders.items():
            labelled = list(start)
            reached: int | None = None
            while len(labelled) - len(start) <= limit:
                model = train_label_model(vectors[labelled], targets[labelled], names)
                best = np.array([names.index(model.labels[i]) for i in model.predict(vectors[test]).best])
                if (best == targets[test]).mean() >= GOAL:
                    reached = len(labelled) - len(start)
                    break
                rest = np.setdiff1d(pool, labelled)
                labelled += pick(model, rest).tolist()
            results[name].append(reached)
            row.append("not reached" if reached is None else str(reached))
        print(f"| {seed} | " + " | ".join(row) + " |", flush=True)
    summary = []
    for name, found in results.items():
        done = [r for r in found if r is not None]
        summary.append(
            f"{name}: median {statistics.median(done) if done else '—'} ({len(done)}/{len(found)} reached)"
        )
    print("; ".join(summary))


def timing(runs: int, data_dir: Path | None) -> None:
    data = np.load(EMBEDDINGS)
    vectors = data["vectors"].astype(np.float32)
    queries = np.concatenate([vectors, vectors[: 20_000 - len(vectors)]])
    categories = data["category"]
    top = [c for c, _ in zip(*np.unique(categories[categories != ""], return_counts=True), strict=True)]
    top = sorted(top, key=lambda c: -int((categories == c).sum()))[:10]
    load = os.getloadavg()[0]
    print(
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}, load average {load:.1f}"
    )
    print(
        "| labelled examples | train s | predict 20,000 s | total s (median of runs) | CPU s, all threads |"
    )
    print("|---|---|---|---|---|")
    for per_label in (20, 100, 1000):
        rows = np.concatenate([np.flatnonzero(categories == c)[:per_label] for c in top])
        targets = np.array([top.index(c) for c in categories[rows]], dtype=np.int64)
        trains, predicts, cpu = [], [], []
        for _ in range(runs):
            started, cpu_started = time.perf_counter(), time.process_time()
            model = train_label_model(vectors[rows], targets, top)
            trained = time.perf_counter()
            model.predict(queries)
            trains.append(trained - started)
            predicts.append(time.perf_counter() - trained)
            cpu.append(time.process_time() - cpu_started)
        total = statistics.median(t + p for t, p in zip(trains, predicts, strict=True))
        train, predict = statistics.median(trains), statistics.median(predicts)
        cells = f"{train:.2f} | {predict:.2f} | {total:.2f} | {statistics.median(cpu):.2f}"
        print(f"| {len(rows)} (10 × ≤{per_label}) | {cells} |", flush=True)
    if data_dir is not None and (data_dir / "catalog.sqlite").is_file():
        end_to_end(data_dir, data, top, runs)


def end_to_end(data_dir: Path, data: np.lib.npyio.NpzFile, top: list[str], runs: int) -> None:
    """Through Labelling on a copy of the real catalog: label 20 per category, then `answers` for
    the whole folder, retraining first (the labels changed) — what `sorter labels predict` does."""
    from sorter_app.core.labelling import Labelling
    from sorter_app.core.library import Library
    from sorter_app.paths import bundled_model_sidecar

    with tempfile.TemporaryDirectory(prefix="bench-labels-") as tmp:
        copy = Path(tmp)
        shutil.copy2(data_dir / "catalog.sqlite", copy / "catalog.sqlite")
        with Library(copy, bundled_model_sidecar()) as library:
            labelling = Labelling(library)
            labelling.store.create("bench", top)
            for c in top:
                hashes = data["content_hash"][data["category"] == c][:20].tolist()
                labelling.store.label_images("bench", c, hashes)
            folder = DATASETS_DIR
            times, cpu = [], []
            for run in range(runs):
                labelling.store.label_images(
                    "bench",
                    top[run % 10],
                    data["content_hash"][data["category"] == top[run % 10]][20 + run : 21 + run].tolist(),
                )
                started, cpu_started = time.perf_counter(), time.process_time()
                model, retrained = labelling.model("bench")
                answers = labelling.answers(folder, "bench", model)
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - cpu_started)
                assert retrained
            print(
                f"end to end (Labelling.model + answers, {len(answers)} images, 10 labels × ~20): "
                f"median {statistics.median(times):.2f} s over {runs} runs "
                f"(CPU {statistics.median(cpu):.2f} s)"
            )


def main() -> None:
    start_children_as_the_app_does()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=("fewshot", "active", "timing"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=CATALOG_DIR)
    args = parser.parse_args()
    if args.only in (None, "fewshot"):
        fewshot(args.seeds)
    if args.only in (None, "active"):
        active(args.seeds)
    if args.only in (None, "timing"):
        timing(args.runs, args.data_dir)


if __name__ == "__main__":
    main()
