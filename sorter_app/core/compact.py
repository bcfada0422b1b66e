"""Compact vectors: what search and structure run on, so that a million photos fit on a laptop.

A 1280-d float32 embedding is 5 KB; a million of them are 5 GB before any index. Projected onto
the top COMPACT_DIM principal directions of the folder's own embeddings and stored as float16,
each is 512 bytes, memory-mapped from a file; the Annoy index takes only the first SEARCH_DIM of
them. The projection is *uncentred* (eigenvectors of XᵀX, not of the covariance): the common
direction all embeddings share stays in, so compact cosines rank neighbours as the full ones do
(measured on the 16,758 shared photos: re-scoring 48 compact candidates finds 99.5 % of the
exact top 24; the centred projection of the same size, 91 %).

Because the basis is orthonormal and embeddings are unit length, a compact vector c of a full
vector a also bounds what it lost: a = Bc + r with ‖r‖² = 1 − ‖c‖². For two images
⟨a, b⟩ = ⟨c_a, c_b⟩ + ⟨r_a, r_b⟩ ≤ ⟨c_a, c_b⟩ + ‖r_a‖‖r_b‖, so `upper_bounds` can rule pairs out
of an exact test (duplicates, seed groups) without reading their full vectors, and never wrongly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

COMPACT_DIM = 256
SEARCH_DIM = 128  # what Annoy indexes: 650 MB for a million images instead of 1.3 GB at 256-d
FIT_SAMPLE = 50_000
# float16 rounding of the compact coordinates moves a dot product by < 1e-3; bounds add this.
BOUND_SLACK = 2e-3
_CHUNK = 8192

VectorReader = Callable[[Sequence[str]], NDArray[np.float32]]  # content hashes -> full vectors


@dataclass(frozen=True)
class Projection:
    """An orthonormal (full dim × compact dim) basis; the identity when vectors are small already."""

    basis: NDArray[np.float32]

    @property
    def full_dim(self) -> int:
        return int(self.basis.shape[0])

    @property
    def dim(self) -> int:
        return int(self.basis.shape[1])

    @classmethod
    def fit(cls, sample: NDArray[np.float32], dim: int = COMPACT_DIM) -> Projection:
        """The top `dim` eigenvectors of sampleᵀ·sample (d×d: no sample-sized SVD workspace).

        A sample smaller than the full dimension spans fewer directions: the basis is then those
        it spans (from the small n×n Gram matrix), and the compact vectors of the sample are exact.
        """
        full_dim = int(sample.shape[1])
        if full_dim <= dim:
            return cls(np.eye(full_dim, dtype=np.float32))
        if len(sample) < full_dim:
            rows = np.asarray(sample, dtype=np.float64)
            values, vectors = np.linalg.eigh(rows @ rows.T)
            spanned = np.flatnonzero(values > 1e-9 * max(float(values.max()), 1e-30))[::-1][:dim]
            basis = rows.T @ vectors[:, spanned] / np.sqrt(values[spanned])
        else:
            moment = np.zeros((full_dim, full_dim), dtype=np.float64)
            for start in range(0, len(sample), _CHUNK):
                block = np.asarray(sample[start : start + _CHUNK], dtype=np.float64)
                moment += block.T @ block
            basis = np.linalg.eigh(moment)[1][:, ::-1][:, :dim]
        dim = basis.shape[1]
        # eigh's signs are arbitrary; fix them so that the same sample always gives the same basis.
        signs = np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(dim)])
        return cls(np.ascontiguousarray(basis * signs, dtype=np.float32))

    def project(self, vectors: NDArray[np.float32]) -> NDArray[np.float16]:
        out = np.empty((len(vectors), self.dim), dtype=np.float16)
        for start in range(0, len(vectors), _CHUNK):
            out[start : start + _CHUNK] = np.asarray(vectors[start : start + _CHUNK], np.float32) @ self.basis
        return out


def fit_projection(keys: Sequence[str], read: VectorReader, dim: int = COMPACT_DIM) -> Projection:
    """Fit on an evenly spaced sample of at most FIT_SAMPLE of the folder's full vectors."""
    step = max(1, len(keys) // FIT_SAMPLE)
    sample_keys = list(keys[::step][:FIT_SAMPLE])
    return Projection.fit(read(sample_keys), dim)


def unit_rows(compact: NDArray[np.floating], dims: int | None = None) -> NDArray[np.float32]:
    """float32 copies of (the first `dims` coordinates of) compact rows, scaled to unit length."""
    rows = np.asarray(compact[:, :dims] if dims else compact, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit: NDArray[np.float32] = rows / np.maximum(norms, 1e-12)
    return unit


def residuals(compact: NDArray[np.floating]) -> NDArray[np.float32]:
    """‖a − Bc‖ for unit-length a: what the projection dropped from each vector."""
    c = np.asarray(compact, dtype=np.float32)
    lost: NDArray[np.float32] = np.sqrt(np.maximum(0.0, 1.0 - np.einsum("ij,ij->i", c, c)), dtype=np.float32)
    return lost


def upper_bounds(
    compact: NDArray[np.floating], rows: NDArray[np.integer], cols: NDArray[np.integer]
) -> NDArray[np.float32]:
    """For each pair (rows[i], cols[i]): a value the full cosine cannot exceed (see module doc)."""
    total = np.empty(len(rows), dtype=np.float32)
    for start, stop in _spans(len(rows)):
        a = np.asarray(compact[rows[start:stop]], dtype=np.float32)
        b = np.asarray(compact[cols[start:stop]], dtype=np.float32)
        dots = np.einsum("ij,ij->i", a, b)
        total[start:stop] = dots + residuals(a) * residuals(b) + BOUND_SLACK
    return total


def bound_matrix(compact: NDArray[np.floating], targets: NDArray[np.floating]) -> NDArray[np.float32]:
    """upper_bounds for every (row of `compact`, row of `targets`) pair, as a matrix."""
    a, b = np.asarray(compact, dtype=np.float32), np.asarray(targets, dtype=np.float32)
    bounds: NDArray[np.float32] = a @ b.T + np.outer(residuals(a), residuals(b)) + BOUND_SLACK
    return bounds


def _spans(n: int, size: int = 65_536) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(start + size, n)
