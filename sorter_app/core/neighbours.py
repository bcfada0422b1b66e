"""The k-nearest-neighbour graph of a folder: what duplicates, clusters, outliers and the map use.

A library's folders keep their graph on disk (structure.py), computed in compact space
(compact.py) and updated as the folder changes; `FolderVectors` carries it to the code that uses
it. `knn_graph` computes a graph from vectors in hand (tests, `sorter-train curate`): small sets
are searched exactly, a block of rows at a time; large ones through a temporary Annoy index over
compact vectors, every candidate re-scored with the full vectors, so the similarities reported
are exact even where the candidate set is approximate. No n×n matrix is ever formed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex
from numpy.typing import NDArray

from .compact import BOUND_SLACK, SEARCH_DIM, Projection, unit_rows

# Up to this many items the exact blockwise product is used (16,758 items: 3.5 s on 2 cores);
# its cost grows with n², Annoy's with about n·log n.
EXACT_LIMIT = 20_000
GRAPH_TREES = 12
CANDIDATES_PER_NEIGHBOUR = 3
SEARCH_K_FACTOR = 8
_BLOCK = 256  # rows per task; a task gathers BLOCK × candidates full vectors (~30 MB at k=8)
# Edges re-scored per step: at most ~2 × this many full vectors in memory, and one gathered row per
# edge on each side. Duplicates re-score every edge down to cosine 0.5: 65,536 peaked at 1.65 GB
# resident, 16,384 at 0.66 GB, same CPU (benchmarks/probe_duplicate_memory.py, 33,494 images).
_RESCORE_EDGES = 16_384
_NORM_CHUNK = 65_536
# Full vectors held per block when re-scoring pairs (pair_cosines); two blocks are held at once.
_BLOCK_BYTES = 256 << 20
# A row gathered on its own costs about this many rows of a sequential read (8 µs against ~1).
_SCATTER_COST = 8


@dataclass(frozen=True)
class KnnGraph:
    """indices[i, j] is the j-th nearest other item of item i (-1: none found); best first."""

    indices: NDArray[np.int64]
    similarities: NDArray[np.float32]


@dataclass(frozen=True)
class FolderVectors:
    """The distinct contents of a folder: one vector per content hash, and the paths holding it.

    From a library, `vectors` are the folder's memory-mapped compact vectors (compact.py), `graph`
    its stored neighbour graph (compact cosines), and `full` reads the full vectors of rows from
    the folder's full store (full_store.py) for the places that need exact cosines. Built by hand
    (tests, tools), `vectors` are full vectors and a graph is computed when asked for.
    """

    keys: list[str]
    vectors: NDArray[np.floating]
    paths: list[list[str]]  # paths[i]: every file whose content is keys[i], sorted
    graph: KnnGraph | None = None
    full: Callable[[NDArray[np.int64]], NDArray[np.float32]] | None = None

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def compact(self) -> bool:
        return self.full is not None

    def neighbours(self, k: int, progress: Callable[[int, int], None] | None = None) -> KnnGraph:
        """The stored graph's first k neighbours, or a graph computed now if none is stored."""
        if self.graph is not None and self.graph.indices.shape[1] >= min(k, len(self) - 1):
            return KnnGraph(self.graph.indices[:, :k], self.graph.similarities[:, :k])
        # Compact vectors are not unit length: their graph is of cosines, as the stored one is.
        vectors = unit_rows(self.vectors) if self.compact else np.asarray(self.vectors, dtype=np.float32)
        return knn_graph(vectors, k, progress=progress)

    def full_vectors(self, rows: Sequence[int] | NDArray[np.integer]) -> NDArray[np.float32]:
        """Full vectors of `rows`, read from the full store when `vectors` are compact."""
        picked = np.asarray(rows, dtype=np.int64)
        if self.full is None:
            return np.asarray(self.vectors[picked], dtype=np.float32)
        return self.full(picked)


def exact_similarities(folder: FolderVectors, graph: KnnGraph, at_least: float, k: int) -> KnnGraph:
    """The k best neighbours of each row by full-vector cosine, wherever that could reach `at_least`.

    Every edge of `graph` whose cosine could reach `at_least` gets its exact full-vector cosine;
    the others (the compact bound proves it without reading them) get their bound, below
    `at_least`. Rows are re-sorted and cut to k: pass a graph wider than k, so that neighbours the
    compact cosines ranked a little too low still make the cut. Full vectors are read for a block
    of edges at a time, so memory stays bounded whatever the folder's size.

    The bound of compact.upper_bounds is computed from what the graph already holds — its
    similarities are compact cosines ⟨c_a,c_b⟩/(‖c_a‖‖c_b‖) — and each row's compact norm, so no
    compact vector is gathered per edge (16 million edges at a million images).
    """
    if not folder.compact or graph.indices.size == 0:
        return KnnGraph(graph.indices[:, :k], graph.similarities[:, :k])
    indices = graph.indices
    norms = np.concatenate(
        [
            np.linalg.norm(np.asarray(folder.vectors[s : s + _NORM_CHUNK], dtype=np.float32), axis=1)
            for s in range(0, len(folder), _NORM_CHUNK)
        ]
    )
    lost = np.sqrt(np.maximum(0.0, 1.0 - norms * norms))
    rows = np.repeat(np.arange(len(indices), dtype=np.int64), indices.shape[1])
    cols = indices.ravel().astype(np.int64)
    valid = cols >= 0
    safe = np.where(valid, cols, 0)
    compact_sims = np.asarray(graph.similarities, dtype=np.float32).ravel()
    bounds = compact_sims * norms[rows] * norms[safe] + lost[rows] * lost[safe] + BOUND_SLACK
    bounds = np.where(valid, bounds, -np.inf).astype(np.float32)
    sims = np.minimum(compact_sims, bounds)
    edges = np.flatnonzero(bounds >= at_least)
    sims[edges] = pair_cosines(folder, rows[edges], cols[edges])
    sims2d = np.where(indices >= 0, sims.reshape(indices.shape), -np.inf).astype(np.float32)
    order = np.argsort(-sims2d, axis=1, kind="stable")[:, :k]
    return KnnGraph(np.take_along_axis(indices, order, axis=1), np.take_along_axis(sims2d, order, axis=1))


def pair_cosines(folder: FolderVectors, a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.float32]:
    """Full-vector dot products of the pairs (a[i], b[i]), each distinct pair computed once.

    Both ends are read block by block of rows: for blocks p ≤ q, the pairs with one end in each,
    block p read once for all its q. A block most of whose rows are wanted is read whole (one
    sequential read); one with few is gathered row by row. At a million images the 16 million edges
    of duplicates had, a batch of edges at a time, ~17 million rows gathered from all over a 5-GB
    store (8 µs a row); block by block the store is read a few times over, sequentially.
    """
    if len(a) == 0:
        return np.zeros(0, dtype=np.float32)
    n = len(folder)
    pairs, inverse = np.unique(np.minimum(a, b) * n + np.maximum(a, b), return_inverse=True)
    low, high = pairs // n, pairs % n  # sorted by low end
    block = max(1, _BLOCK_BYTES // (folder.full_vectors(low[:1]).shape[1] * 4))
    low_block, high_block = low // block, high // block
    out = np.empty(len(pairs), dtype=np.float32)
    for p in np.unique(low_block).tolist():
        in_p = np.arange(np.searchsorted(low_block, p), np.searchsorted(low_block, p, side="right"))
        in_p = in_p[np.argsort(high_block[in_p], kind="stable")]
        q_of = high_block[in_p]
        first = _Block.read(folder, np.concatenate([low[in_p], high[in_p[q_of == p]]]), p * block, block)
        for q in np.unique(q_of).tolist():
            here = in_p[np.searchsorted(q_of, q) : np.searchsorted(q_of, q, side="right")]
            second = first if q == p else _Block.read(folder, high[here], q * block, block)
            for sub in range(0, len(here), _RESCORE_EDGES):
                chunk = here[sub : sub + _RESCORE_EDGES]
                out[chunk] = np.einsum("ij,ij->i", first.rows(low[chunk]), second.rows(high[chunk]))
    return out[inverse.ravel()]


@dataclass(frozen=True)
class _Block:
    """The full vectors wanted from one block of rows: the whole block, or only the wanted rows."""

    start: int
    wanted: NDArray[np.int64] | None  # sorted rows held, or None when the block is held whole
    vectors: NDArray[np.float32]

    @staticmethod
    def read(folder: FolderVectors, rows: NDArray[np.int64], start: int, size: int) -> _Block:
        wanted = np.unique(rows)
        stop = min(start + size, len(folder))
        if len(wanted) * _SCATTER_COST >= stop - start:
            return _Block(start, None, folder.full_vectors(np.arange(start, stop, dtype=np.int64)))
        return _Block(start, wanted, folder.full_vectors(wanted))

    def rows(self, rows: NDArray[np.int64]) -> NDArray[np.float32]:
        if self.wanted is None:
            return self.vectors[rows - self.start]
        return self.vectors[np.searchsorted(self.wanted, rows)]


def knn_graph(
    vectors: NDArray[np.float32],
    k: int,
    *,
    exact_limit: int = EXACT_LIMIT,
    progress: Callable[[int, int], None] | None = None,
) -> KnnGraph:
    n = len(vectors)
    k = max(0, min(k, n - 1))
    if k == 0:
        return KnnGraph(np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0), dtype=np.float32))
    if n <= exact_limit:
        return _exact_graph(vectors, k, progress)
    return _annoy_graph(vectors, k, progress)


def _top_k_excluding_self(
    sims: NDArray[np.float32], rows: NDArray[np.int64], k: int
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    sims[np.arange(len(rows)), rows] = -np.inf
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    top_sims = np.take_along_axis(sims, top, axis=1)
    order = np.argsort(-top_sims, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_sims, order, axis=1)


def _exact_graph(
    vectors: NDArray[np.float32], k: int, progress: Callable[[int, int], None] | None
) -> KnnGraph:
    n = len(vectors)
    indices = np.empty((n, k), dtype=np.int64)
    similarities = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, _BLOCK):
        rows = np.arange(start, min(start + _BLOCK, n))
        sims = vectors[rows] @ vectors.T
        indices[rows], similarities[rows] = _top_k_excluding_self(sims, rows, k)
        if progress:
            progress(int(rows[-1]) + 1, n)
    return KnnGraph(indices, similarities)


def _annoy_graph(
    vectors: NDArray[np.float32], k: int, progress: Callable[[int, int], None] | None
) -> KnnGraph:
    n = len(vectors)
    reduced = unit_rows(Projection.fit(vectors[:: max(1, n // 20_000)]).project(vectors), SEARCH_DIM)
    index = AnnoyIndex(reduced.shape[1], "angular")
    indices = np.empty((n, k), dtype=np.int64)
    similarities = np.empty((n, k), dtype=np.float32)
    # Over-fetch in the reduced space, then re-score in the full one. Measured on the 16,758 shared
    # photos: recall@10 0.90 against exact search (SEARCH_K_FACTOR 16 gives 0.92 for twice the time).
    candidates = CANDIDATES_PER_NEIGHBOUR * k + 1
    search_k = candidates * GRAPH_TREES * SEARCH_K_FACTOR

    def fill(start: int) -> int:
        stop = min(start + _BLOCK, n)
        own = np.arange(start, stop)[:, None]
        found = np.repeat(own, candidates, axis=1)  # short rows are padded with the item itself
        for r, i in enumerate(range(start, stop)):
            ids = index.get_nns_by_item(i, candidates, search_k=search_k)  # releases the GIL
            found[r, : len(ids)] = ids
        sims = np.einsum("rd,rcd->rc", vectors[start:stop], vectors[found])
        sims[found == own] = -np.inf
        order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        indices[start:stop] = np.take_along_axis(found, order, axis=1)
        similarities[start:stop] = np.take_along_axis(sims, order, axis=1)
        return stop - start

    with tempfile.TemporaryDirectory(prefix="sorter-graph-") as tmp:
        index.on_disk_build(str(Path(tmp) / "graph.ann"))  # keeps the trees out of the Python heap
        for i, row in enumerate(reduced):
            index.add_item(i, row.tolist())
        index.build(GRAPH_TREES, n_jobs=-1)
        done = 0
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for count in pool.map(fill, range(0, n, _BLOCK)):
                done += count
                if progress:
                    progress(done, n)
        index.unload()
    return KnnGraph(indices, similarities)
