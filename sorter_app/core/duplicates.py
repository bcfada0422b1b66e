"""Duplicates in tiers: exact (same bytes), near (the same picture, edited), and similar.

The k-NN graph proposes pairs; near_rule.py decides each one from the stored embedding and layout
(an embedding alone puts different cloudy skies as close as a re-encoded copy). Groups, not pairs:
accepted edges are joined into connected groups. An exact or near group suggests the copy to keep
and says why (the rule is keeper.py's); a near group also says what its copies look like (cropped,
resized, flipped…). A *similar* group — photos the embedding finds very alike but that are not the
same picture — is for the user to look at; it has no copy to keep and is never proposed for the
trash.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
from numpy.typing import NDArray

from .catalog import FileFacts
from .keeper import suggest_keep
from .near_rule import DEFAULT_RULE, NEAR_CODE, SIMILAR_CODE, PairVerdicts, judge_pairs
from .near_rule import NearRule as NearRule  # re-exported: the curate dedup takes the rule from here
from .neighbours import FolderVectors, KnnGraph, exact_similarities

DUPLICATE_K = 8
_CHUNK = 16384  # pairs decided before the groups found so far are used to skip joined ones
NEAR_DUPLICATE_THRESHOLD = DEFAULT_RULE.candidate


@dataclass(frozen=True)
class DuplicateGroup:
    tier: str  # "exact" or "near"
    keep: str
    paths: list[str]
    why: str
    edits: tuple[str, ...] = ()  # near groups: what the copies look like ("cropped", "resized", …)


@dataclass(frozen=True)
class SimilarGroup:
    """Photos that look very alike but are not the same picture: to look at, never to trash."""

    paths: list[str]
    similarity: float  # the highest embedding cosine that joined the group


@dataclass(frozen=True)
class DuplicateTiers:
    groups: list[DuplicateGroup]  # exact and near: each has a copy to keep
    similar: list[SimilarGroup] = field(default_factory=list)


@dataclass(frozen=True)
class PairEdges:
    """The graph's distinct pairs (a < b) above some cosine, with each pair's verdict."""

    a: NDArray[np.int64]
    b: NDArray[np.int64]
    verdicts: PairVerdicts


def duplicate_graph(
    folder: FolderVectors, rule: NearRule, progress: Callable[[int, int], None] | None = None
) -> KnnGraph:
    """Each item's DUPLICATE_K nearest by exact cosine, wherever that cosine could reach the rule.

    The folder's stored graph (compact cosines) is read twice as wide, so that neighbours the
    compact cosines rank a little low still make the cut.
    """
    candidates = folder.neighbours(2 * DUPLICATE_K, progress)
    return exact_similarities(folder, candidates, rule.lowest, DUPLICATE_K)


def candidate_pairs(
    graph: KnnGraph, lowest: float
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]:
    """Each undirected graph edge with cosine ≥ `lowest` once: (a, b, cosine) with a < b."""
    rows, cols = np.nonzero((graph.similarities >= lowest) & (graph.indices >= 0))
    other = graph.indices[rows, cols]
    a, b = np.minimum(rows, other), np.maximum(rows, other)
    keys = np.unique(a.astype(np.int64) * (len(graph.indices) + 1) + b, return_index=True)[1]
    keys = keys[a[keys] != b[keys]]
    return a[keys].astype(np.int64), b[keys].astype(np.int64), graph.similarities[rows, cols][keys]


def judge_edges(
    graph: KnnGraph,
    layouts: Sequence[bytes | None],
    rule: NearRule,
    sizes: Sequence[tuple[int, int] | None] | None = None,
) -> PairEdges:
    """Every candidate pair of the graph, decided by the rule, closest pairs first.

    A pair whose two images are already joined through other near pairs is not checked again (a
    photo with fifteen copies needs fifteen checks, not a hundred): its verdict is near, with no
    score (−1) and no edits of its own.
    """
    a, b, cosines = candidate_pairs(graph, rule.lowest)
    order = np.argsort(-cosines, kind="stable")
    tier = np.full(len(a), NEAR_CODE, dtype=np.int8)
    score = np.full(len(a), -1.0, dtype=np.float32)
    edits: dict[int, tuple[str, ...]] = {}
    first, second = a.tolist(), b.tolist()
    parent = list(range(len(graph.indices)))
    for start in range(0, len(order), _CHUNK):
        todo = [
            k
            for k in order[start : start + _CHUNK].tolist()
            if _find(parent, first[k]) != _find(parent, second[k])
        ]
        if not todo:
            continue
        pair_sizes = _PairSizes(sizes, first, second, todo) if sizes is not None else None
        found = judge_pairs(
            cosines[todo],
            [layouts[first[k]] for k in todo],
            [layouts[second[k]] for k in todo],
            rule,
            pair_sizes,
        )
        rows = np.asarray(todo, dtype=np.int64)
        tier[rows], score[rows] = found.tier, found.score
        edits.update((todo[i], seen) for i, seen in found.edits.items())
        for i in np.flatnonzero(found.tier == NEAR_CODE).tolist():
            root_a, root_b = _find(parent, first[todo[i]]), _find(parent, second[todo[i]])
            parent[max(root_a, root_b)] = min(root_a, root_b)
    return PairEdges(a, b, PairVerdicts(tier, cosines, score, edits))


class _PairSizes(Sequence[tuple[tuple[int, int], tuple[int, int]] | None]):
    """The two images' sizes of each pair in `todo`, worked out only for the pairs the pixel check
    reads them for (a version-2 pair that it finds near)."""

    def __init__(
        self, sizes: Sequence[tuple[int, int] | None], first: list[int], second: list[int], todo: list[int]
    ) -> None:
        self.sizes, self.first, self.second, self.todo = sizes, first, second, todo

    def __len__(self) -> int:
        return len(self.todo)

    @overload
    def __getitem__(self, i: int) -> tuple[tuple[int, int], tuple[int, int]] | None: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[tuple[tuple[int, int], tuple[int, int]] | None]: ...
    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        a, b = self.sizes[self.first[self.todo[i]]], self.sizes[self.second[self.todo[i]]]
        return (a, b) if a is not None and b is not None else None


def near_duplicate_components(
    graph: KnnGraph, layouts: Sequence[bytes | None], rule: NearRule
) -> list[list[int]]:
    """Connected groups of items joined by graph edges the rule calls near-duplicates."""
    edges = judge_edges(graph, layouts, rule)
    return _components(len(graph.indices), edges, NEAR_CODE)


def _components(
    n: int, edges: PairEdges, tier: int, skip: Callable[[int, int], bool] | None = None
) -> list[list[int]]:
    """Items joined by pairs of `tier` (a code of near_rule.TIERS), in groups of two or more."""
    parent = list(range(n))
    pairs = np.flatnonzero(edges.verdicts.tier == tier)
    for a, b in zip(edges.a[pairs].tolist(), edges.b[pairs].tolist(), strict=True):
        if skip is not None and skip(a, b):
            continue
        root_a, root_b = _find(parent, a), _find(parent, b)
        if root_a != root_b:
            parent[max(root_a, root_b)] = min(root_a, root_b)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(_find(parent, i), []).append(i)
    return [items for items in groups.values() if len(items) > 1]


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def find_duplicate_tiers(
    folder: FolderVectors,
    facts: Mapping[str, FileFacts],
    layouts: Mapping[str, bytes],
    *,
    rule: NearRule = DEFAULT_RULE,
    graph: KnnGraph | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DuplicateTiers:
    """Near groups (which absorb exact copies of their members), the remaining exact groups, and
    the similar groups among what is left apart."""
    if graph is None:
        graph = duplicate_graph(folder, rule, progress)
    item_layouts = [layouts.get(key) for key in folder.keys]
    item_sizes = [_size(paths, facts) for paths in folder.paths]
    edges = judge_edges(graph, item_layouts, rule, item_sizes)
    verdicts = edges.verdicts
    near = _components(len(folder), edges, NEAR_CODE)
    group_of = {i: number for number, items in enumerate(near) for i in items}
    edits: list[set[str]] = [set() for _ in near]
    for pair, seen in verdicts.edits.items():
        edits[group_of[int(edges.a[pair])]].update(seen)
    groups = [
        _group("near", sorted(p for i in items for p in folder.paths[i]), facts, tuple(sorted(seen)))
        for items, seen in zip(near, edits, strict=True)
    ]
    for i, paths in enumerate(folder.paths):
        if len(paths) > 1 and i not in group_of:
            group_of[i] = len(groups)
            groups.append(_group("exact", list(paths), facts, ()))
    groups.sort(key=lambda g: (-len(g.paths), g.paths[0]))

    def same_group(a: int, b: int) -> bool:
        return a in group_of and group_of.get(b) == group_of[a]

    similar_items = _components(len(folder), edges, SIMILAR_CODE, skip=same_group)
    similar_of = {i: number for number, items in enumerate(similar_items) for i in items}
    closest = [0.0] * len(similar_items)
    similar_pairs = np.flatnonzero(verdicts.tier == SIMILAR_CODE)
    for a, b, cosine in zip(
        edges.a[similar_pairs].tolist(),
        edges.b[similar_pairs].tolist(),
        verdicts.cosine[similar_pairs].tolist(),
        strict=True,
    ):
        if not same_group(a, b):
            closest[similar_of[a]] = max(closest[similar_of[a]], cosine)
    similar = [
        SimilarGroup(sorted(p for i in items for p in folder.paths[i]), round(cosine, 4))
        for items, cosine in zip(similar_items, closest, strict=True)
    ]
    similar.sort(key=lambda g: (-len(g.paths), g.paths[0]))
    return DuplicateTiers(groups, similar)


def find_duplicates(
    folder: FolderVectors,
    facts: Mapping[str, FileFacts],
    layouts: Mapping[str, bytes],
    *,
    rule: NearRule = DEFAULT_RULE,
    graph: KnnGraph | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[DuplicateGroup]:
    """The exact and near groups (those with a copy to keep)."""
    return find_duplicate_tiers(folder, facts, layouts, rule=rule, graph=graph, progress=progress).groups


def _size(paths: Sequence[str], facts: Mapping[str, FileFacts]) -> tuple[int, int] | None:
    known = next((facts[p] for p in paths if p in facts), None)
    return (known.width, known.height) if known is not None else None


def _group(
    tier: str, paths: list[str], facts: Mapping[str, FileFacts], edits: tuple[str, ...]
) -> DuplicateGroup:
    keep, why = suggest_keep(paths, facts)
    return DuplicateGroup(tier, keep, paths, why, edits)
