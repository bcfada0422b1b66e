"""Similar-image queries over one indexed folder.

Items in the persisted Annoy index are searched approximately; items added since it was built,
and whole folders too small to need Annoy, are searched exactly. Results are per path: exact copies
share one vector but each copy is listed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .catalog import Catalog
from .errors import SorterError
from .vector_index import (
    AnnoySearch,
    index_lock,
    load_manifest,
    open_annoy,
    remove_index,
    remove_leftovers,
    verify_index_file,
    write_index,
)

# Below this many distinct images a brute-force matrix product is as fast as Annoy and exact.
ANNOY_MIN_ITEMS = 2000
# Annoy candidates examined per query; measured in benchmarks/bench_index.py for recall vs time.
SEARCH_K_PER_RESULT = 100


@dataclass(frozen=True)
class Neighbour:
    relpath: str
    similarity: float


def index_name(root_id: int, model_id: str) -> str:
    return f"root{root_id}-{hashlib.sha1(model_id.encode()).hexdigest()[:10]}"


class FolderIndex:
    def __init__(
        self,
        paths_by_hash: dict[str, list[str]],
        annoy: AnnoySearch | None,
        exact_keys: list[str],
        exact_vectors: NDArray[np.float32],
        catalog: Catalog,
        model_id: str,
    ) -> None:
        self.paths_by_hash = paths_by_hash
        self.hash_by_path = {p: h for h, paths in paths_by_hash.items() for p in paths}
        self._annoy = annoy
        self._exact_keys = exact_keys
        self._exact_vectors = exact_vectors
        self._catalog = catalog
        self._model_id = model_id

    @classmethod
    def open(cls, catalog: Catalog, root_id: int, model_id: str, index_dir: Path) -> FolderIndex:
        paths_by_hash = catalog.paths_by_hash(root_id, model_id)
        annoy = open_annoy(index_dir, index_name(root_id, model_id))
        built = set(annoy.keys) if annoy else set()
        exact_keys = [h for h in paths_by_hash if h not in built]
        exact_vectors = catalog.vectors(model_id, exact_keys)
        return cls(paths_by_hash, annoy, exact_keys, exact_vectors, catalog, model_id)

    def close(self) -> None:
        if self._annoy is not None:
            self._annoy.unload()

    @property
    def uses_annoy(self) -> bool:
        return self._annoy is not None

    def __len__(self) -> int:
        return len(self.hash_by_path)

    def vector_of(self, relpath: str) -> NDArray[np.float32]:
        content_hash = self.hash_by_path.get(relpath)
        if content_hash is None:
            raise SorterError(f"not in the index: {relpath} (run `sorter index` on its folder first)")
        vector: NDArray[np.float32] = self._catalog.vectors(self._model_id, [content_hash])[0]
        return vector

    def similar(self, relpath: str, k: int) -> list[Neighbour]:
        """The k images most like `relpath`, best first, `relpath` itself excluded."""
        return self.similar_to_vector(self.vector_of(relpath), k, exclude={relpath})

    def similar_to_vector(
        self, vector: NDArray[np.float32], k: int, exclude: Collection[str] = ()
    ) -> list[Neighbour]:
        if k <= 0:
            return []
        wanted = k + len(exclude)
        scored = self._exact_candidates(vector, wanted) + self._annoy_candidates(vector, wanted)
        scored.sort(key=lambda item: -item[1])
        out: list[Neighbour] = []
        seen: set[str] = set()
        for content_hash, similarity in scored:
            if content_hash in seen:
                continue
            seen.add(content_hash)
            for path in self.paths_by_hash.get(content_hash, ()):
                if path not in exclude:
                    out.append(Neighbour(path, float(min(similarity, 1.0))))
            if len(out) >= k:
                break
        out.sort(key=lambda n: (-n.similarity, n.relpath))
        return out[:k]

    def _exact_candidates(self, vector: NDArray[np.float32], n: int) -> list[tuple[str, float]]:
        if not self._exact_keys:
            return []
        sims = self._exact_vectors @ vector
        n = min(n, len(sims))
        top = np.argpartition(-sims, n - 1)[:n]
        return [(self._exact_keys[i], float(sims[i])) for i in top]

    def _annoy_candidates(self, vector: NDArray[np.float32], n: int) -> list[tuple[str, float]]:
        """Annoy may return items whose files are gone since the build: ask for more until n are live."""
        if self._annoy is None:
            return []
        total = len(self._annoy.keys)
        ask = min(total, n + 8)
        while True:
            found = self._annoy.query(vector, ask, search_k=ask * SEARCH_K_PER_RESULT)
            live = [(h, s) for h, s in found if h in self.paths_by_hash]
            if len(live) >= n or ask >= total:
                return live
            ask = min(total, ask * 4)


def refresh_vector_index(
    catalog: Catalog, root_id: int, model_id: str, index_dir: Path, *, min_items: int = ANNOY_MIN_ITEMS
) -> bool:
    """Rebuild the folder's Annoy index when enough has changed since the last build, or when its
    files are missing or damaged.

    Returns True if it rebuilt. Small folders keep no Annoy index at all (exact search). Runs under
    the index's lock, deciding after it has waited: of two programs indexing one folder at once,
    the second finds the first one's index and keeps it.
    """
    name = index_name(root_id, model_id)
    with index_lock(index_dir, name):
        live = list(catalog.paths_by_hash(root_id, model_id))
        if len(live) < min_items:
            remove_index(index_dir, name)
            return False
        manifest = load_manifest(index_dir, name)
        if manifest is not None and verify_index_file(index_dir, manifest):
            built = set(manifest.keys)
            added = sum(1 for h in live if h not in built)
            stale = len(built) - (len(live) - added)
            if added <= max(200, len(live) // 50) and stale <= len(built) // 10:
                remove_leftovers(index_dir, name, current=manifest.ann_file)
                return False
        write_index(index_dir, name, live, catalog.vectors(model_id, live))
    return True
