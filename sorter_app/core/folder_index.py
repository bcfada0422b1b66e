"""Similar-image queries over one indexed folder.

Candidates come from compact vectors (compact.py): the persisted Annoy index holds their first
coordinates; items added since it was built, and whole folders too small to need Annoy, are
compared exactly with the memory-mapped compact vectors. The best candidates — several times more
than asked for — are then re-scored with their full vectors, read from the catalog, so the
similarities shown are exact. Results are per path: exact copies share one vector but each copy
is listed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .catalog import Catalog
from .compact import SEARCH_DIM, unit_rows
from .errors import SorterError
from .graph_search import SearchIndex
from .structure import (
    FolderStructure,
    load_structure,
    save_structure,
    structure_name,
    update_compact,
    update_graph,
)
from .vector_index import (
    AnnoySearch,
    IndexWriteError,
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
# Per result wanted: candidates from the compact vectors (Annoy, or exact for the rest), Annoy nodes
# inspected per candidate, and how many of the best by compact cosine are re-scored with full
# vectors. Chosen on the 16,758 shared photos (benchmarks/RESULTS.md: recall@24 and time).
# (4, 50, 2) found 98.0 % of the exact top 24, (4, 100, 4) 99.5 % in 1.6× the time, (3, 30, 2) 94.1 %;
# Annoy over the full vectors (before compact vectors) found 87.0 %. On 100,000 bench_structure
# vectors (60 near-equidistant variants of each real photo): 76 %, 84 %, and (4, 100, 3) 84 %.
CANDIDATE_FACTOR = 4
SEARCH_K_PER_RESULT = 100
RESCORE_FACTOR = 3


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
        structure: FolderStructure | None,
        catalog: Catalog,
        model_id: str,
    ) -> None:
        self.paths_by_hash = paths_by_hash
        self.hash_by_path = {p: h for h, paths in paths_by_hash.items() for p in paths}
        self._annoy = annoy
        self._structure = structure
        self._catalog = catalog
        self._model_id = model_id
        built = set(annoy.keys) if annoy else set()
        self._position = position = {key: i for i, key in enumerate(structure.keys)} if structure else {}
        unbuilt = [h for h in paths_by_hash if h not in built]
        # Not in Annoy: compared exactly, by compact vector where the structure has one (a memory
        # map), else by full vector (only content indexed since the structure was last refreshed).
        self._compact_keys = [h for h in unbuilt if h in position]
        self._compact_unit = (
            unit_rows(structure.compact[[position[h] for h in self._compact_keys]])
            if structure and self._compact_keys
            else np.zeros((0, 1), dtype=np.float32)
        )
        self._full_keys = [h for h in unbuilt if h not in position]
        self._full_vectors = catalog.vectors(model_id, self._full_keys)

    @classmethod
    def open(cls, catalog: Catalog, root_id: int, model_id: str, index_dir: Path) -> FolderIndex:
        paths_by_hash = catalog.paths_by_hash(root_id, model_id)
        name = index_name(root_id, model_id)
        structure = load_structure(index_dir, structure_name(name))
        return cls(paths_by_hash, open_annoy(index_dir, name), structure, catalog, model_id)

    def close(self) -> None:
        if self._annoy is not None:
            self._annoy.unload()

    @property
    def uses_annoy(self) -> bool:
        return self._annoy is not None

    @property
    def has_structure(self) -> bool:
        return self._structure is not None

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
        candidates = {h for h, _ in self._compact_candidates(vector, CANDIDATE_FACTOR * wanted)}
        candidates |= {h for h, _ in self._annoy_candidates(vector, CANDIDATE_FACTOR * wanted)}
        best = self._best_compact(vector, sorted(candidates), RESCORE_FACTOR * wanted)
        scored = self._exact_candidates(vector, wanted) + self._rescored(vector, best)
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

    def _query(self, vector: NDArray[np.float32]) -> NDArray[np.float32]:
        """The query in compact space (the structure's projection)."""
        assert self._structure is not None
        query: NDArray[np.float32] = unit_rows(self._structure.projection.project(vector[None, :]))[0]
        return query

    def _best_compact(self, vector: NDArray[np.float32], hashes: list[str], n: int) -> list[str]:
        """The n candidates of highest compact cosine over all the compact coordinates."""
        if len(hashes) <= n or self._structure is None:
            return hashes
        rows = [self._position[h] for h in hashes]
        sims = unit_rows(self._structure.compact[rows]) @ self._query(vector)
        return [hashes[i] for i in np.argpartition(-sims, n - 1)[:n]]

    def _rescored(self, vector: NDArray[np.float32], hashes: list[str]) -> list[tuple[str, float]]:
        """Exact cosines of compact candidates: their full vectors, read in one query."""
        if not hashes:
            return []
        sims = self._catalog.vectors(self._model_id, hashes) @ vector
        return list(zip(hashes, sims.tolist(), strict=True))

    def _top(self, keys: list[str], sims: NDArray[np.float32], n: int) -> list[tuple[str, float]]:
        n = min(n, len(sims))
        top = np.argpartition(-sims, n - 1)[:n]
        return [(keys[i], float(sims[i])) for i in top]

    def _compact_candidates(self, vector: NDArray[np.float32], n: int) -> list[tuple[str, float]]:
        if not self._compact_keys:
            return []
        return self._top(self._compact_keys, self._compact_unit @ self._query(vector), n)

    def _exact_candidates(self, vector: NDArray[np.float32], n: int) -> list[tuple[str, float]]:
        if not self._full_keys:
            return []
        return self._top(self._full_keys, self._full_vectors @ vector, n)

    def _annoy_candidates(self, vector: NDArray[np.float32], n: int) -> list[tuple[str, float]]:
        """Annoy may return items whose files are gone since the build: ask for more until n are live."""
        if self._annoy is None or self._structure is None:
            return []
        query = self._query(vector)[:SEARCH_DIM]
        total = len(self._annoy.keys)
        ask = min(total, n + 8)
        while True:
            found = self._annoy.query(query, ask, search_k=ask * SEARCH_K_PER_RESULT)
            live = [(h, s) for h, s in found if h in self.paths_by_hash]
            if len(live) >= n or ask >= total:
                return live
            ask = min(total, ask * 4)


def refresh_vector_index(
    catalog: Catalog, root_id: int, model_id: str, index_dir: Path, *, min_items: int = ANNOY_MIN_ITEMS
) -> bool:
    """Bring the folder's compact vectors, Annoy index and neighbour graph up to date.

    The compact vectors and the graph follow every change (structure.py); the Annoy index is
    rebuilt, from the compact vectors, when enough has changed since the last build or when its
    files are missing or damaged. Returns True if it rebuilt. Small folders keep no Annoy index at
    all (exact search). Runs under the index's lock, deciding after it has waited: of two programs
    indexing one folder at once, the second finds the first one's work and keeps it.
    """
    name = index_name(root_id, model_id)
    with index_lock(index_dir, name):
        live = list(catalog.paths_by_hash(root_id, model_id))
        old = load_structure(index_dir, structure_name(name))
        structure, todo = update_compact(catalog, model_id, live, old)
        rebuilt = _refresh_annoy(index_dir, name, structure, min_items)
        annoy = open_annoy(index_dir, name)
        try:
            search = SearchIndex.over(annoy, structure.keys) if annoy else None
            structure = update_graph(structure, todo, search)
        finally:
            if annoy is not None:
                annoy.unload()
        if structure is not old:
            try:
                save_structure(index_dir, structure_name(name), structure)
            except IndexWriteError:
                if rebuilt:  # built from compact vectors that are not on disk: never search it
                    remove_index(index_dir, name)
                raise
    return rebuilt


def _refresh_annoy(index_dir: Path, name: str, structure: FolderStructure, min_items: int) -> bool:
    """The Annoy half of `refresh_vector_index`, under its lock: built from the compact vectors."""
    live = structure.keys
    if len(live) < min_items:
        remove_index(index_dir, name)
        return False
    manifest = load_manifest(index_dir, name)
    current = manifest is not None and manifest.dim == min(SEARCH_DIM, structure.projection.dim)
    if manifest is not None and current and verify_index_file(index_dir, manifest):
        built = set(manifest.keys)
        added = sum(1 for h in live if h not in built)
        stale = len(built) - (len(live) - added)
        if added <= max(200, len(live) // 50) and stale <= len(built) // 10:
            remove_leftovers(index_dir, name, current=manifest.ann_file)
            return False
    write_index(index_dir, name, live, structure.compact[:, :SEARCH_DIM])
    return True
