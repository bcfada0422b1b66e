"""Similar-image queries over one indexed folder.

Candidates come from compact vectors (compact.py): the persisted Annoy index holds their first
coordinates; items added since it was built, and whole folders too small to need Annoy, are
compared exactly with the memory-mapped compact vectors. The best candidates — several times more
than asked for — are then re-scored with their full vectors, read from the folder's full store
(full_store.py), so the similarities shown are exact. Results are per path: exact copies share one
vector but each copy is listed.

What an open folder holds is small beside the folder: the structure's memory maps, the Annoy
index's, and the rows of the few images added since the Annoy build. Paths are looked up in the
catalog per query (the files_by_hash index), never held: of its own, a million-image folder
holds a few arrays of one integer per image (~16 MB) and its content keys sorted (~40 MB). The
open part is kept per process and data folder (`searchable`), so the window, which starts a task
per query, opens a folder once, and any new build of the structure or the index is picked up at
the next query. Opening reads the Annoy index and the compact vectors into the page cache in the
background, so that the first queries after a reboot do not each wait on the disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import OrderedDict
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
    manifest_identity,
    remove_unreferenced,
    save_structure,
    structure_name,
    update_compact,
    update_graph,
    with_annoy,
)
from .vector_index import (
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
# vectors. Chosen on the 16,758 shared photos and on 100,000 bench_structure vectors
# (benchmarks/RESULTS.md: recall@24 and time).
CANDIDATE_FACTOR = 4
SEARCH_K_PER_RESULT = 100
RESCORE_FACTOR = 3
# Rows outside Annoy whose unit compact vectors are kept in memory (float32, 1 KB each); more than
# this (a damaged index over a big folder) are read from the memory map a chunk per query.
POOL_IN_MEMORY = 50_000
_POOL_CHUNK = 65_536
_EXACT_CHUNK = 10_000
_OPEN_FOLDERS = 2  # folders kept open per process (the window shows one at a time)
# An opened folder's Annoy index and compact vectors are read ahead into the page cache up to this
# many bytes (a million images: 1.25 GB); beyond it a laptop's cache would not keep them anyway.
READ_AHEAD_BYTES = 2 << 30
_READ_AHEAD_CHUNK = 1 << 20


@dataclass(frozen=True)
class Neighbour:
    relpath: str
    similarity: float


def index_name(root_id: int, model_id: str) -> str:
    return f"root{root_id}-{hashlib.sha1(model_id.encode()).hexdigest()[:10]}"


class RowsByKey:
    """Which structure row holds a content, so that a query's own vector is one read of the full
    store rather than a look-up in the catalog's vectors table. At a million images that table's
    pages lie among 5 GB of vectors: p95 4.3 ms of a query with the page cache cold. Built on the
    read-ahead thread (numpy sorts fixed-width bytes without the GIL): ~40 MB at a million. Until
    it is built, and for contents added since the structure was, the catalog answers."""

    def __init__(self) -> None:
        self._table: tuple[NDArray[np.bytes_], NDArray[np.int64]] | None = None

    def build(self, keys: NDArray[np.bytes_]) -> None:
        if isinstance(keys, np.memmap) and keys.filename is not None:  # read: mapped pages stay
            keys = np.fromfile(keys.filename, dtype=keys.dtype, count=len(keys), offset=keys.offset)  # type: ignore[assignment]
        order = np.argsort(keys, kind="stable")
        self._table = (keys[order], order)  # one assignment: readers see all or none

    def row_of(self, key: str) -> int | None:
        table = self._table
        if table is None:
            return None
        sorted_keys, rows = table
        probe = key.encode("ascii")
        at = int(np.searchsorted(sorted_keys, probe))
        if at < len(sorted_keys) and sorted_keys[at] == probe:
            return int(rows[at])
        return None


@dataclass(frozen=True)
class Searchable:
    """The open, read-only part of a folder's index: shared by every query of the process."""

    structure: FolderStructure
    search: SearchIndex | None  # None: no Annoy index (a small folder, or a damaged file)
    pool_unit: NDArray[np.float32] | None  # unit compact rows of search.pool (or of all), if small
    identity: tuple[object, ...]
    rows_by_key: RowsByKey
    read_ahead: threading.Thread  # reads the files below into the page cache, then builds rows_by_key

    @property
    def pool(self) -> NDArray[np.int64]:
        if self.search is not None:
            return self.search.pool
        return np.arange(len(self.structure), dtype=np.int64)


_open: OrderedDict[tuple[str, str], Searchable] = OrderedDict()
_open_lock = threading.Lock()


def _identity(index_dir: Path, name: str) -> tuple[object, ...]:
    return (manifest_identity(index_dir, structure_name(name)), manifest_identity(index_dir, name))


def searchable(index_dir: Path, name: str) -> Searchable | None:
    """The folder's open index, from this process's cache while its files are the same ones."""
    key = (str(index_dir), name)
    identity = _identity(index_dir, name)
    with _open_lock:
        cached = _open.get(key)
        if cached is not None and cached.identity == identity:
            _open.move_to_end(key)
            return cached
    opened = _open_searchable(index_dir, name, identity)
    with _open_lock:
        if opened is None:
            _open.pop(key, None)
            return None
        _open[key] = opened
        _open.move_to_end(key)
        while len(_open) > _OPEN_FOLDERS:
            _open.popitem(last=False)  # closed when its last query lets go of it
    return opened


def _open_searchable(index_dir: Path, name: str, identity: tuple[object, ...]) -> Searchable | None:
    structure = load_structure(index_dir, structure_name(name))
    if structure is None:
        return None
    annoy = open_annoy(index_dir, name)
    search = None
    if annoy is not None:
        # An index the structure does not map (a crash between their writes) is mapped by key.
        rows = with_annoy(structure, annoy, rebuilt=False).annoy
        assert rows is not None
        search = SearchIndex.over(annoy.without_keys(), rows.rows, len(structure))
    pool = search.pool if search is not None else np.arange(len(structure), dtype=np.int64)
    pool_unit = unit_rows(structure.compact[pool]) if len(pool) <= POOL_IN_MEMORY else None
    files = [index_dir / structure.annoy.ann_file] if search is not None and structure.annoy else []
    if isinstance(structure.compact, np.memmap) and structure.compact.filename is not None:
        files.append(Path(structure.compact.filename))
    rows_by_key = RowsByKey()
    return Searchable(
        structure, search, pool_unit, identity, rows_by_key, _start_read_ahead(files, structure, rows_by_key)
    )


def _start_read_ahead(
    files: list[Path], structure: FolderStructure, rows_by_key: RowsByKey
) -> threading.Thread:
    """Read the files that `similar` reads at random into the page cache, once, in order, on a
    thread of its own. After a reboot (or a duplicates run that filled the cache with the full
    store), each of the first few dozen queries at a million images otherwise waited on the disk
    for scattered pages of the 700-MB Annoy file: 16 ms each, against 2 once it is cached. Read,
    not mapped: cached pages do not count against the process. (posix_fadvise(WILLNEED) on the
    same files made no measurable difference.) Then it builds `rows_by_key`."""
    chosen, total = [], 0
    for path in files:  # the Annoy index first: its pages are the most scattered
        total += path.stat().st_size if path.is_file() else 0
        if total <= READ_AHEAD_BYTES:
            chosen.append(path)

    def run() -> None:
        _read_through(chosen)
        # A keys file replaced by a new build meanwhile: the catalog answers until the next open.
        with contextlib.suppress(OSError):
            rows_by_key.build(structure.keys)

    thread = threading.Thread(target=run, name="read-ahead", daemon=True)
    thread.start()
    return thread


def _read_through(files: list[Path]) -> None:
    buffer = bytearray(_READ_AHEAD_CHUNK)
    for path in files:
        try:
            with path.open("rb", buffering=0) as fh:
                while fh.readinto(buffer):
                    pass
        except OSError:  # replaced by a new build meanwhile: the next open reads that one
            continue


class FolderIndex:
    """One folder open for `similar`, seen through one catalog connection (one per thread)."""

    def __init__(self, catalog: Catalog, root_id: int, model_id: str, opened: Searchable | None) -> None:
        self._catalog = catalog
        self._root_id = root_id
        self._model_id = model_id
        self._opened = opened

    @classmethod
    def open(cls, catalog: Catalog, root_id: int, model_id: str, index_dir: Path) -> FolderIndex:
        return cls(catalog, root_id, model_id, searchable(index_dir, index_name(root_id, model_id)))

    def close(self) -> None:
        """Nothing to release: what is open is shared, and closed when no query holds it."""
        self._opened = None

    @property
    def uses_annoy(self) -> bool:
        return self._opened is not None and self._opened.search is not None

    @property
    def has_structure(self) -> bool:
        return self._opened is not None

    def __len__(self) -> int:
        """Usable files (copies each counted), as the catalog has them now."""
        return self._catalog.usable_count(self._root_id, self._model_id)

    def vector_of(self, relpath: str) -> NDArray[np.float32]:
        """The file's vector: from the full store when the structure holds its content (the
        same float32 values), else from the catalog."""
        row = self._catalog.file_row(self._root_id, relpath)
        missing = SorterError(f"not in the index: {relpath} (run `sorter index` on its folder first)")
        if row is None or row.error is not None or row.content_hash is None:
            raise missing
        opened = self._opened
        at = opened.rows_by_key.row_of(row.content_hash) if opened is not None else None
        if opened is not None and at is not None:
            stored: NDArray[np.float32] = opened.structure.full.read(np.array([at], dtype=np.int64))[0]
            return stored
        try:
            vector: NDArray[np.float32] = self._catalog.vectors(self._model_id, [row.content_hash])[0]
        except KeyError:
            raise missing from None
        return vector

    def similar(self, relpath: str, k: int) -> list[Neighbour]:
        """The k images most like `relpath`, best first, `relpath` itself excluded."""
        return self.similar_to_vector(self.vector_of(relpath), k, exclude={relpath})

    def similar_to_vector(
        self, vector: NDArray[np.float32], k: int, exclude: Collection[str] = ()
    ) -> list[Neighbour]:
        if k <= 0:
            return []
        opened = self._opened
        if opened is None:
            return self._exact(vector, k, exclude)
        structure = opened.structure
        wanted = k + len(exclude)
        query: NDArray[np.float32] = unit_rows(structure.projection.project(vector[None, :]))[0]
        candidates = np.union1d(
            _annoy_candidates(opened.search, query, CANDIDATE_FACTOR * wanted),
            _pool_candidates(opened, query, CANDIDATE_FACTOR * wanted),
        ).astype(np.int64)
        if len(candidates) > RESCORE_FACTOR * wanted:
            compact = unit_rows(structure.compact_rows(candidates)) @ query
            candidates = candidates[np.argpartition(-compact, RESCORE_FACTOR * wanted - 1)]
            candidates = candidates[: RESCORE_FACTOR * wanted]
        sims = structure.full.read(candidates) @ vector
        order = np.argsort(-sims, kind="stable")
        return self._answer(structure, candidates[order], sims[order], k, exclude)

    def _exact(self, vector: NDArray[np.float32], k: int, exclude: Collection[str]) -> list[Neighbour]:
        """Every image compared, full vectors read a chunk at a time: a folder without a structure
        (indexed by an older version, before `Library.open_folder` builds one)."""
        by_hash = self._catalog.paths_by_hash(self._root_id, self._model_id)
        keys = list(by_hash)
        wanted = k + len(exclude)
        best_keys: list[str] = []
        best_sims = np.zeros(0, dtype=np.float32)
        for start in range(0, len(keys), _EXACT_CHUNK):
            chunk = keys[start : start + _EXACT_CHUNK]
            sims = np.concatenate([best_sims, self._catalog.vectors(self._model_id, chunk) @ vector])
            pool = best_keys + chunk
            top = np.argsort(-sims, kind="stable")[:wanted]
            best_keys, best_sims = [pool[i] for i in top.tolist()], sims[top]
        out = [
            Neighbour(p, float(min(s, 1.0)))
            for key, s in zip(best_keys, best_sims.tolist(), strict=True)
            for p in by_hash[key]
            if p not in exclude
        ]
        out.sort(key=lambda n: (-n.similarity, n.relpath))
        return out[:k]

    def _answer(
        self,
        structure: FolderStructure,
        rows: NDArray[np.int64],
        sims: NDArray[np.float32],
        k: int,
        exclude: Collection[str],
    ) -> list[Neighbour]:
        """The best rows' files, read from the catalog: contents whose files are gone since the
        structure was built have none and drop out. The best k + len(exclude) rows are looked up
        first and more only if files are missing: a third of the catalog reads of looking up all."""
        out: list[Neighbour] = []
        batch = k + len(exclude)
        for start in range(0, len(rows), batch):
            keys = [key.decode("ascii") for key in structure.keys[rows[start : start + batch]].tolist()]
            paths = self._catalog.paths_of(self._root_id, keys)
            for key, sim in zip(keys, sims[start : start + batch].tolist(), strict=True):
                out += [Neighbour(p, float(min(sim, 1.0))) for p in paths.get(key, ()) if p not in exclude]
                if len(out) >= k:
                    break
            if len(out) >= k:
                break
        out.sort(key=lambda n: (-n.similarity, n.relpath))
        return out[:k]


def _annoy_candidates(search: SearchIndex | None, query: NDArray[np.float32], n: int) -> NDArray[np.int64]:
    """Annoy may return items whose images are gone since the build: ask for more until n are live."""
    if search is None:
        return np.zeros(0, dtype=np.int64)
    total = len(search.row_of_item)
    ask = min(total, n + 8)
    while True:
        items = search.annoy.items_near(query[:SEARCH_DIM], ask, search_k=ask * SEARCH_K_PER_RESULT)
        rows = search.row_of_item[np.asarray(items, dtype=np.int64)]
        live = rows[rows >= 0]
        if len(live) >= n or ask >= total:
            return live
        ask = min(total, ask * 4)


def _pool_candidates(opened: Searchable, query: NDArray[np.float32], n: int) -> NDArray[np.int64]:
    """The n rows outside Annoy of highest compact cosine, compared exactly."""
    pool = opened.pool
    if len(pool) == 0:
        return np.zeros(0, dtype=np.int64)
    if opened.pool_unit is not None:
        sims = opened.pool_unit @ query
    else:  # too many to hold: read the memory map a chunk at a time
        compact = opened.structure.compact
        sims = np.concatenate(
            [unit_rows(compact[pool[s : s + _POOL_CHUNK]]) @ query for s in range(0, len(pool), _POOL_CHUNK)]
        )
    n = min(n, len(sims))
    return pool[np.argpartition(-sims, n - 1)[:n]]


def refresh_vector_index(
    catalog: Catalog, root_id: int, model_id: str, index_dir: Path, *, min_items: int = ANNOY_MIN_ITEMS
) -> bool:
    """Bring the folder's compact vectors, full store, Annoy index and neighbour graph up to date.

    The compact vectors, the full store and the graph follow every change (structure.py); the
    Annoy index is rebuilt, from the compact vectors, when enough has changed since the last build
    or when its files are missing or damaged. Returns True if it rebuilt. Small folders keep no
    Annoy index at all (exact search). Runs under the index's lock, deciding after it has waited: of
    two programs indexing one folder at once, the second finds the first one's work and keeps it.
    """
    name = index_name(root_id, model_id)
    with index_lock(index_dir, name):
        live = list(catalog.paths_by_hash(root_id, model_id))
        old = load_structure(index_dir, structure_name(name))
        rebuilt = False
        try:
            structure, todo = update_compact(catalog, model_id, live, old, index_dir, structure_name(name))
            del live
            rebuilt = _refresh_annoy(index_dir, name, structure, min_items)
            annoy = open_annoy(index_dir, name)
            try:
                structure = with_annoy(structure, annoy, rebuilt)
                search = None
                if annoy is not None and structure.annoy is not None:
                    search = SearchIndex.over(annoy, structure.annoy.rows, len(structure))
                structure = update_graph(structure, todo, search)
            finally:
                if annoy is not None:
                    annoy.unload()
            if structure is not old:
                save_structure(index_dir, structure_name(name), structure)
        except BaseException:
            if rebuilt:  # built from compact vectors that are not on disk: never search it
                remove_index(index_dir, name)
            # Full-store segments written for a structure that was never saved.
            remove_unreferenced(index_dir, structure_name(name))
            raise
    return rebuilt


def _refresh_annoy(index_dir: Path, name: str, structure: FolderStructure, min_items: int) -> bool:
    """The Annoy half of `refresh_vector_index`, under its lock: built from the compact vectors."""
    if len(structure) < min_items:
        remove_index(index_dir, name)
        return False
    manifest = load_manifest(index_dir, name)
    current = manifest is not None and manifest.dim == min(SEARCH_DIM, structure.projection.dim)
    if manifest is not None and current and verify_index_file(index_dir, manifest):
        held = (
            structure.annoy.rows
            if structure.annoy and structure.annoy.ann_file == manifest.ann_file
            else None
        )
        built = len(manifest.keys)
        kept = int((held >= 0).sum()) if held is not None else _kept_by_key(manifest.keys, structure)
        added, stale = len(structure) - kept, built - kept
        if added <= max(200, len(structure) // 50) and stale <= built // 10:
            remove_leftovers(index_dir, name, current=manifest.ann_file)
            return False
    write_index(index_dir, name, structure.key_list(), structure.compact[:, :SEARCH_DIM])
    return True


def _kept_by_key(keys: list[str], structure: FolderStructure) -> int:
    live = set(structure.key_list())
    return sum(1 for key in keys if key in live)
