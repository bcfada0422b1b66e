"""Finding neighbour lists in compact space: exactly for small folders, through Annoy for big ones.

Up to EXACT_LIMIT rows every list is exact (a block of rows times all rows, ~0.7 s for 20,000
images at 256-d). Above it, the folder's persisted Annoy index (built on the first SEARCH_DIM
compact coordinates) proposes candidates, rows added since it was built are compared exactly, and
every candidate is re-scored with all COMPACT_DIM coordinates.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .compact import SEARCH_DIM, unit_rows
from .errors import SorterError
from .vector_index import AnnoySearch

GRAPH_K = 16  # what the widest user needs: the map's 15 neighbours (clusters 12, duplicates 8)
EXACT_LIMIT = 20_000
CANDIDATES_PER_NEIGHBOUR = 3
# Annoy nodes inspected per candidate per tree. Over the 16,758 shared photos 2, 4 and 8 all find
# 99.99 % of the exact compact top 16; 4 leaves room for bigger folders.
SEARCH_K_FACTOR = 4
_BLOCK = 256


@dataclass(frozen=True)
class SearchIndex:
    """The folder's Annoy index, seen in the structure's row numbers."""

    annoy: AnnoySearch
    row_of_item: NDArray[np.int64]  # Annoy item -> structure row (-1: gone since the build)
    pool: NDArray[np.int64]  # rows Annoy does not hold (added since its build): compared exactly

    @classmethod
    def over(cls, annoy: AnnoySearch, row_of_item: NDArray[np.int64], rows: int) -> SearchIndex:
        held = np.zeros(rows, dtype=bool)
        held[row_of_item[row_of_item >= 0]] = True
        return cls(annoy, row_of_item, np.flatnonzero(~held).astype(np.int64))


def neighbour_lists(
    compact: NDArray[np.floating],
    rows: NDArray[np.int64],
    k: int,
    search: SearchIndex | None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """The k nearest other rows of each of `rows` and their compact cosines, best first."""
    if len(compact) <= EXACT_LIMIT:
        return _exact_lists(compact, rows, k, progress)
    if search is None:  # exact search would hold n × n/256 scores per block: refuse, loudly
        raise SorterError(f"no search index for a folder of {len(compact)} images; index it again")
    return _annoy_lists(compact, rows, k, search, progress)


def _blocks(rows: NDArray[np.int64]) -> Iterator[NDArray[np.int64]]:
    for start in range(0, len(rows), _BLOCK):
        yield rows[start : start + _BLOCK]


def _best(
    candidates: NDArray[np.int64], sims: NDArray[np.float32], own: NDArray[np.int64], k: int
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """The k best distinct candidates of each row, never the row itself; -1 pads short rows."""
    by_candidate = np.argsort(candidates, axis=1, kind="stable")
    candidates = np.take_along_axis(candidates, by_candidate, axis=1)
    sims = np.take_along_axis(sims, by_candidate, axis=1).astype(np.float32)
    sims[candidates == own[:, None]] = -np.inf
    sims[:, 1:][candidates[:, 1:] == candidates[:, :-1]] = -np.inf  # proposed twice: count once
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    best = np.take_along_axis(sims, order, axis=1)
    chosen = np.where(np.isfinite(best), np.take_along_axis(candidates, order, axis=1), -1)
    return chosen.astype(np.int32), best


def _exact_lists(
    compact: NDArray[np.floating],
    rows: NDArray[np.int64],
    k: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    unit = unit_rows(compact)
    everyone = np.arange(len(unit), dtype=np.int64)
    found = np.empty((len(rows), k), dtype=np.int32)
    sims = np.empty((len(rows), k), dtype=np.float32)
    done = 0
    for block in _blocks(rows):
        scores = unit[block] @ unit.T
        top = np.argpartition(-scores, min(k, len(unit) - 1), axis=1)[:, : k + 1]
        candidates = np.broadcast_to(everyone, scores.shape)
        found[done : done + len(block)], sims[done : done + len(block)] = _best(
            np.take_along_axis(candidates, top, axis=1), np.take_along_axis(scores, top, axis=1), block, k
        )
        done += len(block)
        if progress:
            progress(done, len(rows))
    return found, sims


def _annoy_lists(
    compact: NDArray[np.floating],
    rows: NDArray[np.int64],
    k: int,
    search: SearchIndex,
    progress: Callable[[int, int], None] | None,
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    wanted = CANDIDATES_PER_NEIGHBOUR * k + 1
    search_k = wanted * search.annoy.manifest.n_trees * SEARCH_K_FACTOR
    pool_unit = unit_rows(compact[search.pool]) if len(search.pool) else None
    found = np.empty((len(rows), k), dtype=np.int32)
    sims = np.empty((len(rows), k), dtype=np.float32)

    def fill(start: int) -> int:
        block = rows[start : start + _BLOCK]
        unit = unit_rows(compact[block])
        queries = np.asarray(compact[block, :SEARCH_DIM], dtype=np.float32)
        proposed = np.repeat(block[:, None], wanted, axis=1)  # short answers are padded with the row
        for r, query in enumerate(queries):
            hits = search.row_of_item[search.annoy.items_near(query, wanted, search_k)]
            proposed[r, : len(hits)] = np.where(hits >= 0, hits, block[r])
        if pool_unit is not None:  # rows added since the Annoy build: compared with every one
            scores = unit @ pool_unit.T
            top = np.argsort(-scores, axis=1)[:, :k]
            proposed = np.concatenate([proposed, search.pool[top]], axis=1)
        candidate_unit = unit_rows(compact[proposed.ravel()]).reshape(len(block), proposed.shape[1], -1)
        scores = np.einsum("rd,rcd->rc", unit, candidate_unit)
        chosen = _best(proposed, scores, block, k)
        found[start : start + len(block)], sims[start : start + len(block)] = chosen
        return len(block)

    done = 0
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # Annoy's search releases the GIL
        for count in pool.map(fill, range(0, len(rows), _BLOCK)):
            done += count
            if progress:
                progress(done, len(rows))
    return found, sims


def merge_reverse_edges(
    neighbours: NDArray[np.int32], similarities: NDArray[np.float32], searched: NDArray[np.int64]
) -> None:
    """Let each searched row into the lists of the rows it found, where it beats their worst entry.

    Neighbourhood is nearly symmetric: a new photo's neighbours mostly have it among theirs. This is
    what keeps an incrementally updated graph close to one built afresh.
    """
    k = neighbours.shape[1]
    sources = np.repeat(searched, k)
    targets = neighbours[searched].ravel().astype(np.int64)
    sims = similarities[searched].ravel()
    keep = (targets >= 0) & (sims > similarities[np.maximum(targets, 0), k - 1])
    beaten = zip(sources[keep].tolist(), targets[keep].tolist(), sims[keep].tolist(), strict=True)
    for source, target, sim in beaten:
        row_sims = similarities[target]
        if sim <= row_sims[k - 1] or source in neighbours[target]:
            continue
        at = int(np.searchsorted(-row_sims, -sim, side="right"))
        neighbours[target, at + 1 :] = neighbours[target, at:-1].copy()
        similarities[target, at + 1 :] = row_sims[at:-1].copy()
        neighbours[target, at] = source
        similarities[target, at] = sim
