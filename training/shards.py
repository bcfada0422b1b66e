"""Reading what `sorter-train curate` wrote: manifest.json plus {train,val,test}-NNNNN.npz shards.

Labels, sources and embeddings are small and loaded whole; the 224-px pixels (150 KB an image)
are only read when something needs them (degraded views, fine-tuning, probes), one shard at a
time, so head training on the frozen embedder never touches them. Every shard is checked against
the sha256 the manifest lists: a run must never mix shards from two curations.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sorter_app.core.hashing import file_sha256

from .errors import TrainingError
from .labels import ROOMS, SCENES

SPLITS = ("train", "val", "test")
_META_KEYS = ("embedding", "scene", "room", "source", "content_hash", "path")


@dataclass(frozen=True)
class Shard:
    file: str
    split: str
    count: int
    sha256: str


@dataclass(frozen=True)
class CuratedSplit:
    """One split's labels and embeddings, in shard order; `index` locates each row's pixels."""

    embedding: NDArray[np.float32]
    scene: NDArray[np.int64]
    room: NDArray[np.int64]
    source: NDArray[np.str_]
    content_hash: NDArray[np.str_]
    path: NDArray[np.str_]
    index: NDArray[np.int64]  # row number within the whole split, for `CuratedData.pixels`

    def __len__(self) -> int:
        return int(self.scene.shape[0])

    def select(self, mask: NDArray[np.bool_]) -> CuratedSplit:
        return CuratedSplit(
            embedding=self.embedding[mask],
            scene=self.scene[mask],
            room=self.room[mask],
            source=self.source[mask],
            content_hash=self.content_hash[mask],
            path=self.path[mask],
            index=self.index[mask],
        )

    def without_sources(self, sources: Sequence[str]) -> CuratedSplit:
        return self.select(~np.isin(self.source, list(sources)))

    def only_sources(self, sources: Sequence[str]) -> CuratedSplit:
        return self.select(np.isin(self.source, list(sources)))

    @staticmethod
    def concat(parts: Sequence[CuratedSplit]) -> CuratedSplit:
        return CuratedSplit(
            embedding=np.concatenate([p.embedding for p in parts]),
            scene=np.concatenate([p.scene for p in parts]),
            room=np.concatenate([p.room for p in parts]),
            source=np.concatenate([p.source for p in parts]),
            content_hash=np.concatenate([p.content_hash for p in parts]),
            path=np.concatenate([p.path for p in parts]),
            index=np.concatenate([p.index for p in parts]),
        )


class CuratedData:
    """A curated folder; `load(split)` for labels + embeddings, `pixels(split, rows)` on demand."""

    def __init__(self, root: Path, *, verify: bool = True) -> None:
        self.root = root
        manifest_path = root / "manifest.json"
        try:
            raw = manifest_path.read_bytes()
            self.manifest: dict[str, Any] = json.loads(raw)
        except FileNotFoundError:
            raise TrainingError(f"no curated data at {root} (manifest.json missing)") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise TrainingError(f"cannot read {manifest_path}: {exc}") from exc
        self.manifest_sha256 = hashlib.sha256(raw).hexdigest()
        try:
            self.shards = [
                Shard(str(s["file"]), str(s["split"]), int(s["count"]), str(s["sha256"]))
                for s in self.manifest["shards"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise TrainingError(f"{manifest_path}: malformed shards list ({exc})") from exc
        labels = self.manifest.get("labels")
        if isinstance(labels, dict) and (
            list(labels.get("scene", SCENES)) != list(SCENES)
            or list(labels.get("room", ROOMS)) != list(ROOMS)
        ):
            raise TrainingError(f"{manifest_path}: label lists differ from training.labels; re-curate")
        self._verify = verify
        self._verified: set[str] = set()

    def split_shards(self, split: str) -> list[Shard]:
        return [s for s in self.shards if s.split == split]

    def embedder_sha256(self) -> str | None:
        """The embedder the shards' embeddings came from, however the manifest spells it."""
        embedder = self.manifest.get("embedder")
        if isinstance(embedder, dict) and embedder.get("sha256"):
            return str(embedder["sha256"])
        value = self.manifest.get("embedder_sha256")
        return str(value) if value else None

    def _open(self, shard: Shard) -> Any:
        path = self.root / shard.file
        if not path.is_file():
            raise TrainingError(f"shard missing: {path}")
        if self._verify and shard.file not in self._verified:
            if file_sha256(path) != shard.sha256:
                raise TrainingError(f"shard {path} does not match the manifest's sha256")
            self._verified.add(shard.file)
        return np.load(path, allow_pickle=False)

    def load(self, split: str) -> CuratedSplit:
        """Labels and embeddings of every shard of `split` (no pixels)."""
        parts: list[CuratedSplit] = []
        offset = 0
        for shard in self.split_shards(split):
            with self._open(shard) as npz:
                missing = [k for k in (*_META_KEYS, "pixels") if k not in npz.files]
                if missing:
                    raise TrainingError(f"shard {shard.file} lacks {', '.join(missing)}")
                part = CuratedSplit(
                    embedding=np.asarray(npz["embedding"], dtype=np.float32),
                    scene=np.asarray(npz["scene"], dtype=np.int64),
                    room=np.asarray(npz["room"], dtype=np.int64),
                    source=np.asarray(npz["source"]).astype(str),
                    content_hash=np.asarray(npz["content_hash"]).astype(str),
                    path=np.asarray(npz["path"]).astype(str),
                    index=np.arange(offset, offset + shard.count, dtype=np.int64),
                )
            if len(part) != shard.count:
                raise TrainingError(
                    f"shard {shard.file} holds {len(part)} images, manifest says {shard.count}"
                )
            parts.append(part)
            offset += shard.count
        if not parts:
            raise TrainingError(f"no {split} shards in {self.root / 'manifest.json'}")
        return CuratedSplit.concat(parts)

    def label_sets(self) -> dict[str, list[str]]:
        """The label sets the curated inputs carried (`set:NAME` columns), each with its labels."""
        sets = self.manifest.get("label_sets") or {}
        return {str(name): [str(label) for label in labels] for name, labels in sets.items()}

    def set_labels(self, split: str) -> NDArray[np.int64]:
        """(rows of `split` in `load` order, label sets): label indices, -1 where none was given."""
        parts = []
        for shard in self.split_shards(split):
            with self._open(shard) as npz:
                if "label_sets" in npz.files:
                    parts.append(np.asarray(npz["label_sets"], dtype=np.int64).reshape(shard.count, -1))
                else:  # curated before label sets existed
                    parts.append(np.full((shard.count, 0), -1, dtype=np.int64))
        if not parts:
            raise TrainingError(f"no {split} shards in {self.root / 'manifest.json'}")
        return np.concatenate(parts)

    def iter_pixels(
        self, split: str, rows: NDArray[np.int64], chunk: int = 256
    ) -> Iterator[tuple[NDArray[np.int64], NDArray[np.uint8]]]:
        """(positions in `rows`, pixels) in pieces of ≤ `chunk`, reading each shard once.

        `rows` are `CuratedSplit.index` values; pieces come in shard order, so callers put results
        back by position.
        """
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        offset = 0
        for shard in self.split_shards(split):
            lo = int(np.searchsorted(sorted_rows, offset))
            hi = int(np.searchsorted(sorted_rows, offset + shard.count))
            if hi > lo:
                with self._open(shard) as npz:
                    pixels = npz["pixels"]
                    for start in range(lo, hi, chunk):
                        stop = min(start + chunk, hi)
                        local = sorted_rows[start:stop] - offset
                        yield order[start:stop], np.ascontiguousarray(pixels[local])
            offset += shard.count

    def pixels(self, split: str, rows: NDArray[np.int64]) -> NDArray[np.uint8]:
        """All pixels of `rows`, in that order: for fine-tuning, which samples at random."""
        size = 0
        out: NDArray[np.uint8] | None = None
        for positions, pixels in self.iter_pixels(split, rows):
            if out is None:
                size = pixels.shape[1]
                out = np.empty((len(rows), size, size, 3), dtype=np.uint8)
            out[positions] = pixels
        if out is None:
            return np.empty((0, 0, 0, 3), dtype=np.uint8)
        return out
