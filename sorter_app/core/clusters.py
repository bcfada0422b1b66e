"""Clusters of a whole folder: Louvain communities of the k-nearest-neighbour graph.

Louvain finds as many groups as the data holds instead of asking for a count, and works on the
sparse graph (n·k edges), never an n×n matrix. Its resolution is the coarse ↔ fine knob. Images in
communities too small to be worth a folder go to "unsorted", so every image is in exactly one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .neighbours import FolderVectors, KnnGraph, knn_graph

GRAPH_K = 12
# Louvain resolution per granularity: higher splits more. Chosen on the shared photo collection
# (see benchmarks/RESULTS.md for the purity and cluster counts they give).
RESOLUTIONS = {"coarse": 0.5, "medium": 1.0, "fine": 2.0}
MIN_CLUSTER_SIZE = {"coarse": 5, "medium": 3, "fine": 2}
# Louvain's inner loop is pure Python and holds the GIL; run beside a window it starved the UI
# thread for 40-140 ms at a time (benchmarks/bench_ui.py). A 0.1-ms sleep every 256 nodes costs
# ~2 ms per pass over 5,000 images and lets the event loop in.
YIELD_EVERY = 256
YIELD_SECONDS = 0.0001


@dataclass(frozen=True)
class Cluster:
    id: int
    label: str  # "kitchen" or "cluster 7": what a folder made from it is called
    paths: list[str]

    @property
    def name(self) -> str:
        return f"{self.label} · {len(self.paths)}"


@dataclass(frozen=True)
class Clustering:
    clusters: list[Cluster]
    unsorted: list[str]


@dataclass(frozen=True)
class _Graph:
    """Symmetric weighted adjacency in CSR form, plus self-loop weights of aggregated nodes."""

    indptr: NDArray[np.int64]
    indices: NDArray[np.int64]
    weights: NDArray[np.float64]
    loops: NDArray[np.float64]

    @property
    def size(self) -> int:
        return len(self.indptr) - 1

    @property
    def degrees(self) -> NDArray[np.float64]:
        """Row sums of the adjacency matrix, whose diagonal holds the self-loop weights."""
        rows = np.repeat(np.arange(self.size), np.diff(self.indptr))
        return np.bincount(rows, weights=self.weights, minlength=self.size) + self.loops


def _symmetric_graph(graph: KnnGraph) -> _Graph:
    """A_ij = A_ji = half the similarity of each kNN edge (summed when both directions are kNN edges)."""
    n, k = graph.indices.shape
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    cols = graph.indices.ravel()
    half = np.clip(graph.similarities.ravel().astype(np.float64), 0.0, None) / 2
    both_rows, both_cols = np.concatenate([rows, cols]), np.concatenate([cols, rows])
    return _csr(n, both_rows, both_cols, np.concatenate([half, half]), np.zeros(n))


def _csr(
    n: int,
    rows: NDArray[np.int64],
    cols: NDArray[np.int64],
    w: NDArray[np.float64],
    loops: NDArray[np.float64],
) -> _Graph:
    """Merge duplicate (row, col) pairs by summing; row == col goes to the self-loop weights."""
    self_edges = rows == cols
    loops = loops + np.bincount(rows[self_edges], weights=w[self_edges], minlength=n).astype(np.float64)
    rows, cols, w = rows[~self_edges], cols[~self_edges], w[~self_edges]
    keys, inverse = np.unique(rows * n + cols, return_inverse=True)
    merged = np.bincount(inverse, weights=w, minlength=len(keys)).astype(np.float64)
    key_rows = keys // n
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(key_rows, minlength=n), out=indptr[1:])
    return _Graph(indptr, keys % n, merged, loops)


def _local_moving(graph: _Graph, resolution: float, rng: np.random.Generator) -> NDArray[np.int64]:
    """One Louvain level: move nodes to the neighbouring community with the best modularity gain."""
    n = graph.size
    indptr, nbrs, weights = graph.indptr.tolist(), graph.indices.tolist(), graph.weights.tolist()
    two_m = float(graph.degrees.sum()) or 1.0
    deg = graph.degrees.tolist()
    community = list(range(n))
    total = deg.copy()
    order = rng.permutation(n).tolist()
    moved = True
    while moved:
        moved = False
        for i, node in enumerate(order):
            if i % YIELD_EVERY == 0:
                time.sleep(YIELD_SECONDS)  # hand the GIL over: a window's event loop may be waiting
            current = community[node]
            links: dict[int, float] = {}
            for e in range(indptr[node], indptr[node + 1]):
                c = community[nbrs[e]]
                links[c] = links.get(c, 0.0) + weights[e]
            k_node = deg[node]
            total[current] -= k_node
            scale = resolution * k_node / two_m
            best, best_gain = current, links.get(current, 0.0) - scale * total[current]
            for c, w in links.items():
                gain = w - scale * total[c]
                if gain > best_gain + 1e-12:
                    best, best_gain = c, gain
            total[best] += k_node
            if best != current:
                community[node] = best
                moved = True
    _, labels = np.unique(np.asarray(community, dtype=np.int64), return_inverse=True)
    return labels.astype(np.int64)


def _aggregate(graph: _Graph, labels: NDArray[np.int64]) -> _Graph:
    n_new = int(labels.max()) + 1
    rows = np.repeat(labels, np.diff(graph.indptr))
    cols = labels[graph.indices]
    loops = np.bincount(labels, weights=graph.loops, minlength=n_new).astype(np.float64)
    return _csr(n_new, rows, cols, graph.weights, loops)


def louvain(graph: KnnGraph, resolution: float = 1.0, seed: int = 0) -> NDArray[np.int64]:
    """Community label per item (0..c-1)."""
    n = len(graph.indices)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    current = _symmetric_graph(graph)
    membership = np.arange(n, dtype=np.int64)
    while True:
        labels = _local_moving(current, resolution, rng)
        if int(labels.max()) + 1 == current.size:
            break
        membership = labels[membership]
        current = _aggregate(current, labels)
    return membership


def cluster_folder(
    folder: FolderVectors,
    granularity: str = "medium",
    *,
    labels: Mapping[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Clustering:
    """Every image in exactly one cluster or in `unsorted`. Clusters are numbered by size."""
    if granularity not in RESOLUTIONS:
        raise ValueError(f"granularity must be one of {', '.join(RESOLUTIONS)}")
    graph = knn_graph(folder.vectors, GRAPH_K, progress=progress)
    membership = louvain(graph, RESOLUTIONS[granularity])
    groups: dict[int, list[int]] = {}
    for item, community in enumerate(membership.tolist()):
        groups.setdefault(community, []).append(item)
    min_size = MIN_CLUSTER_SIZE[granularity]
    clusters: list[list[str]] = []
    unsorted: list[str] = []
    for items in groups.values():
        paths = sorted(p for i in items for p in folder.paths[i])
        if len(paths) >= min_size:
            clusters.append(paths)
        else:
            unsorted.extend(paths)
    clusters.sort(key=lambda paths: (-len(paths), paths[0]))
    named: list[Cluster] = []
    uses: dict[str, int] = {}
    for i, paths in enumerate(clusters):
        label = _label(i + 1, paths, labels)
        uses[label] = uses.get(label, 0) + 1
        if uses[label] > 1:  # "outdoor 2": each cluster needs a folder of its own
            label = f"{label} {uses[label]}"
        named.append(Cluster(i + 1, label, paths))
    return Clustering(named, sorted(unsorted))


def _label(number: int, paths: list[str], labels: Mapping[str, str] | None) -> str:
    """'kitchen' when most members share a predicted label, else 'cluster 7'."""
    if labels:
        counts: dict[str, int] = {}
        for path in paths:
            label = labels.get(path)
            if label:
                counts[label] = counts.get(label, 0) + 1
        if counts:
            label, count = max(counts.items(), key=lambda item: item[1])
            if count >= 0.6 * len(paths):
                return label
    return f"cluster {number}"
