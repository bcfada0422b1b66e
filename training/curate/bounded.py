"""Every pair of vectors over a cosine floor, found exactly at a fifth of the cost of full products.

For unit vectors x, y and an orthonormal basis V of d directions: x·y = (Vᵀx)·(Vᵀy) + r(x)·r(y),
where r is the part V leaves out, and r(x)·r(y) ≤ |r(x)| |r(y)| (Cauchy–Schwarz). So the reduced
vectors [Vᵀx, |r(x)|] have a dot product that is an *upper bound* on the cosine, at d + 1
multiplications instead of 1,280. A pair whose bound is under the floor cannot reach it; the few
over it are re-scored with the full vectors. Nothing over the floor is missed (`MARGIN` covers
float32 rounding in the bound), whatever the basis: V only decides how tight the bound is, and
the top principal directions of a sample of the data make it tight (`Projection.fit`).

Both the dedupe cells (cells.py) and the split audit (audit.py) search this way, so a pair is
judged on the same similarity (`pair_similarity`, full vectors, float64 sums) wherever it is met.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

REDUCED_DIMS = 256  # benchmark (50,000): 1 bound in 8,200 passes 0.85 in the audit, 1 in 180 in cells
MARGIN = 1e-3  # bounds are float32 sums of ≤ 257 products: their error is far below this
FIT_MIN_SAMPLE = 4 * REDUCED_DIMS
QUERY_BLOCK = 2048
BASE_BLOCK = 8192  # 2,048 × 8,192 bounds = 64 MB at a time
RESCORE_PAIRS = 8192  # candidate pairs re-scored at a time: 2 × 8,192 × 1,280 float64 = 168 MB


@dataclass(frozen=True)
class Projection:
    basis: NDArray[np.float64] | None  # [D, d], orthonormal columns; None: no reduction (exact cosines)

    @classmethod
    def fit(cls, sample: NDArray[np.float32], dims: int = REDUCED_DIMS) -> Projection:
        """The `dims` top principal directions (uncentred) of a sample: the tightest bound on average.

        A small sample (a small run) gets no reduction: full products cost nothing there.
        """
        if len(sample) < FIT_MIN_SAMPLE or dims >= sample.shape[1]:
            return cls(None)
        # The Gram matrix a block at a time: a float64 copy of the whole sample (65,536 vectors in
        # the dedupe of 1,000,000 images) was the driver's largest allocation, 671 MB.
        gram = np.zeros((sample.shape[1], sample.shape[1]), np.float64)
        for start in range(0, len(sample), QUERY_BLOCK):
            block = np.asarray(sample[start : start + QUERY_BLOCK], np.float64)
            gram += block.T @ block
        _, vectors = np.linalg.eigh(gram)
        return cls(np.ascontiguousarray(vectors[:, ::-1][:, :dims]))

    @property
    def dims(self) -> int | None:
        return None if self.basis is None else self.basis.shape[1]

    def reduce(self, vectors: NDArray[np.float32]) -> NDArray[np.float32]:
        """[Vᵀx, |r(x)|] per row: the bound of two rows is their dot product."""
        if self.basis is None:
            return np.hstack([vectors, np.zeros((len(vectors), 1), np.float32)]).astype(np.float32)
        out = np.empty((len(vectors), self.basis.shape[1] + 1), np.float32)
        for start in range(0, len(vectors), QUERY_BLOCK):  # float64 in blocks: 20 MB at a time
            x = np.asarray(vectors[start : start + QUERY_BLOCK], np.float64)
            projected = x @ self.basis
            rest = np.sqrt(np.maximum((x * x).sum(axis=1) - (projected * projected).sum(axis=1), 0.0))
            out[start : start + QUERY_BLOCK, :-1] = projected
            out[start : start + QUERY_BLOCK, -1] = rest
        return out


def pair_similarity(a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float64]:
    """Row-wise cosines of unit vectors, summed in float64: the same value for a pair wherever it is
    computed (which block, task or engine met it)."""
    sims: NDArray[np.float64] = np.einsum("ij,ij->i", np.asarray(a, np.float64), np.asarray(b, np.float64))
    return sims


def _rescored(
    queries: NDArray[np.float32], base: NDArray[np.float32], rows: NDArray[np.int64], cols: NDArray[np.int64]
) -> NDArray[np.float64]:
    """`pair_similarity` of the candidate pairs, `RESCORE_PAIRS` at a time: a block of near-identical
    images can pass its bound for most of its 16 M pairs, and gathering them all at once in float64
    took 7.6 GB in one worker at 250,000 benchmark images."""
    sims = np.empty(len(rows), np.float64)
    for start in range(0, len(rows), RESCORE_PAIRS):
        part = slice(start, start + RESCORE_PAIRS)
        sims[part] = pair_similarity(queries[rows[part]], base[cols[part]])
    return sims


@dataclass
class SearchCost:
    bounds: int = 0  # reduced dot products computed
    candidates: int = 0  # pairs whose bound reached the floor (re-scored with full vectors)

    def add(self, other: SearchCost) -> None:
        self.bounds += other.bounds
        self.candidates += other.candidates


def pairs_over(
    queries: NDArray[np.float32],
    query_reduced: NDArray[np.float32],
    base: NDArray[np.float32],
    base_reduced: NDArray[np.float32],
    floor: float,
    cost: SearchCost,
    *,
    same: bool = False,
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]]:
    """(query rows, base rows, cosines) of every pair with cosine ≥ `floor`, block by block.

    `same`: queries and base are the same rows; each unordered pair once (query row < base row).
    """
    for q0 in range(0, len(queries), QUERY_BLOCK):
        q1 = min(q0 + QUERY_BLOCK, len(queries))
        start = q0 if same else 0
        for b0 in range(start, len(base), BASE_BLOCK):
            b1 = min(b0 + BASE_BLOCK, len(base))
            bounds = query_reduced[q0:q1] @ base_reduced[b0:b1].T
            cost.bounds += bounds.size
            flat = np.flatnonzero(bounds.ravel() >= floor - MARGIN)
            rows, cols = np.divmod(flat, b1 - b0)
            rows, cols = rows + q0, cols + b0
            if same:
                keep = cols > rows
                rows, cols = rows[keep], cols[keep]
            cost.candidates += len(rows)
            if not len(rows):
                continue
            sims = _rescored(queries, base, rows, cols)
            hit = sims >= floor
            yield rows[hit], cols[hit], sims[hit]
