"""One folder's compact vectors and k-nearest-neighbour graph, on disk, kept up to date in steps.

Duplicates, clusters, outliers, seed groups and the map all start from the same neighbour graph.
It is computed once per folder and model, stored beside the Annoy index, and updated when the
folder changes: new images get neighbour lists (and enter the lists of the images they are close
to), images that are gone leave, and the rows that lost a neighbour are searched again. Only a
big change — more than REBUILD_SHARE of the rows, or a folder twice the size its projection was
fitted on — rebuilds it all.

Files, all written atomically under a fresh build id, the manifest last (a crash leaves the old
structure in force): `<name>.json` (the manifest), and `<name>-<build>.{keys,compact,basis,
neighbours,similarities}.npy`. The compact vectors are memory-mapped, never read whole.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

from .atomic import atomic_path, atomic_write_text
from .catalog import Catalog
from .compact import Projection, fit_projection, project_keys
from .graph_search import GRAPH_K, SearchIndex, merge_reverse_edges, neighbour_lists
from .neighbours import KnnGraph
from .vector_index import IndexWriteError

__all__ = ["GRAPH_K", "FolderStructure"]

REBUILD_SHARE = 0.25
REFIT_GROWTH = 2  # refit the projection (and rebuild) when the folder has doubled since the fit
FORMAT = 1
_ARRAYS = ("keys", "compact", "basis", "neighbours", "similarities")


@dataclass(frozen=True)
class FolderStructure:
    """Row i of every array belongs to content hash keys[i]."""

    keys: list[str]
    compact: NDArray[np.float16]  # (n, dim), read-only memory map once saved
    projection: Projection
    fitted_on: int  # how many images the projection was fitted on (when the folder had that many)
    neighbours: NDArray[np.int32]  # (n, k): nearest other rows, best first; -1 where there are none
    similarities: NDArray[np.float32]  # (n, k): their cosines in compact space

    def __len__(self) -> int:
        return len(self.keys)

    def graph(self, k: int) -> KnnGraph:
        """The first k neighbours of every row (k is clamped to what is stored)."""
        k = max(0, min(k, self.neighbours.shape[1]))
        return KnnGraph(
            np.asarray(self.neighbours[:, :k], dtype=np.int64),
            np.asarray(self.similarities[:, :k], dtype=np.float32),
        )


def structure_name(index_name: str) -> str:
    return f"{index_name}.structure"


def load_structure(directory: Path, name: str) -> FolderStructure | None:
    """The stored structure, or None if there is none or it cannot be read (it is rebuilt then)."""
    try:
        manifest = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT:
            return None
        build = manifest["build"]
        arrays = {a: np.load(directory / f"{name}-{build}.{a}.npy", mmap_mode="r") for a in _ARRAYS}
        keys = [k.decode("ascii") for k in arrays["keys"].tolist()]
        structure = FolderStructure(
            keys,
            arrays["compact"],
            Projection(np.asarray(arrays["basis"], dtype=np.float32)),
            int(manifest["fitted_on"]),
            arrays["neighbours"],
            arrays["similarities"],
        )
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
    n = len(structure.keys)
    if any(len(a) != n for a in (structure.compact, structure.neighbours, structure.similarities)):
        return None
    # A damaged file must not steer an index out of range later: rows point at rows, or at -1.
    if n and (
        int(structure.neighbours.min(initial=-1)) < -1 or int(structure.neighbours.max(initial=-1)) >= n
    ):
        return None
    return structure


class _PythonWrites:
    """A file seen by numpy as a plain stream (it then writes in chunks through `write`)."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh

    def write(self, data: bytes) -> int:
        return self._fh.write(data)


def save_structure(directory: Path, name: str, structure: FolderStructure) -> FolderStructure:
    """Write a new build, switch the manifest to it, remove older builds; returns it memory-mapped."""
    build = uuid.uuid4().hex[:12]
    arrays = {
        "keys": np.array([k.encode("ascii") for k in structure.keys], dtype=bytes),
        "compact": structure.compact,
        "basis": structure.projection.basis,
        "neighbours": structure.neighbours,
        "similarities": structure.similarities,
    }
    try:
        for array_name, array in arrays.items():
            with atomic_path(directory / f"{name}-{build}.{array_name}.npy") as tmp, tmp.open("wb") as fh:
                # Through Python's write(), not numpy's C-level tofile(): a full disk then raises
                # ENOSPC, which the CLI words as "disk full", instead of "N requested and M written".
                np.save(_PythonWrites(fh), np.asarray(array))
        manifest = {
            "format": FORMAT,
            "build": build,
            "fitted_on": structure.fitted_on,
            "items": len(structure),
        }
        atomic_write_text(directory / f"{name}.json", json.dumps(manifest))
    except OSError as exc:
        for partial in directory.glob(f"{name}-{build}.*.npy"):
            partial.unlink(missing_ok=True)
        raise IndexWriteError.of(directory, exc) from None
    for old in directory.glob(f"{name}-*.npy"):
        if not old.name.startswith(f"{name}-{build}."):
            old.unlink(missing_ok=True)
    loaded = load_structure(directory, name)
    if loaded is None:
        raise OSError(f"cannot read back the structure just written to {directory}")
    return loaded


def remove_structure(directory: Path, name: str) -> None:
    (directory / f"{name}.json").unlink(missing_ok=True)
    for old in directory.glob(f"{name}-*.npy"):
        old.unlink(missing_ok=True)


def update_compact(
    catalog: Catalog, model_id: str, live: Sequence[str], old: FolderStructure | None
) -> tuple[FolderStructure, NDArray[np.int64]]:
    """Compact vectors for every live key, projecting only the new ones; and the rows to search.

    Returns the new structure (its graph carried over, with -1 for neighbours that are gone) and
    the rows whose neighbour lists must be computed: new rows and rows that lost a neighbour. All
    rows are to be searched when the structure is built afresh.
    """

    def read(hashes: Sequence[str]) -> NDArray[np.float32]:
        return catalog.vectors(model_id, hashes)

    live_set = set(live)
    rebuild = old is None or _needs_refit(old, len(live))
    if not rebuild:
        assert old is not None
        kept_rows = np.array([i for i, key in enumerate(old.keys) if key in live_set], dtype=np.int64)
        known = set(old.keys)
        added = [key for key in live if key not in known]
        changed = len(added) + len(old) - len(kept_rows)
        rebuild = changed > REBUILD_SHARE * max(len(live), 1)
    if rebuild:
        projection = fit_projection(live, read) if live else Projection(np.eye(1, dtype=np.float32))
        compact = project_keys(live, read, projection)
        k = max(0, min(GRAPH_K, len(live) - 1))
        fresh = FolderStructure(
            list(live),
            compact,
            projection,
            len(live),
            np.full((len(live), k), -1, dtype=np.int32),
            np.full((len(live), k), -np.inf, dtype=np.float32),
        )
        return fresh, np.arange(len(live), dtype=np.int64)
    assert old is not None
    if not added and len(kept_rows) == len(old):
        return old, np.zeros(0, dtype=np.int64)  # nothing changed: callers keep the stored build
    new_compact = project_keys(added, read, old.projection)
    keys = [old.keys[i] for i in kept_rows.tolist()] + added
    compact = np.concatenate([np.asarray(old.compact[kept_rows]), new_compact])
    neighbours, similarities = _carry_graph(old, kept_rows, len(keys))
    damaged = np.flatnonzero((neighbours[: len(kept_rows)] < 0).any(axis=1))
    todo = np.concatenate([damaged, np.arange(len(kept_rows), len(keys))]).astype(np.int64)
    return FolderStructure(keys, compact, old.projection, old.fitted_on, neighbours, similarities), todo


def _needs_refit(old: FolderStructure, live: int) -> bool:
    small_already = old.projection.full_dim <= old.projection.dim  # identity: nothing to refit
    return not small_already and live >= REFIT_GROWTH * max(old.fitted_on, 1)


def _carry_graph(
    old: FolderStructure, kept_rows: NDArray[np.int64], n: int
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """The old lists of the kept rows in new numbering; gone neighbours become -1 at the end."""
    k = max(0, min(GRAPH_K, n - 1))
    new_row = np.full(len(old) + 1, -1, dtype=np.int32)  # index -1 (no neighbour) maps to -1
    new_row[kept_rows] = np.arange(len(kept_rows), dtype=np.int32)
    neighbours = np.full((n, k), -1, dtype=np.int32)
    similarities = np.full((n, k), -np.inf, dtype=np.float32)
    width = min(k, old.neighbours.shape[1])
    carried = new_row[np.asarray(old.neighbours[kept_rows, :width])]
    sims = np.where(carried >= 0, np.asarray(old.similarities[kept_rows, :width]), -np.inf)
    order = np.argsort(-sims, axis=1, kind="stable")  # survivors first, best first
    neighbours[: len(kept_rows), :width] = np.take_along_axis(carried, order, axis=1)
    similarities[: len(kept_rows), :width] = np.take_along_axis(sims, order, axis=1)
    return neighbours, similarities


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
    return FolderStructure(
        structure.keys, structure.compact, structure.projection, structure.fitted_on, neighbours, similarities
    )
