"""Near-duplicate groups and the one image each group keeps.

Identical files (same content hash) are one entry; distinct contents are joined when the app's
near-duplicate rule accepts the pair (`near_duplicates`: embedding cosine *and* the pixel check
that finds one picture inside the other, either way round; sorter_app.core.near_rule). Pairs are
found cell by cell (cells.py) and joined here with union-find. Within and across sources alike. A
group keeps its largest-resolution image (then the one with more labels, then the larger file,
then the first path); a group whose members disagree on a label (e.g. the same photo filed as kitchen and as
dining room) keeps none of them, since neither label can be trusted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sorter_app.core.duplicates import NearRule
from sorter_app.core.near_rule import NEAR_CODE, judge_pairs

from .inputs import Item


def near_duplicates(
    rule: NearRule,
    similarities: NDArray[np.floating[Any]],
    layouts_a: NDArray[np.uint8],
    layouts_b: NDArray[np.uint8],
) -> NDArray[np.bool_]:
    """The app's near-duplicate rule on many pairs, from what each shard stores (embedding cosine,
    layout signature rows): pair k is (similarities[k], layouts_a[k], layouts_b[k]).

    The one place curate asks it: when the app's rule changes, curate follows here. A pair is a
    near-duplicate when the rule accepts it either way round: its pixel check looks for one picture
    inside the other and is not symmetric (48 of 100,000 real edited copies in benchmarks/
    bench_curate.py were accepted one way only), and the split audit, which meets a pair as (later
    split, earlier split), must judge it as the dedupe and any other caller would. Asked a batch at
    a time because the check runs vectorised over a batch: one pair per call cost 5–25 ms (a
    thread pool and the check's set-up each time), a batch ~0.25 ms a pair.
    """
    cosines = np.asarray(similarities, np.float32)
    a, b = [row.tobytes() for row in layouts_a], [row.tobytes() for row in layouts_b]
    accepted = _accepted(rule, cosines, a, b)
    other_way = np.flatnonzero(~accepted).tolist()
    accepted[other_way] = _accepted(
        rule, cosines[other_way], [b[k] for k in other_way], [a[k] for k in other_way]
    )
    return accepted


def _accepted(
    rule: NearRule, cosines: NDArray[np.float32], a: list[bytes], b: list[bytes]
) -> NDArray[np.bool_]:
    if not a:
        return np.zeros(0, dtype=bool)
    accepted: NDArray[np.bool_] = judge_pairs(cosines, a, b, rule).tier == NEAR_CODE
    return accepted


def embedding_floor(rule: NearRule) -> float:
    """The embedding cosine from which curate compares every pair of a set (the rule's
    `all_pairs_candidate`): the searches look for every pair over it (and no further), so they
    follow the rule when it changes. A cost, not a judgement: the pixel check decides."""
    return rule.all_pairs_candidate


@dataclass(frozen=True)
class Group:
    members: list[int]  # item indices, in input order
    keep: int | None  # None when the members' labels conflict
    tier: str  # "exact": identical bytes only; "near": at least two distinct contents


def union_groups(pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Connected components (≥ 2 members, each sorted; sorted by first member) of the pairs' graph."""
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        root = i
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(i, i) != root:
            parent[i], i = root, parent[i]
        return root

    for a, b in pairs:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for i in parent:
        groups.setdefault(find(i), []).append(i)
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def exact_pairs(indices: Sequence[int], hashes: Sequence[str]) -> tuple[list[int], list[tuple[int, int]]]:
    """(one representative per distinct content, pairs joining each copy to its representative)."""
    first: dict[str, int] = {}
    pairs = []
    for i in indices:
        rep = first.setdefault(hashes[i], i)
        if rep != i:
            pairs.append((rep, i))
    return sorted(first.values()), pairs


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
