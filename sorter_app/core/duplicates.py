"""Duplicates in tiers: exact (same bytes) and near (edited copies: re-encodes, resizes, crops, flips).

A near-duplicate must look the same to the embedder *and* keep the coarse pixel layout (layout.py):
embeddings alone put different cloudy skies as close as a re-encoded copy. Groups, not pairs:
accepted edges of the neighbour graph are joined into connected groups. Each group suggests the
copy to keep and says why; the rule is keeper.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .catalog import FileFacts
from .keeper import suggest_keep
from .layout import layout_similarity
from .neighbours import FolderVectors, KnnGraph, exact_similarities

DUPLICATE_K = 8


@dataclass(frozen=True)
class NearRule:
    """(embedding ≥ similar and layout ≥ same_layout) or (embedding ≥ very_similar and layout ≥ shifted).

    The second clause admits crops, whose layout shifts, only when the embedder is very sure.
    Calibrated for the bundled EfficientNet-Lite0 by benchmarks/calibrate_duplicates.py on edited
    copies of real photos against look-alike unrelated ones (figures in benchmarks/RESULTS.md).
    """

    similar: float = 0.85
    same_layout: float = 0.90
    very_similar: float = 0.94
    shifted_layout: float = 0.70

    def accepts(self, embedding: float, layout: float) -> bool:
        return (embedding >= self.similar and layout >= self.same_layout) or (
            embedding >= self.very_similar and layout >= self.shifted_layout
        )


NEAR_DUPLICATE_THRESHOLD = NearRule().similar


@dataclass(frozen=True)
class DuplicateGroup:
    tier: str  # "exact" or "near"
    keep: str
    paths: list[str]
    why: str


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def near_duplicate_components(
    graph: KnnGraph, layouts: Sequence[bytes | None], rule: NearRule
) -> list[list[int]]:
    """Connected groups of items joined by graph edges the rule accepts (union-find)."""
    n = len(graph.indices)
    parent = list(range(n))
    rows, cols = np.nonzero(graph.similarities >= min(rule.similar, rule.very_similar))
    for a, b, sim in zip(
        rows.tolist(),
        graph.indices[rows, cols].tolist(),
        graph.similarities[rows, cols].tolist(),
        strict=True,
    ):
        layout_a, layout_b = layouts[a], layouts[b]
        if (
            layout_a is None
            or layout_b is None
            or not rule.accepts(sim, layout_similarity(layout_a, layout_b))
        ):
            continue
        root_a, root_b = _find(parent, a), _find(parent, b)
        if root_a != root_b:
            parent[max(root_a, root_b)] = min(root_a, root_b)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(_find(parent, i), []).append(i)
    return [items for items in groups.values() if len(items) > 1]


def find_duplicates(
    folder: FolderVectors,
    facts: Mapping[str, FileFacts],
    layouts: Mapping[str, bytes],
    *,
    rule: NearRule = NearRule(),
    graph: KnnGraph | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[DuplicateGroup]:
    """Near groups (which absorb exact copies of their members), then the remaining exact groups."""
    if graph is None:
        candidates = folder.neighbours(2 * DUPLICATE_K, progress)  # compact cosines from a library
        graph = exact_similarities(folder, candidates, min(rule.similar, rule.very_similar), DUPLICATE_K)
    groups: list[DuplicateGroup] = []
    in_near_group: set[int] = set()
    item_layouts = [layouts.get(key) for key in folder.keys]
    for items in near_duplicate_components(graph, item_layouts, rule):
        in_near_group.update(items)
        paths = sorted(p for i in items for p in folder.paths[i])
        groups.append(_group("near", paths, facts))
    for i, paths in enumerate(folder.paths):
        if len(paths) > 1 and i not in in_near_group:
            groups.append(_group("exact", list(paths), facts))
    groups.sort(key=lambda g: (-len(g.paths), g.paths[0]))
    return groups


def _group(tier: str, paths: list[str], facts: Mapping[str, FileFacts]) -> DuplicateGroup:
    keep, why = suggest_keep(paths, facts)
    return DuplicateGroup(tier, keep, paths, why)
