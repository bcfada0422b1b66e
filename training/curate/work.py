"""Input shards, the unit of work, and their intermediate results on disk: what makes a run resumable.

The inputs are cut into shards: `shard_size` consecutive rows of a manifest or images of a folder,
or one WebDataset `.tar` each. Each shard is processed once by the model stage (shard_worker.py)
and leaves, in `<out>/.curate-work/`, files named after the shard's key:

    KEY.meta.npz        per image: reason (''=usable), content hash, width, height, file size,
                        p(not a photo), teacher probabilities
    KEY.embedding.npy   float32 [n, D]      KEY.layout.npy  uint8 [n, 1040]
    KEY.pixels.npy      uint8 [n, S, S, 3] (the model input, copied into the output shards later)
    KEY.done.json       the completion record, written last

each written atomically. A shard counts as done only when its completion record and every file it
names exist, so a run killed at any moment leaves done shards and debris (temp files), never a
half-written shard that looks done. The key is a hash of everything the shard's results depend on
(the images' paths and files, the embedder, teacher, noise scorer and decode settings), so `curate`
on the same `--out` skips exactly the shards whose results are already there — whichever worker or
engine produced them — and a changed setting or input makes new keys rather than reusing stale work.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sorter_app.core.atomic import atomic_path, atomic_write_text, fsync_dir

from .inputs import Item

WORK_DIR = ".curate-work"
WORK_FORMAT = 1
FILES = ("meta.npz", "embedding.npy", "layout.npy", "pixels.npy")


@dataclass(frozen=True)
class InputShard:
    """Items `first` … `first + count - 1` of the run, all from one input."""

    index: int
    first: int
    count: int
    input: str  # the manifest, folder or tar they come from


def plan_shards(groups: Sequence[tuple[str, int, int]]) -> list[InputShard]:
    """Cut consecutive inputs — (name, number of items, items per shard) each — into shards.

    A shard never spans two inputs; a tar comes with its own length as the shard size.
    """
    shards: list[InputShard] = []
    first = 0
    for name, count, shard_size in groups:
        for start in range(0, count, shard_size):
            shards.append(InputShard(len(shards), first + start, min(shard_size, count - start), name))
        first += count
    return shards


def shard_key(fingerprint: str, items: Sequence[Item]) -> str:
    """What a shard's results depend on, hashed: its images and the settings of the model stage."""
    digest = hashlib.sha256(fingerprint.encode())
    for item in items:
        digest.update(f"\0{item.path}\0{item.file}\0{item.member or ''}".encode())
    return digest.hexdigest()[:24]


class WorkStore:
    """The `.curate-work` folder of one `--out`: where workers leave shard results for the driver."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str, name: str) -> Path:
        return self.root / f"{key}.{name}"

    def is_done(self, key: str) -> bool:
        return self.path(key, "done.json").is_file() and all(self.path(key, f).is_file() for f in FILES)

    def done_record(self, key: str) -> dict[str, Any]:
        return dict(json.loads(self.path(key, "done.json").read_text(encoding="utf-8")))

    def write_array(self, key: str, name: str, array: NDArray[Any]) -> None:
        with atomic_path(self.path(key, name)) as tmp, tmp.open("wb") as fh:
            np.lib.format.write_array(fh, np.ascontiguousarray(array), allow_pickle=False)

    def write_meta(self, key: str, arrays: dict[str, NDArray[Any]]) -> None:
        with atomic_path(self.path(key, "meta.npz")) as tmp, tmp.open("wb") as fh:
            np.savez(fh, allow_pickle=False, **arrays)

    def read_meta(self, key: str) -> dict[str, NDArray[Any]]:
        with np.load(self.path(key, "meta.npz"), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}

    def scratch(self, key: str, name: str) -> Path:
        """A temp path for a file too large to build in memory (pixels); `commit` makes it final."""
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root / f".{key}.{name}.{os.getpid()}.tmp"

    def commit(self, scratch: Path, key: str, name: str) -> None:
        with scratch.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(scratch, self.path(key, name))
        fsync_dir(self.root)

    def mapped(self, key: str, name: str) -> NDArray[Any]:
        """A read-only memory map of one of a shard's `.npy` files (rows are read on demand)."""
        mapped: NDArray[Any] = np.load(self.path(key, name), mmap_mode="r", allow_pickle=False)
        return mapped

    def mark_done(self, key: str, record: dict[str, Any]) -> None:
        record = {
            "format": WORK_FORMAT,
            **record,
            "worker": {"pid": os.getpid(), "host": socket.gethostname()},
        }
        atomic_write_text(self.path(key, "done.json"), json.dumps(record, indent=1) + "\n")

    def remove_except(self, keys: set[str]) -> None:
        """Delete every file here that does not belong to one of `keys` (old runs, temp debris)."""
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            if entry.name.split(".", 1)[0] not in keys:
                entry.unlink(missing_ok=True)
