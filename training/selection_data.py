"""The rows model selection works on: feature caches joined, deduplicated, labelled per head.

Three heads, each with its own rows: `kind` (photo / graphic: every usable image), `scene`
(indoor / outdoor: photos with a scene label) and `room` (photos with a room label). A file that
appears twice (same content hash, e.g. in two sources) is kept once, so no held-out source can
meet its own images in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import TrainingError
from .feature_cache import FeatureCache
from .labels import ROOMS, SCENES

KINDS: tuple[str, ...] = ("photo", "graphic")
HEAD_LABELS: dict[str, tuple[str, ...]] = {"kind": KINDS, "scene": SCENES, "room": ROOMS}
HEADS = tuple(HEAD_LABELS)  # in dependency order: kind, then scene (photos), then room (indoor)


def _index(values: NDArray[np.str_], vocabulary: Sequence[str]) -> NDArray[np.int64]:
    lookup = {name: i for i, name in enumerate(vocabulary)}
    return np.array([lookup.get(str(v), -1) for v in values], dtype=np.int64)


@dataclass
class SelectionData:
    """Usable rows of one or more caches; `labels[head]` is −1 where the head has no label."""

    caches: list[FeatureCache]
    cache_of: NDArray[np.int64]  # which cache each row comes from
    row_of: NDArray[np.int64]  # the row within that cache
    source: NDArray[np.str_]
    content_hash: NDArray[np.str_]
    path: NDArray[np.str_]
    labels: dict[str, NDArray[np.int64]]
    setting: NDArray[np.str_]  # home / not_a_home where the manifest said so, else ""
    _embeddings: dict[str, NDArray[np.float32]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return int(self.source.shape[0])

    @property
    def labelled_photos(self) -> NDArray[np.bool_]:
        """Rows with a scene or a room label: what the tail is trained and scored on."""
        return np.asarray((self.labels["scene"] >= 0) | (self.labels["room"] >= 0))

    def sources_with(self, head: str) -> list[str]:
        return sorted(set(self.source[self.labels[head] >= 0].tolist()))

    def embeddings(self, view: str) -> NDArray[np.float32]:
        """[N, 1280] for every row (kept in memory: recipes ask for the same views again)."""
        if view not in self._embeddings:
            self._embeddings[view] = self._gather(lambda cache: cache.embeddings(view), np.float32)
        return self._embeddings[view]

    def activations(self, view: str, rows: NDArray[np.int64] | None = None) -> NDArray[np.float16]:
        array: NDArray[np.float16] = self._gather(lambda cache: cache.activations(view), np.float16, rows)
        return array

    def _gather(self, array_of: Any, dtype: Any, rows: NDArray[np.int64] | None = None) -> Any:
        wanted = np.arange(len(self)) if rows is None else rows
        first = array_of(self.caches[0])
        out = np.empty((len(wanted), *first.shape[1:]), dtype=dtype)
        for c, cache in enumerate(self.caches):
            mine = np.flatnonzero(self.cache_of[wanted] == c)
            if mine.size:
                source_rows = self.row_of[wanted[mine]]
                order = np.argsort(source_rows)  # memory maps read fastest in file order
                out[mine[order]] = array_of(cache)[source_rows[order]]
        return out


def load_selection_data(folders: Sequence[Path]) -> SelectionData:
    caches = [FeatureCache(folder) for folder in folders]
    parts: dict[str, list[Any]] = {
        k: [] for k in ("cache", "row", "source", "hash", "path", "kind", "scene", "room", "setting")
    }
    seen: set[str] = set()
    for c, cache in enumerate(caches):
        if not cache.complete:
            raise TrainingError(
                f"{cache.folder}: the feature cache is not finished (re-run `sorter-train features`)"
            )
        rows = cache.rows
        for i in range(len(rows)):
            digest = str(rows.content_hash[i])
            if rows.error[i] or not digest or digest in seen:
                continue
            seen.add(digest)
            for key, value in (
                ("cache", c),
                ("row", i),
                ("source", rows.source[i]),
                ("hash", digest),
                ("path", rows.path[i]),
                ("kind", rows.kind[i]),
                ("scene", rows.scene[i]),
                ("room", rows.room[i]),
                ("setting", rows.setting[i]),
            ):
                parts[key].append(value)
    kind = np.array(["graphic" if k == "non_photo" else "photo" for k in parts["kind"]])
    scene = np.where(kind == "photo", np.array(parts["scene"], dtype=str), "")
    room = np.where(kind == "photo", np.array(parts["room"], dtype=str), "")
    return SelectionData(
        caches=caches,
        cache_of=np.array(parts["cache"], dtype=np.int64),
        row_of=np.array(parts["row"], dtype=np.int64),
        source=np.array(parts["source"], dtype=str),
        content_hash=np.array(parts["hash"], dtype=str),
        path=np.array(parts["path"], dtype=str),
        labels={"kind": _index(kind, KINDS), "scene": _index(scene, SCENES), "room": _index(room, ROOMS)},
        setting=np.array(parts["setting"], dtype=str),
    )
