"""Steps 5–6 of `curate`: the split summary and the shards, written split by split as they fill.

Each shard's pixels are copied from the decode pass's memory-mapped file, so at most one shard
(~150 MB at 1,000 images) is in memory at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..labels import room_index, scene_index
from .decode import Decoded
from .inputs import Item
from .progress import ProgressFn
from .shards import fixed_width, shard_name, write_shard
from .split import SPLITS, shard_order


def label_name(item: Item) -> str:
    """'indoor/kitchen', 'outdoor', 'indoor', or 'unknown': how counts by label are keyed."""
    return "/".join(p for p in (item.scene, item.room) if p) or "unknown"


def split_summary(items: Sequence[Item], split_of: dict[int, str]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for split in SPLITS:
        members = [i for i, s in split_of.items() if s == split]
        summary[split] = {
            "count": len(members),
            "by_source": _sorted_counts(items[i].source for i in members),
            "by_label": _sorted_counts(label_name(items[i]) for i in members),
        }
    return summary


def write_split_shards(
    out: Path,
    items: Sequence[Item],
    decoded: Decoded,
    split_of: dict[int, str],
    *,
    seed: int,
    shard_size: int,
    progress: ProgressFn | None = None,
) -> list[dict[str, Any]]:
    """Write `{split}-{i:05d}.npz` for every split; returns one record per shard, in write order."""
    if decoded.pixels is None:
        raise ValueError("shards need the decode pass's pixels")
    kept = sorted(split_of)
    source_width = max([len(items[i].source) for i in kept] + [1])
    path_width = max([len(items[i].path) for i in kept] + [1])
    records: list[dict[str, Any]] = []
    done = 0
    for split in SPLITS:
        units = sorted(i for i in kept if split_of[i] == split)
        order = shard_order(units, [decoded.hashes[i] for i in units], seed=seed, split=split)
        for number, start in enumerate(range(0, len(order), shard_size)):
            rows = np.asarray(order[start : start + shard_size], dtype=np.int64)
            chunk = [items[i] for i in rows]
            arrays: dict[str, NDArray[Any]] = {
                "pixels": np.asarray(decoded.pixels[rows], dtype=np.uint8),
                "embedding": np.asarray(decoded.embeddings[rows], dtype=np.float32),
                "scene": np.array([scene_index(it.scene) for it in chunk], dtype=np.int8),
                "room": np.array([room_index(it.room) for it in chunk], dtype=np.int8),
                "source": fixed_width([it.source for it in chunk], source_width),
                "content_hash": fixed_width([decoded.hashes[i] for i in rows], 32),
                "path": fixed_width([it.path for it in chunk], path_width),
            }
            name = shard_name(split, number)
            digest = write_shard(out / name, arrays)
            records.append({"file": name, "split": split, "count": len(rows), "sha256": digest})
            done += len(rows)
            if progress:
                progress(done, len(kept))
    return records


def _sorted_counts(values: Any) -> dict[str, int]:
    counter: Counter[str] = Counter(values)
    return dict(sorted(counter.items()))
