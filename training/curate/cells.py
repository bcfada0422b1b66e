"""Partitioned near-duplicate search: no n×n matrix, and no worker ever holds every vector.

1. Spherical k-means on a seeded sample gives `cells` centroids (`train_centroids`).
2. Every vector is assigned to its nearest *and* second-nearest cell (`AssignTask`), so a pair that
   straddles a cell boundary still meets in one of them. This compares every vector with every
   centroid (n² / cell size products), which stays a few per cent of the split audit's cost at any
   n (benchmarks/RESULTS.md), so it is not made approximate with a second level.
3. Each cell is searched exactly, all pairs inside it, for cosines over the rule's floor
   (bounded.py: reduced-vector bounds, full vectors for the few over it), and those pairs are
   judged by the app's near-duplicate rule (`CellTask`); tasks hold a few cells each and load only
   their members' rows.
4. The driver joins the accepted pairs with union-find (dedupe.py).

Recall is measured, not assumed: copies of a seeded sample of the vectors, perturbed as edits
perturb embeddings and layouts (`injected_copies`), go through the same assignment and cells as
"virtual" rows (negative ids) that are never joined to anything; the share of those the rule
accepts exactly (original against copy, all-pairs) that the cells also found is the recall.
What the cells miss can only stay in one split: the split audit (audit.py) is exhaustive.
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sorter_app.core.duplicates import NearRule
from sorter_app.core.layout import THUMB_OFFSET

from .bounded import Projection, SearchCost, pairs_over
from .dedupe import embedding_floor, near_duplicates
from .engines import Engine
from .rows import Rows

CELL_SIZE = 1000  # vectors per cell before the second assignment (which doubles every cell)
PROBES = 2  # cells each vector is compared in
KMEANS_SAMPLE_PER_CELL = 24
KMEANS_MAX_SAMPLE = 65_536
KMEANS_ITERATIONS = 10
OVERSIZE = 4
TASK_ROWS = 60_000  # cell members per task: ~300 MB of vectors at 1280-d
ASSIGN_ROWS = 100_000


def cell_count(n: int, cell_size: int = CELL_SIZE) -> int:
    return max(1, math.ceil(n / cell_size))


def normalised(x: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


def nearest_cells(
    vectors: NDArray[np.float32], centroids: NDArray[np.float32], probes: int
) -> NDArray[np.int32]:
    """The `probes` most similar centroids of each vector, best first."""
    probes = min(probes, len(centroids))
    out = np.zeros((len(vectors), probes), dtype=np.int32)
    for start in range(0, len(vectors), 4096):
        sims = vectors[start : start + 4096] @ centroids.T
        top = np.argpartition(-sims, probes - 1, axis=1)[:, :probes] if probes < len(centroids) else None
        if top is None:
            top = np.broadcast_to(np.arange(len(centroids)), sims.shape)
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
        out[start : start + 4096] = np.take_along_axis(top, order, axis=1)
    return out


def train_centroids(sample: NDArray[np.float32], cells: int, seed: int) -> NDArray[np.float32]:
    """Spherical k-means: seeded start, a fixed number of rounds; empty cells restart on the worst-fit."""
    cells = min(cells, len(sample))
    rng = np.random.default_rng([seed, 0xCE11])
    centroids = sample[np.sort(rng.choice(len(sample), cells, replace=False))].copy()
    for _ in range(KMEANS_ITERATIONS):
        sims = np.empty(len(sample), np.float32)
        assign = np.empty(len(sample), np.int64)
        for start in range(0, len(sample), 4096):
            block = sample[start : start + 4096] @ centroids.T
            assign[start : start + 4096] = block.argmax(axis=1)
            sims[start : start + 4096] = block.max(axis=1)
        order = np.argsort(assign, kind="stable")
        counts = np.bincount(assign, minlength=cells)
        sums = np.zeros_like(centroids)
        present = np.flatnonzero(counts)
        sums[present] = np.add.reduceat(sample[order], np.concatenate([[0], np.cumsum(counts)[:-1]])[present])
        empty = np.flatnonzero(counts == 0)
        if len(empty):
            worst = np.argsort(sims, kind="stable")[: len(empty)]
            sums[empty] = sample[worst]
        centroids = normalised(sums)
    return centroids


def sample_ids(gids: NDArray[np.int64], size: int, seed: int) -> NDArray[np.int64]:
    if len(gids) <= size:
        return gids
    rng = np.random.default_rng([seed, 0x5A])
    return np.sort(gids[rng.choice(len(gids), size, replace=False)])


def kmeans_sample_size(cells: int) -> int:
    return min(KMEANS_MAX_SAMPLE, cells * KMEANS_SAMPLE_PER_CELL)


@dataclass(frozen=True)
class AssignTask:
    gids: NDArray[np.int64]
    rows: Rows
    centroids: NDArray[np.float32]


def run_assign_task(task: AssignTask) -> NDArray[np.int32]:
    """Each gid's `PROBES` nearest cells, best first."""
    vectors, _ = task.rows.load(task.gids)
    return nearest_cells(vectors, task.centroids, PROBES)


def cell_members(gids: NDArray[np.int64], assigned: NDArray[np.int32], cells: int) -> list[NDArray[np.int64]]:
    """Members of each cell, sorted, from each gid's assigned cells."""
    flat_cells = assigned.reshape(-1)
    flat_gids = np.repeat(gids, assigned.shape[1])
    order = np.lexsort((flat_gids, flat_cells))
    counts = np.bincount(flat_cells, minlength=cells)
    return np.split(flat_gids[order], np.cumsum(counts)[:-1])


@dataclass(frozen=True)
class CellTask:
    cells: list[NDArray[np.int64]]
    rows: Rows
    rule: NearRule
    projection: Projection
    cell_size: int = CELL_SIZE  # a cell over OVERSIZE times this is partitioned again inside the task


@dataclass(frozen=True)
class CellResult:
    pairs: NDArray[np.int64]  # [p, 2] accepted pairs of real ids, a < b
    copies_found: NDArray[np.int64]  # originals whose injected copy met them in a cell and passed
    bounds: int  # reduced-vector bounds computed
    candidates: int  # pairs whose bound reached the floor (re-scored with full vectors)
    over_floor: int  # pairs over the rule's lowest cosine (then judged by the rule)
    peak_rss_mb: float  # of the process that ran the task
    cpu_seconds: float  # the task's own CPU time (what a cluster of any size has to share out)


def run_cell_task(task: CellTask) -> CellResult:
    """Every pair in each cell over the rule's lowest cosine, judged by the rule."""
    started = time.process_time()
    floor = embedding_floor(task.rule)
    found: set[tuple[int, int]] = set()
    copies: set[int] = set()
    cost = SearchCost()
    over_floor = 0
    # Every row the task needs, read once: cells are scattered over the work shards, and opening
    # each shard again for each cell cost more than the search itself at 1,000,000 images.
    task_vectors, task_layouts = task.rows.load(task.rows.gids)
    for cell in task.cells:
        if len(cell) < 2:
            continue
        at = np.searchsorted(task.rows.gids, cell)
        cell_vectors, cell_layouts = task_vectors[at], task_layouts[at]
        cell_reduced = task.projection.reduce(cell_vectors)
        for part in _subcells(cell_vectors, task.cell_size):
            members, vectors, layouts, reduced = (
                cell[part],
                cell_vectors[part],
                cell_layouts[part],
                cell_reduced[part],
            )
            for rows, cols, sims in pairs_over(vectors, reduced, vectors, reduced, floor, cost, same=True):
                over_floor += len(rows)
                low = np.minimum(members[rows], members[cols])
                high = np.maximum(members[rows], members[cols])
                # A copy is only looked for beside its own original; a pair already accepted in
                # another cell is not judged again.
                wanted = np.array(
                    [
                        (b not in copies) if a < 0 else (a, b) not in found
                        for a, b in zip(low.tolist(), high.tolist(), strict=True)
                    ],
                    dtype=bool,
                ) & ((low >= 0) | (low == -high - 1))
                accepted = near_duplicates(
                    task.rule, sims[wanted], layouts[rows[wanted]], layouts[cols[wanted]]
                )
                for a, b in zip(low[wanted][accepted].tolist(), high[wanted][accepted].tolist(), strict=True):
                    if a < 0:
                        copies.add(b)
                    else:
                        found.add((a, b))
    pairs = np.array(sorted(found), dtype=np.int64).reshape(-1, 2)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return CellResult(
        pairs,
        np.array(sorted(copies), np.int64),
        cost.bounds,
        cost.candidates,
        over_floor,
        peak,
        time.process_time() - started,
    )


def _subcells(vectors: NDArray[np.float32], cell_size: int) -> list[NDArray[np.int64]]:
    """A cell k-means made too large (real embeddings bunch up) is partitioned again the same way,
    each member in its two nearest sub-cells; cost grows with a cell's size squared."""
    m = len(vectors)
    if m <= OVERSIZE * cell_size:
        return [np.arange(m)]
    count = math.ceil(m / cell_size)
    sample = np.linspace(0, m - 1, min(m, kmeans_sample_size(count))).astype(np.int64)
    centroids = train_centroids(vectors[np.unique(sample)], count, seed=m)
    assigned = nearest_cells(vectors, centroids, PROBES)
    return [part for part in cell_members(np.arange(m), assigned, len(centroids)) if len(part) > 1]


def cell_tasks(
    cells: Sequence[NDArray[np.int64]],
    rows: Rows,
    rule: NearRule,
    projection: Projection,
    cell_size: int = CELL_SIZE,
    task_rows: int = TASK_ROWS,
) -> list[CellTask]:
    """Consecutive cells grouped into tasks of about `task_rows` members."""
    tasks: list[CellTask] = []
    batch: list[NDArray[np.int64]] = []
    size = 0

    def flush() -> None:
        nonlocal batch, size
        if batch:
            tasks.append(CellTask(batch, rows.subset(np.concatenate(batch)), rule, projection, cell_size))
        batch, size = [], 0

    for members in cells:
        if len(members) < 2:
            continue
        batch.append(members)
        size += len(members)
        if size >= task_rows:
            flush()
    flush()
    return tasks


@dataclass
class CellSearch:
    """What a partitioned search found and what it cost; `describe` goes into the manifest."""

    cells: int
    pairs: NDArray[np.int64]
    copies_found: NDArray[np.int64]
    bounds: int
    candidates: int
    over_floor: int
    largest_cell: int
    tasks: int
    peak_rss_mb: float
    cpu_seconds: float = 0.0

    def describe(self) -> dict[str, int]:
        return {
            "cells": self.cells,
            "cells_per_image": PROBES if self.cells > 1 else 1,
            "largest_cell": self.largest_cell,
            "bounds_computed": self.bounds,
            "rescored_with_full_vectors": self.candidates,
            "pairs_over_embedding_floor": self.over_floor,
        }


def search_cells(
    gids: NDArray[np.int64],
    rows: Rows,
    rule: NearRule,
    engine: Engine,
    *,
    seed: int,
    cell_size: int = CELL_SIZE,
) -> CellSearch:
    """Partition `gids` (real ids ≥ 0, and injected copies < 0) into cells and search each exactly.

    Only a sample of vectors is ever loaded by the caller (for k-means and the bounds' basis);
    assignment and search run as engine tasks on a few tasks' worth of rows each.
    """
    gids = np.sort(np.asarray(gids, np.int64))
    real = gids[gids >= 0]
    if len(gids) < 2:
        return CellSearch(
            len(gids), np.zeros((0, 2), np.int64), np.zeros(0, np.int64), 0, 0, 0, len(gids), 0, 0.0
        )
    count = cell_count(len(real), cell_size)
    sample = rows.load(sample_ids(real, kmeans_sample_size(count), seed))[0]
    projection = Projection.fit(sample)
    if count == 1:
        cells = [gids]
    else:
        centroids = train_centroids(sample, count, seed)
        tasks = [
            AssignTask(chunk, rows.subset(chunk), centroids)
            for chunk in (gids[s : s + ASSIGN_ROWS] for s in range(0, len(gids), ASSIGN_ROWS))
        ]
        assigned = np.concatenate(engine.map(run_assign_task, tasks))
        cells = cell_members(gids, assigned, len(centroids))
    results = engine.map(run_cell_task, cell_tasks(cells, rows, rule, projection, cell_size))
    return CellSearch(
        cells=len(cells),
        pairs=np.concatenate([np.zeros((0, 2), np.int64), *(r.pairs for r in results)]),
        copies_found=np.unique(np.concatenate([np.zeros(0, np.int64), *(r.copies_found for r in results)])),
        bounds=sum(r.bounds for r in results),
        candidates=sum(r.candidates for r in results),
        over_floor=sum(r.over_floor for r in results),
        largest_cell=max((len(c) for c in cells), default=0),
        tasks=len(results),
        peak_rss_mb=max((r.peak_rss_mb for r in results), default=0.0),
        cpu_seconds=sum(r.cpu_seconds for r in results),
    )


# --- injected duplicates --------------------------------------------------------------------------

INJECT_SAMPLE = 1000
EDIT_SIMILARITY = (0.86, 0.99)  # cosine of an injected copy to its original, uniform
LAYOUT_NOISE = 6.0  # grey levels of noise on the layout's thumbnail (its header is left as it is)


def injected_copies(
    vectors: NDArray[np.float32], layouts: NDArray[np.uint8], seed: int
) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """Edited-looking copies: each vector turned by a seeded angle towards another sampled vector
    plus isotropic noise (edits move an embedding towards other images, not only at random), and
    each layout with a little noise. The copy of image g gets the virtual id −g − 1 (`copy_ids`)."""
    rng = np.random.default_rng([seed, 0x1D])
    n, dim = vectors.shape
    target = np.asarray(rng.uniform(EDIT_SIMILARITY[0], EDIT_SIMILARITY[1], size=n), dtype=np.float64)
    towards = vectors[rng.permutation(n)] if n > 1 else vectors
    direction = 0.5 * normalised(towards - vectors + 1e-6) + 0.5 * normalised(
        rng.standard_normal((n, dim)).astype(np.float32)
    )
    direction -= (direction * vectors).sum(axis=1, keepdims=True) * vectors  # orthogonal to the original
    direction = normalised(direction)
    copies = target[:, None] * vectors + np.sqrt(1 - target**2)[:, None] * direction
    noisy = layouts.astype(np.float64)
    noisy[:, THUMB_OFFSET:] += rng.normal(0, LAYOUT_NOISE, (n, layouts.shape[1] - THUMB_OFFSET))
    return normalised(copies.astype(np.float32)), np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def copy_ids(gids: NDArray[np.int64]) -> NDArray[np.int64]:
    return -np.asarray(gids, np.int64) - 1
