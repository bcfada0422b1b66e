"""Steps 5–6 of `curate`: the split summary and the output shards, one engine task per shard.

The driver decides every shard's rows and labels (a seeded order per split); a task copies the
rows' pixels and embeddings out of the work store's memory-mapped files and writes the shard
atomically. At most one shard (~150 MB at 1,000 images) is in a task's memory at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..labels import room_index, scene_index
from .engines import Engine
from .inputs import Item
from .run_data import RunData
from .shards import fixed_width, shard_name, write_shard
from .split import SPLITS, shard_order
from .work import WorkStore


def label_set_vocabulary(items: Sequence[Item]) -> dict[str, list[str]]:
    """Every label set the inputs carry, with its labels, sorted: what the shards' columns mean."""
    found: dict[str, set[str]] = {}
    for item in items:
        for name, label in item.sets.items():
            found.setdefault(name, set()).add(label)
    return {name: sorted(found[name]) for name in sorted(found)}


def label_set_rows(chunk: Sequence[Item], vocabulary: dict[str, list[str]]) -> NDArray[np.int16]:
    """(rows, sets): each item's label index per set of `vocabulary`, -1 where it has none."""
    out = np.full((len(chunk), len(vocabulary)), -1, dtype=np.int16)
    for s, (name, labels) in enumerate(vocabulary.items()):
        index = {label: i for i, label in enumerate(labels)}
        for r, item in enumerate(chunk):
            if name in item.sets:
                out[r, s] = index[item.sets[name]]
    return out


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


@dataclass(frozen=True)
class ShardWrite:
    target: Path
    work: Path
    keys: tuple[str, ...]  # the work shards the rows come from
    shard: NDArray[np.int32]  # per row: index into keys
    row: NDArray[np.int32]
    labels: dict[str, NDArray[Any]]  # scene, room, source, content_hash, path, label_sets


def write_output_shard(task: ShardWrite) -> str:
    """Gather the rows from the work store and write the shard; returns its sha256."""
    store = WorkStore(task.work)
    pixels: NDArray[np.uint8] | None = None
    embeddings: NDArray[np.float32] | None = None
    for s, key in enumerate(task.keys):
        picked = np.flatnonzero(task.shard == s)
        if not len(picked):
            continue
        source_pixels = store.mapped(key, "pixels.npy")
        source_vectors = store.mapped(key, "embedding.npy")
        if pixels is None or embeddings is None:
            pixels = np.zeros((len(task.row), *source_pixels.shape[1:]), np.uint8)
            embeddings = np.zeros((len(task.row), source_vectors.shape[1]), np.float32)
        pixels[picked] = source_pixels[task.row[picked]]
        embeddings[picked] = source_vectors[task.row[picked]]
    assert pixels is not None and embeddings is not None
    return write_shard(task.target, {"pixels": pixels, "embedding": embeddings, **task.labels})


def write_split_shards(
    out: Path,
    items: Sequence[Item],
    data: RunData,
    split_of: dict[int, str],
    engine: Engine,
    *,
    seed: int,
    shard_size: int,
) -> list[dict[str, Any]]:
    """Write `{split}-{i:05d}.npz` for every split; returns one record per shard, in write order."""
    kept = sorted(split_of)
    source_width = max([len(items[i].source) for i in kept] + [1])
    path_width = max([len(items[i].path) for i in kept] + [1])
    vocabulary = label_set_vocabulary(items)
    tasks: list[ShardWrite] = []
    records: list[dict[str, Any]] = []
    for split in SPLITS:
        units = sorted(i for i in kept if split_of[i] == split)
        order = shard_order(units, [data.hashes[i] for i in units], seed=seed, split=split)
        for number, start in enumerate(range(0, len(order), shard_size)):
            rows = np.asarray(order[start : start + shard_size], dtype=np.int64)
            chunk = [items[i] for i in rows]
            used = np.unique(data.shard_of[rows])
            name = shard_name(split, number)
            tasks.append(
                ShardWrite(
                    target=out / name,
                    work=data.work,
                    keys=tuple(data.keys[s] for s in used.tolist()),
                    shard=np.searchsorted(used, data.shard_of[rows]).astype(np.int32),
                    row=data.row_of[rows],
                    labels={
                        "scene": np.array([scene_index(it.scene) for it in chunk], dtype=np.int8),
                        "room": np.array([room_index(it.room) for it in chunk], dtype=np.int8),
                        "source": fixed_width([it.source for it in chunk], source_width),
                        "content_hash": fixed_width([data.hashes[i] for i in rows], 32),
                        "path": fixed_width([it.path for it in chunk], path_width),
                        "label_sets": label_set_rows(chunk, vocabulary),
                    },
                )
            )
            records.append({"file": name, "split": split, "count": len(rows)})
    digests = engine.map(write_output_shard, tasks)
    return [{**record, "sha256": digest} for record, digest in zip(records, digests, strict=True)]


def _sorted_counts(values: Any) -> dict[str, int]:
    counter: Counter[str] = Counter(values)
    return dict(sorted(counter.items()))
