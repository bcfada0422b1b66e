"""Approximate nearest neighbours with Annoy, persisted so that opening a folder is instant.

An index is a pair of files: `<name>-<build>.ann` (Annoy's mmap-able trees) and `<name>.json`, the
manifest naming that .ann file and the content hash of each item. The manifest is written last and
atomically, so a crash mid-build leaves the previous index in force, never a torn one.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from annoy import AnnoyIndex
from numpy.typing import NDArray

from .atomic import atomic_path, atomic_write_text

METRIC: Literal["angular"] = "angular"
DEFAULT_TREES = 16


@dataclass(frozen=True)
class Manifest:
    ann_file: str
    dim: int
    n_trees: int
    keys: list[str]
    built_at: float


def cosine_from_angular(distance: float) -> float:
    """Annoy's angular distance is sqrt(2 - 2·cos) for any vectors; undo it."""
    return 1.0 - (distance * distance) / 2.0


class AnnoySearch:
    """A loaded, memory-mapped Annoy index and the content hash of each item."""

    def __init__(self, manifest: Manifest, index: AnnoyIndex) -> None:
        self.manifest = manifest
        self._index = index

    @property
    def keys(self) -> list[str]:
        return self.manifest.keys

    def query(self, vector: NDArray[np.float32], n: int, search_k: int = -1) -> list[tuple[str, float]]:
        ids, distances = self._index.get_nns_by_vector(
            vector.tolist(), n, search_k=search_k, include_distances=True
        )
        return [(self.manifest.keys[i], cosine_from_angular(d)) for i, d in zip(ids, distances, strict=True)]

    def unload(self) -> None:
        self._index.unload()


def build_annoy(
    directory: Path, name: str, keys: list[str], vectors: NDArray[np.float32], n_trees: int = DEFAULT_TREES
) -> Manifest:
    """Build and persist an index over `vectors` (row i belongs to `keys[i]`), replacing any old one."""
    if len(keys) != len(vectors):
        raise ValueError("one key per vector")
    dim = int(vectors.shape[1])
    index = AnnoyIndex(dim, METRIC)
    for i, row in enumerate(vectors):
        index.add_item(i, row.tolist())
    index.build(n_trees, n_jobs=-1)
    ann_file = f"{name}-{uuid.uuid4().hex[:12]}.ann"
    with atomic_path(directory / ann_file) as tmp:
        index.save(str(tmp))
        index.unload()
    manifest = Manifest(ann_file=ann_file, dim=dim, n_trees=n_trees, keys=list(keys), built_at=time.time())
    atomic_write_text(directory / f"{name}.json", json.dumps(manifest.__dict__))
    _remove_superseded(directory, name, keep=ann_file)
    return manifest


def load_manifest(directory: Path, name: str) -> Manifest | None:
    try:
        data = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
        return Manifest(**data)
    except (OSError, ValueError, TypeError):
        return None


def open_annoy(directory: Path, name: str) -> AnnoySearch | None:
    """The persisted index, or None if there is none (or it is unreadable: callers fall back to exact)."""
    manifest = load_manifest(directory, name)
    if manifest is None:
        return None
    index = AnnoyIndex(manifest.dim, METRIC)
    try:
        index.load(str(directory / manifest.ann_file))
    except OSError:
        return None
    if index.get_n_items() != len(manifest.keys):
        index.unload()
        return None
    return AnnoySearch(manifest, index)


def remove_index(directory: Path, name: str) -> None:
    (directory / f"{name}.json").unlink(missing_ok=True)
    _remove_superseded(directory, name, keep=None)


def _remove_superseded(directory: Path, name: str, keep: str | None) -> None:
    for old in directory.glob(f"{name}-*.ann"):
        if old.name != keep:
            old.unlink(missing_ok=True)
