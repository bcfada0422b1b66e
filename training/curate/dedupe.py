"""Near-duplicate groups, found exactly as the app finds them, and the one image each group keeps.

Identical files (same content hash) are one entry; distinct contents are joined when the app's
calibrated `NearRule` accepts an edge of the k-NN graph (embedding cosine *and* 16×16 layout
correlation), so no n×n matrix is formed. Within and across sources alike. A group keeps its
largest-resolution image (then the one with more labels, then the larger file, then the first
path); a group whose members disagree on a label (e.g. the same photo filed as kitchen and as
dining room) keeps none of them, since neither label can be trusted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sorter_app.core.duplicates import DUPLICATE_K, NearRule, near_duplicate_components
from sorter_app.core.neighbours import knn_graph

from .inputs import Item


@dataclass(frozen=True)
class Group:
    members: list[int]  # item indices, in input order
    keep: int | None  # None when the members' labels conflict
    tier: str  # "exact": identical bytes only; "near": at least two distinct contents


def find_groups(
    indices: Sequence[int],
    hashes: Sequence[str],
    embeddings: NDArray[np.float32],
    layouts: Sequence[bytes | None],
    *,
    rule: NearRule,
    k: int = DUPLICATE_K,
    progress: Callable[[int, int], None] | None = None,
) -> list[list[int]]:
    """Groups (≥ 2 items) among `indices`, each a sorted list of item indices, tier implied."""
    by_hash: dict[str, list[int]] = {}
    for i in indices:
        by_hash.setdefault(hashes[i], []).append(i)
    contents = list(by_hash.values())
    firsts = [members[0] for members in contents]
    vectors = np.ascontiguousarray(embeddings[firsts], dtype=np.float32)
    graph = knn_graph(vectors, k, progress=progress)
    groups = []
    in_near = set()
    for component in near_duplicate_components(graph, [layouts[i] for i in firsts], rule):
        in_near.update(component)
        groups.append(sorted(i for c in component for i in contents[c]))
    groups += [members for c, members in enumerate(contents) if len(members) > 1 and c not in in_near]
    groups.sort(key=lambda g: g[0])
    return groups


def resolve_group(
    members: list[int],
    items: Sequence[Item],
    hashes: Sequence[str],
    pixels: NDArray[np.int64],
    file_sizes: NDArray[np.int64],
) -> Group:
    tier = "exact" if len({hashes[i] for i in members}) == 1 else "near"
    if labels_conflict([items[i] for i in members]):
        return Group(members, None, tier)

    def rank(i: int) -> tuple[int, int, int, int]:
        labels = int(bool(items[i].scene)) + int(bool(items[i].room))
        return (-int(pixels[i]), -labels, -int(file_sizes[i]), i)

    return Group(members, min(members, key=rank), tier)


def labels_conflict(members: Sequence[Item]) -> bool:
    """Two members give different known values for the same head (unknown agrees with anything)."""
    scenes = {m.scene for m in members if m.scene}
    rooms = {m.room for m in members if m.room}
    return len(scenes) > 1 or len(rooms) > 1
