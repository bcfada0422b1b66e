"""Vectors and layout signatures of some images, by global image id, loaded only where needed.

The dedupe never gathers every embedding in one place: a task gets a `Rows` naming where its
members' rows are (shard files in the work store, which are memory-mapped and read row by row),
plus any rows carried along in memory (injected copies, small test inputs), and loads them itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from sorter_app.core.layout import LENGTH

from .work import WorkStore

LAYOUT_BYTES = LENGTH  # sorter_app.core.layout's signature, version 2


def _empty_vectors(dim: int = 0) -> NDArray[np.float32]:
    return np.zeros((0, dim), dtype=np.float32)


@dataclass(frozen=True)
class Rows:
    """Row k: image `gids[k]` (sorted) is row `row[k]` of work shard `keys[shard[k]]`, or, where
    `shard[k]` is −1, row `row[k]` of the carried `vectors` and `layouts`."""

    gids: NDArray[np.int64]
    shard: NDArray[np.int32]
    row: NDArray[np.int32]
    keys: tuple[str, ...] = ()
    work: Path | None = None
    vectors: NDArray[np.float32] = field(default_factory=_empty_vectors)
    layouts: NDArray[np.uint8] = field(default_factory=lambda: np.zeros((0, LAYOUT_BYTES), np.uint8))

    @classmethod
    def carried(
        cls, gids: NDArray[np.int64], vectors: NDArray[np.float32], layouts: NDArray[np.uint8]
    ) -> Rows:
        order = np.argsort(gids, kind="stable")
        return cls(
            gids=np.asarray(gids, np.int64)[order],
            shard=np.full(len(gids), -1, np.int32),
            row=np.arange(len(gids), dtype=np.int32)[order],
            vectors=np.ascontiguousarray(vectors, np.float32),
            layouts=np.ascontiguousarray(layouts, np.uint8),
        )

    def subset(self, gids: NDArray[np.int64]) -> Rows:
        """Only `gids` (a subset of ours): what one task needs to be sent, carried rows included."""
        wanted = np.unique(np.asarray(gids, np.int64))
        at = np.searchsorted(self.gids, wanted)
        if len(wanted) and (at.max() >= len(self.gids) or not np.array_equal(self.gids[at], wanted)):
            raise KeyError("asked for rows that are not here")
        shard, row = self.shard[at], self.row[at]
        carried = shard < 0
        used = np.unique(shard[~carried])
        new_shard = np.full(len(wanted), -1, np.int32)
        new_shard[~carried] = np.searchsorted(used, shard[~carried]).astype(np.int32)
        new_row = row.copy()
        new_row[carried] = np.arange(int(carried.sum()), dtype=np.int32)
        return Rows(
            gids=wanted,
            shard=new_shard,
            row=new_row,
            keys=tuple(self.keys[s] for s in used.tolist()),
            work=self.work,
            vectors=self.vectors[row[carried]] if carried.any() else self.vectors[:0],
            layouts=self.layouts[row[carried]] if carried.any() else self.layouts[:0],
        )

    def with_carried(self, other: Rows) -> Rows:
        """These rows plus `other`'s carried ones (gids must not overlap)."""
        if (other.shard >= 0).any():
            raise ValueError("only carried rows can be added")
        if not len(other.gids):
            return self
        gids = np.concatenate([self.gids, other.gids])
        order = np.argsort(gids, kind="stable")
        shard = np.concatenate([self.shard, other.shard])[order]
        row = np.concatenate([self.row, other.row + len(self.vectors)])[order]
        dim = max(self.vectors.shape[1], other.vectors.shape[1])
        vectors = np.concatenate([self.vectors.reshape(-1, dim), other.vectors.reshape(-1, dim)])
        return Rows(
            gids[order],
            shard,
            row,
            self.keys,
            self.work,
            vectors,
            np.concatenate([self.layouts, other.layouts]),
        )

    def storage_order(self, gids: NDArray[np.int64]) -> NDArray[np.int64]:
        """`gids` ordered as they lie in the work shards (carried rows first): consecutive runs of
        them then read few shards, however scattered the ids are."""
        at = np.searchsorted(self.gids, gids)
        return np.asarray(gids, np.int64)[np.lexsort((self.row[at], self.shard[at]))]

    def load(self, gids: NDArray[np.int64]) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
        """Vectors [m, D] and layouts [m, LAYOUT_BYTES] of `gids`, in that order."""
        at = np.searchsorted(self.gids, gids)
        shard, row = self.shard[at], self.row[at]
        vectors: NDArray[np.float32] | None = None
        layouts = np.zeros((len(gids), LAYOUT_BYTES), np.uint8)
        carried = np.flatnonzero(shard < 0)
        if len(carried):
            vectors = np.zeros((len(gids), self.vectors.shape[1]), np.float32)
            vectors[carried] = self.vectors[row[carried]]
            layouts[carried] = self.layouts[row[carried]]
        if (shard >= 0).any():
            assert self.work is not None
            store = WorkStore(self.work)
            stored = np.flatnonzero(shard >= 0)
            by_shard = stored[np.argsort(shard[stored], kind="stable")]
            starts = np.flatnonzero(np.diff(shard[by_shard], prepend=-1))
            for picked in np.split(by_shard, starts[1:]):  # each shard opened once, its rows in order
                key = self.keys[int(shard[picked[0]])]
                shard_vectors = store.mapped(key, "embedding.npy")
                if vectors is None:
                    vectors = np.zeros((len(gids), shard_vectors.shape[1]), np.float32)
                vectors[picked] = shard_vectors[row[picked]]
                layouts[picked] = store.mapped(key, "layout.npy")[row[picked]]
        if vectors is None:
            vectors = np.zeros((len(gids), self.vectors.shape[1] if self.vectors.size else 0), np.float32)
        return vectors, layouts
