"""What the driver knows of every image after the model stage: small facts, never pixels or vectors.

Read back from the shards' `meta.npz` files (whoever wrote them, in this run or an earlier one);
vectors and layouts stay in the work store and are reached through `rows()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .rows import Rows
from .work import InputShard, WorkStore


@dataclass
class RunData:
    reasons: list[str | None]  # None: usable
    hashes: list[str]
    widths: NDArray[np.int64]
    heights: NDArray[np.int64]
    file_sizes: NDArray[np.int64]
    noise: NDArray[np.float64]  # p(not a photo); NaN where not scored
    shard_of: NDArray[np.int32]  # index into `keys`
    row_of: NDArray[np.int32]
    keys: list[str]
    work: Path
    teacher: dict[str, NDArray[np.float32]] = field(default_factory=dict)  # head → [N, C]

    @property
    def pixels(self) -> NDArray[np.int64]:
        return self.widths * self.heights

    def rows(self, gids: Sequence[int] | NDArray[np.int64]) -> Rows:
        """Where the vectors and layouts of `gids` are (nothing is loaded here)."""
        at = np.asarray(sorted(gids), dtype=np.int64)
        return Rows(at, self.shard_of[at], self.row_of[at], tuple(self.keys), self.work)


def load_run_data(store: WorkStore, shards: Sequence[InputShard], keys: Sequence[str]) -> RunData:
    n = sum(s.count for s in shards)
    data = RunData(
        reasons=[None] * n,
        hashes=[""] * n,
        widths=np.zeros(n, np.int64),
        heights=np.zeros(n, np.int64),
        file_sizes=np.zeros(n, np.int64),
        noise=np.full(n, np.nan),
        shard_of=np.zeros(n, np.int32),
        row_of=np.zeros(n, np.int32),
        keys=list(keys),
        work=store.root,
    )
    for shard, key in zip(shards, keys, strict=True):
        meta = store.read_meta(key)
        span = slice(shard.first, shard.first + shard.count)
        data.reasons[span] = [r or None for r in meta["reason"].tolist()]
        data.hashes[span] = meta["content_hash"].tolist()
        data.widths[span], data.heights[span] = meta["width"], meta["height"]
        data.file_sizes[span], data.noise[span] = meta["file_size"], meta["noise"]
        data.shard_of[span] = shard.index
        data.row_of[span] = np.arange(shard.count, dtype=np.int32)
        for name in meta:
            if name.startswith("teacher_"):
                head = name.removeprefix("teacher_")
                if head not in data.teacher:
                    data.teacher[head] = np.full((n, meta[name].shape[1]), np.nan, np.float32)
                data.teacher[head][span] = meta[name]
    return data
