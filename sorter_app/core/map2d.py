"""A 2-D map of a folder's embeddings, so that clusters and outliers show at a glance.

A UMAP-style layout in plain numpy: the k-nearest-neighbour graph (the folder's stored one, which
duplicates and clusters use too) is turned into fuzzy memberships — each image's edges scaled by
its own neighbourhood's distances, so dense and sparse regions weigh alike — and points start from
the two principal directions. Epochs then pull each point towards its graph neighbours and push
it away from randomly sampled others. Every epoch is a handful of whole-array operations (gathers
and `bincount`), never a Python loop over points, and nothing n×n is formed.
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .errors import CancelledError
from .neighbours import KnnGraph, knn_graph

if TYPE_CHECKING:  # the indexer imports onnxruntime; the map needs only its callable types
    from .indexer import CancelledFn, ProgressFn

MAP_K = 15
EPOCHS = 200
NEGATIVES = 5
# The low-dimensional similarity 1 / (1 + a·d^(2b)) that UMAP fits for min_dist 0.1, spread 1.0:
# near-flat up to 0.1, so tight groups keep some room inside them.
_A, _B = 1.577, 0.8951
_MAX_STEP = 4.0  # per-edge gradient clip, as UMAP: one far neighbour cannot fling a point away
_INIT_SPREAD = 10.0
_BISECTION_STEPS = 48
_INIT_CHUNK = 65_536
# The graph's share of the progress bar: measured 16 % of the time at 5,000 images, 37 % at 20,000.
_GRAPH_STEPS = EPOCHS // 4
_TINY_MAPS = {  # too few images for neighbourhoods: a dot, or two dots side by side
    0: np.zeros((0, 2), dtype=np.float32),
    1: np.array([[0.5, 0.5]], dtype=np.float32),
    2: np.array([[0.0, 0.5], [1.0, 0.5]], dtype=np.float32),
}


def layout_2d(
    vectors: NDArray[np.floating],
    *,
    graph: KnnGraph | None = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    child: Executor | None = None,
) -> NDArray[np.float32]:
    """(n, 2) positions in [0, 1]², the same for the same vectors, graph and seed.

    `graph` is the folder's stored neighbour graph (at least MAP_K wide) where there is one;
    without it one is computed from `vectors`. With a `child` (child_process.work_child) the
    memberships and epochs run there, the same arrays bit for bit: the window's thread is never
    kept waiting for the GIL by the epochs' thousands of small array operations.
    """
    if len(vectors) in _TINY_MAPS:
        return _TINY_MAPS[len(vectors)].copy()
    is_cancelled = cancelled or (lambda: False)
    graph_steps = _GRAPH_STEPS if graph is None else 0
    total = graph_steps + EPOCHS

    def graph_progress(done: int, rows: int) -> None:
        """knn_graph has no cancel hook; raising from its progress callback stops it all the same."""
        if is_cancelled():
            raise CancelledError("map cancelled")
        if progress:
            progress(done * graph_steps // rows, total)

    if graph is None:
        graph = knn_graph(np.asarray(vectors, dtype=np.float32), MAP_K, progress=graph_progress)
    rng = np.random.default_rng(seed)
    positions = _pca_init(vectors, rng)
    near = np.asarray(graph.indices[:, :MAP_K], dtype=np.int32)
    far = 1.0 - np.asarray(graph.similarities[:, :MAP_K], dtype=np.float32)
    state = dict(rng.bit_generator.state)
    layout = (
        _Layout(positions, near, far, state)
        if child is None
        else _LayoutInChild(child, positions, near, far, state)
    )
    # About a million edge updates between two looks at Cancel: 10 epochs at 5,000 images, 1 at 1,000,000.
    per_step = max(1, min(10, 1_000_000 // max(1, near.size)))
    for epoch in range(0, EPOCHS, per_step):
        if is_cancelled():
            raise CancelledError("map cancelled")
        count = min(per_step, EPOCHS - epoch)
        layout.run(epoch, count)
        if progress:
            progress(graph_steps + epoch + count, total)
    return _unit_square(layout.result())


class _Layout:
    """The epochs' state: positions, the fuzzy edges and the random generator, wherever it runs."""

    def __init__(
        self,
        positions: NDArray[np.float32],
        near: NDArray[np.int32],
        far: NDArray[np.float32],
        state: dict[str, Any],
    ) -> None:
        self.positions = positions
        self.heads, self.tails, self.weights = _fuzzy_edges(near, far)
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = state

    def run(self, first: int, count: int) -> None:
        for epoch in range(first, first + count):
            _epoch(self.positions, self.heads, self.tails, self.weights, 1.0 - epoch / EPOCHS, self.rng)

    def result(self) -> NDArray[np.float32]:
        return self.positions


class _LayoutInChild:
    """A `_Layout` kept in a child process; each call waits for the child's answer."""

    def __init__(
        self,
        child: Executor,
        positions: NDArray[np.float32],
        near: NDArray[np.int32],
        far: NDArray[np.float32],
        state: dict[str, Any],
    ) -> None:
        self.child = child
        child.submit(_begin_in_child, positions, near, far, state).result()

    def run(self, first: int, count: int) -> None:
        self.child.submit(_run_in_child, first, count).result()

    def result(self) -> NDArray[np.float32]:
        positions: NDArray[np.float32] = self.child.submit(_positions_in_child).result()
        return positions


_IN_CHILD: list[_Layout] = []  # the child's one layout, between the parent's calls


def ready() -> None:
    """Sent first to a fresh child (child_process.work_child): it imports this module, and numpy."""


def _begin_in_child(
    positions: NDArray[np.float32], near: NDArray[np.int32], far: NDArray[np.float32], state: dict[str, Any]
) -> None:
    _IN_CHILD[:] = [_Layout(positions, near, far, state)]


def _run_in_child(first: int, count: int) -> None:
    _IN_CHILD[0].run(first, count)


def _positions_in_child() -> NDArray[np.float32]:
    return _IN_CHILD.pop().result()


def _fuzzy_edges(
    indices: NDArray[np.integer], distances: NDArray[np.floating]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]:
    """Directed edges (both ways) with UMAP's symmetrised memberships w = a + b − a·b.

    Each row's memberships exp(−(d − ρ)/σ) sum to log2(k): ρ is the distance to the nearest
    neighbour, σ found by bisection for all rows at once.
    """
    n, k = indices.shape
    d = distances.astype(np.float64)
    rho = d[:, :1]
    excess = np.maximum(d - rho, 0.0)
    target = np.log2(k)
    lo, hi = np.zeros((n, 1)), np.full((n, 1), np.inf)
    sigma = np.ones((n, 1))
    for _ in range(_BISECTION_STEPS):
        too_wide = np.exp(-excess / sigma).sum(axis=1, keepdims=True) > target
        hi = np.where(too_wide, sigma, hi)
        lo = np.where(too_wide, lo, sigma)
        sigma = np.where(np.isinf(hi), sigma * 2, (lo + hi) / 2)
    memberships = np.exp(-excess / np.maximum(sigma, 1e-12))
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    cols = indices.ravel().astype(np.int64)
    both_rows, both_cols = np.concatenate([rows, cols]), np.concatenate([cols, rows])
    # 1 − Π(1 − w) over the (at most two) directions of each pair: the probabilistic "or".
    log_miss = np.log1p(-np.minimum(memberships.ravel(), 1.0 - 1e-9))
    keys, inverse = np.unique(both_rows * n + both_cols, return_inverse=True)
    united = -np.expm1(np.bincount(inverse, weights=np.concatenate([log_miss, log_miss])))
    return keys // n, keys % n, (united / united.max()).astype(np.float32)


def _pca_init(vectors: NDArray[np.floating], rng: np.random.Generator) -> NDArray[np.float32]:
    """The two principal directions, from the d×d covariance summed a chunk of rows at a time.

    Compact vectors stay memory-mapped: no float32 copy of them all, no centred copy. Not the
    compact projection itself: that one is uncentred and re-normalised rows would all lie on a
    circle in two dimensions. A little noise separates identical vectors, which would never part.
    """
    n, dim = vectors.shape
    total = np.zeros(dim)
    moment = np.zeros((dim, dim))
    for start in range(0, n, _INIT_CHUNK):
        block = np.asarray(vectors[start : start + _INIT_CHUNK], dtype=np.float64)
        total += block.sum(axis=0)
        moment += block.T @ block
    mean = total / n
    _, eigenvectors = np.linalg.eigh(moment / n - np.outer(mean, mean))
    basis = eigenvectors[:, ::-1][:, :2].astype(np.float32)
    projected = np.empty((n, 2), dtype=np.float32)
    for start in range(0, n, _INIT_CHUNK):
        block = np.asarray(vectors[start : start + _INIT_CHUNK], dtype=np.float32)
        projected[start : start + _INIT_CHUNK] = block @ basis - mean.astype(np.float32) @ basis
    spread = float(np.abs(projected).max()) or 1.0
    projected *= _INIT_SPREAD / spread
    projected += rng.normal(scale=1e-4 * _INIT_SPREAD, size=projected.shape)
    return np.ascontiguousarray(projected, dtype=np.float32)


def _epoch(
    positions: NDArray[np.float32],
    heads: NDArray[np.int64],
    tails: NDArray[np.int64],
    weights: NDArray[np.float32],
    rate: float,
    rng: np.random.Generator,
) -> None:
    """One pass: each edge, taken with probability of its weight, pulls its head towards its tail
    and pushes it away from NEGATIVES random points; the summed moves are applied at once."""
    n = len(positions)
    taken = rng.random(len(weights), dtype=np.float32) < weights
    pulled = heads[taken]
    diff = positions[pulled] - positions[tails[taken]]
    d2 = np.einsum("ij,ij->i", diff, diff)
    d2b = np.power(d2, _B, dtype=np.float32)
    pull = np.where(d2 > 0, -2 * _A * _B * d2b / np.maximum(d2, 1e-12) / (1 + _A * d2b), 0)
    pushed = np.repeat(pulled, NEGATIVES)
    others = rng.integers(0, n, len(pushed))
    diff_neg = positions[pushed] - positions[others]
    d2 = np.einsum("ij,ij->i", diff_neg, diff_neg)
    push = np.where(others != pushed, 2 * _B / ((0.001 + d2) * (1 + _A * np.power(d2, _B))), 0)
    moved = np.concatenate([pulled, pushed])
    step = np.clip(np.concatenate([pull[:, None] * diff, push[:, None] * diff_neg]), -_MAX_STEP, _MAX_STEP)
    for axis in range(2):
        positions[:, axis] += rate * np.bincount(moved, weights=step[:, axis], minlength=n).astype(np.float32)


def _unit_square(positions: NDArray[np.float32]) -> NDArray[np.float32]:
    """One scale for both axes (the map keeps its shape), centred, into [0, 1]²."""
    low, high = positions.min(axis=0), positions.max(axis=0)
    extent = float((high - low).max())
    if extent == 0:
        return np.full(positions.shape, 0.5, dtype=np.float32)
    scaled: NDArray[np.float32] = np.clip((positions - (low + high) / 2) / extent + 0.5, 0.0, 1.0)
    return scaled.astype(np.float32)
