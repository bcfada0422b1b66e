"""One folder's compact vectors and k-nearest-neighbour graph, on disk, kept up to date in steps.

Duplicates, clusters, outliers, seed groups and the map all start from the same neighbour graph.
It is computed once per folder and model, stored beside the Annoy index, and updated when the
folder changes: new images get neighbour lists (and enter the lists of the images they are close
to), images that are gone leave, and the rows that lost a neighbour are searched again. Only a
big change — more than REBUILD_SHARE of the rows, or a folder twice the size its projection was
fitted on — rebuilds it all. Beside them, float32 copies of the full vectors (full_store.py) for
re-scoring, and which row each item of the folder's Annoy index is.

Files, all written atomically under a fresh build id, the manifest last (a crash leaves the old
structure in force): `<name>.json` (the manifest), `<name>-<build>.{keys,compact,basis,neighbours,
similarities,full_rows,annoy_rows}.npy`, and the full store's segments `<name>-full-<id>.npy`, which
outlive builds. Everything is memory-mapped or read a row at a time, never read whole: at a
million images nothing here costs the process more than what it touches.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

from .atomic import atomic_path, atomic_write_text
from .catalog import Catalog
from .compact import Projection, fit_projection
from .full_store import FullStore, new_store, open_store, read_each
from .graph_search import GRAPH_K, SearchIndex, merge_reverse_edges, neighbour_lists
from .neighbours import KnnGraph
from .vector_index import AnnoySearch, IndexWriteError

__all__ = ["GRAPH_K", "AnnoyRows", "FolderStructure"]

REBUILD_SHARE = 0.25
REFIT_GROWTH = 2  # refit the projection (and rebuild) when the folder has doubled since the fit
FORMAT = 2  # 1 (no full store) is rebuilt when met
READ_CHUNK = 10_000  # full vectors read from the catalog at a time: 50 MB
_ARRAYS = ("keys", "compact", "basis", "neighbours", "similarities", "full_rows", "annoy_rows")


@dataclass(frozen=True)
class AnnoyRows:
    """Which structure row each item of the Annoy index `ann_file` is (-1: the image is gone).

    Annoy is rebuilt only when enough has changed, the structure at every change; this keeps the
    two in step without the index's list of a million keys.
    """

    ann_file: str
    rows: NDArray[np.int64]


@dataclass(frozen=True)
class FolderStructure:
    """Row i of every array belongs to content hash keys[i]."""

    keys: NDArray[np.bytes_]  # (n,) ASCII content hashes
    compact: NDArray[np.float16]  # (n, dim), read-only memory map once saved
    projection: Projection
    fitted_on: int  # how many images the projection was fitted on (when the folder had that many)
    neighbours: NDArray[np.int32]  # (n, k): nearest other rows, best first; -1 where there are none
    similarities: NDArray[np.float32]  # (n, k): their cosines in compact space
    full: FullStore
    annoy: AnnoyRows | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def key_list(self) -> list[str]:
        return [key.decode("ascii") for key in self.keys.tolist()]

    def compact_rows(self, rows: NDArray[np.int64]) -> NDArray[np.float16]:
        """Some rows of `compact`, read from its file once it is saved: a `similar` query wants a few
        hundred from all over it, and through the memory map the 64 KB mapped around each stayed
        resident (after 500 queries at a million images, 487 MB of the 512-MB file)."""
        compact = self.compact
        if not isinstance(compact, np.memmap) or compact.filename is None:
            return np.asarray(compact[rows])
        order = np.argsort(rows, kind="stable")  # forward through the file
        out = np.empty((len(rows), compact.shape[1]), dtype=compact.dtype)
        with open(compact.filename, "rb", buffering=0) as fh:
            read_each(fh, compact.offset, rows[order], out, order)
        return out

    def graph(self, k: int) -> KnnGraph:
        """The first k neighbours of every row (k is clamped to what is stored)."""
        k = max(0, min(k, self.neighbours.shape[1]))
        return KnnGraph(
            np.asarray(self.neighbours[:, :k], dtype=np.int64),
            np.asarray(self.similarities[:, :k], dtype=np.float32),
        )


def structure_name(index_name: str) -> str:
    return f"{index_name}.structure"


def key_array(keys: Sequence[str]) -> NDArray[np.bytes_]:
    return np.array([key.encode("ascii") for key in keys], dtype=bytes)


def manifest_identity(directory: Path, name: str) -> tuple[int, ...] | None:
    """What changes whenever a new build is saved: how readers notice that theirs is stale."""
    try:
        st = (directory / f"{name}.json").stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def load_structure(directory: Path, name: str) -> FolderStructure | None:
    """The stored structure, or None if there is none or it cannot be read (it is rebuilt then)."""
    try:
        manifest = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT:
            return None
        build = manifest["build"]
        arrays = {a: np.load(directory / f"{name}-{build}.{a}.npy", mmap_mode="r") for a in _ARRAYS}
        projection = Projection(np.asarray(arrays["basis"], dtype=np.float32))
        full_rows = np.asarray(arrays["full_rows"], dtype=np.int64)
        full = open_store(directory, list(manifest["segments"]), full_rows, projection.full_dim)
        ann_file = manifest.get("annoy_file")
        annoy = AnnoyRows(str(ann_file), np.asarray(arrays["annoy_rows"], np.int64)) if ann_file else None
        structure = FolderStructure(
            arrays["keys"],
            arrays["compact"],
            projection,
            int(manifest["fitted_on"]),
            arrays["neighbours"],
            arrays["similarities"],
            full,  # type: ignore[arg-type]  # checked just below
            annoy,
        )
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
    return structure if _consistent(structure) else None


def _consistent(structure: FolderStructure) -> bool:
    """A damaged file must not steer an index out of range later: rows point at rows, or at -1."""
    n = len(structure.keys)
    if structure.full is None or structure.keys.dtype.kind != "S":
        return False
    if any(len(a) != n for a in (structure.compact, structure.neighbours, structure.similarities)):
        return False
    if len(structure.full.rows) != n or structure.compact.shape[1] != structure.projection.dim:
        return False
    for rows in (structure.neighbours, structure.annoy.rows if structure.annoy else None):
        if rows is not None and rows.size and (int(rows.min()) < -1 or int(rows.max()) >= n):
            return False
    return True


class _PythonWrites:
    """A file seen by numpy as a plain stream (it then writes in chunks through `write`)."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh

    def write(self, data: bytes) -> int:
        return self._fh.write(data)


def save_structure(directory: Path, name: str, structure: FolderStructure) -> FolderStructure:
    """Write a new build, switch the manifest to it, remove older builds and unreferenced segments;
    returns it memory-mapped."""
    build = uuid.uuid4().hex[:12]
    arrays = {
        "keys": structure.keys,
        "compact": structure.compact,
        "basis": structure.projection.basis,
        "neighbours": structure.neighbours,
        "similarities": structure.similarities,
        "full_rows": structure.full.rows,
        "annoy_rows": structure.annoy.rows if structure.annoy else np.zeros(0, dtype=np.int64),
    }
    manifest = {
        "format": FORMAT,
        "build": build,
        "fitted_on": structure.fitted_on,
        "items": len(structure),
        "segments": list(structure.full.segments),
        "annoy_file": structure.annoy.ann_file if structure.annoy else None,
    }
    try:
        for array_name, array in arrays.items():
            with atomic_path(directory / f"{name}-{build}.{array_name}.npy") as tmp, tmp.open("wb") as fh:
                # Through Python's write(), not numpy's C-level tofile(): a full disk then raises
                # ENOSPC, which the CLI words as "disk full", instead of "N requested and M written".
                np.save(_PythonWrites(fh), np.asarray(array))
        atomic_write_text(directory / f"{name}.json", json.dumps(manifest))
    except OSError as exc:
        for partial in directory.glob(f"{name}-{build}.*.npy"):
            partial.unlink(missing_ok=True)
        raise IndexWriteError.of(directory, exc) from None
    remove_unreferenced(directory, name)
    loaded = load_structure(directory, name)
    if loaded is None:
        raise OSError(f"cannot read back the structure just written to {directory}")
    return loaded


def remove_structure(directory: Path, name: str) -> None:
    (directory / f"{name}.json").unlink(missing_ok=True)
    _remove_files(directory, name, keep=set())


def remove_unreferenced(directory: Path, name: str) -> None:
    """Remove every file of `name` that the manifest in force does not name: older builds, full
    store segments no build uses, and what a failed update wrote before it gave up (a full disk
    while the Annoy index or the structure was saved). Only under the index's lock."""
    try:
        manifest = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
        keep = {f"{name}-{manifest['build']}.{a}.npy" for a in _ARRAYS} | set(manifest["segments"])
    except (OSError, ValueError, KeyError, TypeError):
        keep = set()  # no structure in force (or an unreadable one, rebuilt anyway): nothing to keep
    _remove_files(directory, name, keep)


def _remove_files(directory: Path, name: str, keep: set[str]) -> None:
    """Files of older builds and segments no build uses. Only under the index's lock; a reader that
    still maps one keeps it until it lets go (Windows refuses the removal then: it waits a turn)."""
    for old in directory.glob(f"{name}-*.npy"):
        if old.name not in keep:
            with contextlib.suppress(OSError):
                old.unlink()


def update_compact(
    catalog: Catalog,
    model_id: str,
    live: Sequence[str],
    old: FolderStructure | None,
    directory: Path,
    name: str,
) -> tuple[FolderStructure, NDArray[np.int64]]:
    """Compact vectors for every live key, projecting only the new ones; and the rows to search.

    Returns the new structure (its graph carried over, with -1 for neighbours that are gone) and
    the rows whose neighbour lists must be computed: new rows and rows that lost a neighbour. All
    rows are to be searched when the structure is built afresh. The full vectors of new rows are
    read once, a chunk at a time, into both their compact vectors and a new full-store segment.
    """

    def read(hashes: Sequence[str]) -> NDArray[np.float32]:
        return catalog.vectors(model_id, hashes)

    rebuild = old is None or _needs_refit(old, len(live))
    if not rebuild:
        assert old is not None
        old_keys = old.key_list()
        live_set = set(live)
        kept_rows = np.array([i for i, key in enumerate(old_keys) if key in live_set], dtype=np.int64)
        known = set(old_keys)
        added = [key for key in live if key not in known]
        del known, live_set, old_keys
        changed = len(added) + len(old) - len(kept_rows)
        rebuild = changed > REBUILD_SHARE * max(len(live), 1)
    if rebuild:
        projection = fit_projection(live, read) if live else Projection(np.eye(1, dtype=np.float32))
        compact = np.empty((len(live), projection.dim), dtype=np.float16)
        chunks = _projected(live, read, projection, compact)
        full = new_store(directory, name, chunks, len(live), projection.full_dim)
        k = max(0, min(GRAPH_K, len(live) - 1))
        fresh = FolderStructure(
            key_array(live),
            compact,
            projection,
            len(live),
            np.full((len(live), k), -1, dtype=np.int32),
            np.full((len(live), k), -np.inf, dtype=np.float32),
            full,
        )
        return fresh, np.arange(len(live), dtype=np.int64)
    assert old is not None
    if not added and len(kept_rows) == len(old):
        return old, np.zeros(0, dtype=np.int64)  # nothing changed: callers keep the stored build
    new_compact = np.empty((len(added), old.projection.dim), dtype=np.float16)
    full = old.full.kept(kept_rows).appended(
        name, _projected(added, read, old.projection, new_compact), len(added)
    )
    if full.needs_compacting():
        full = full.compacted(name)
    keys = (
        np.concatenate([np.asarray(old.keys[kept_rows]), key_array(added)]) if added else old.keys[kept_rows]
    )
    compact = np.concatenate([np.asarray(old.compact[kept_rows]), new_compact])
    neighbours, similarities = _carry_graph(old, kept_rows, len(keys))
    annoy = _carry_annoy(old, kept_rows)
    damaged = np.flatnonzero((neighbours[: len(kept_rows)] < 0).any(axis=1))
    todo = np.concatenate([damaged, np.arange(len(kept_rows), len(keys))]).astype(np.int64)
    structure = FolderStructure(
        keys, compact, old.projection, old.fitted_on, neighbours, similarities, full, annoy
    )
    return structure, todo


def _projected(
    keys: Sequence[str],
    read: object,
    projection: Projection,
    into: NDArray[np.float16],
) -> Iterator[NDArray[np.float32]]:
    """Full vectors of `keys` a chunk at a time, their compact vectors written into `into` on the way."""
    assert callable(read)
    for start in range(0, len(keys), READ_CHUNK):
        full: NDArray[np.float32] = read(keys[start : start + READ_CHUNK])
        into[start : start + len(full)] = projection.project(full)
        yield full


def _needs_refit(old: FolderStructure, live: int) -> bool:
    small_already = old.projection.full_dim <= old.projection.dim  # identity: nothing to refit
    return not small_already and live >= REFIT_GROWTH * max(old.fitted_on, 1)


def _new_numbering(old: FolderStructure, kept_rows: NDArray[np.int64]) -> NDArray[np.int32]:
    """Old row -> new row (-1: gone), with index -1 (no row) mapping to -1."""
    new_row = np.full(len(old) + 1, -1, dtype=np.int32)
    new_row[kept_rows] = np.arange(len(kept_rows), dtype=np.int32)
    return new_row


def _carry_annoy(old: FolderStructure, kept_rows: NDArray[np.int64]) -> AnnoyRows | None:
    if old.annoy is None:
        return None
    return AnnoyRows(old.annoy.ann_file, _new_numbering(old, kept_rows)[old.annoy.rows].astype(np.int64))


def _carry_graph(
    old: FolderStructure, kept_rows: NDArray[np.int64], n: int
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """The old lists of the kept rows in new numbering; gone neighbours become -1 at the end."""
    k = max(0, min(GRAPH_K, n - 1))
    new_row = _new_numbering(old, kept_rows)
    neighbours = np.full((n, k), -1, dtype=np.int32)
    similarities = np.full((n, k), -np.inf, dtype=np.float32)
    width = min(k, old.neighbours.shape[1])
    carried = new_row[np.asarray(old.neighbours[kept_rows, :width])]
    sims = np.where(carried >= 0, np.asarray(old.similarities[kept_rows, :width]), -np.inf)
    order = np.argsort(-sims, axis=1, kind="stable")  # survivors first, best first
    neighbours[: len(kept_rows), :width] = np.take_along_axis(carried, order, axis=1)
    similarities[: len(kept_rows), :width] = np.take_along_axis(sims, order, axis=1)
    return neighbours, similarities


def with_annoy(structure: FolderStructure, annoy: AnnoySearch | None, rebuilt: bool) -> FolderStructure:
    """The structure, knowing which of its rows each item of the folder's Annoy index (as
    `_refresh_annoy` left it) is: all of them in order for an index just built from it, the carried
    mapping for an index kept, and — for an index the structure never knew (its own files were
    rebuilt) — found by key, once."""
    if annoy is None:
        return replace(structure, annoy=None) if structure.annoy is not None else structure
    ann_file = annoy.manifest.ann_file
    if rebuilt:
        return replace(structure, annoy=AnnoyRows(ann_file, np.arange(len(structure), dtype=np.int64)))
    if structure.annoy is not None and structure.annoy.ann_file == ann_file:
        return structure
    position = {key: i for i, key in enumerate(structure.key_list())}
    rows = np.array([position.get(key, -1) for key in annoy.keys], dtype=np.int64)
    return replace(structure, annoy=AnnoyRows(ann_file, rows))


def update_graph(
    structure: FolderStructure, todo: NDArray[np.int64], search: SearchIndex | None
) -> FolderStructure:
    """Search the `todo` rows' neighbours and let them into the lists of the rows they found."""
    if len(todo) == 0 or structure.neighbours.shape[1] == 0:
        return structure
    neighbours = np.array(structure.neighbours)
    similarities = np.array(structure.similarities)
    found, sims = neighbour_lists(structure.compact, todo, neighbours.shape[1], search)
    neighbours[todo], similarities[todo] = found, sims
    if len(todo) < len(structure):
        merge_reverse_edges(neighbours, similarities, todo)
    return replace(structure, neighbours=neighbours, similarities=similarities)
