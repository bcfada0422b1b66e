"""Seed groups: the user picks example images; each gathers the images most like it.

The original script re-embedded the whole folder per seed and let groups overlap. Here stored
vectors are compared with every seed at once, and each image joins only the seed it is most
similar to (if above the threshold), so no image is in two groups. Similarities are exact (full
vectors): the threshold is a cosine the user set; the compact vectors only rule out, unread, the
images that cannot reach it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .compact import bound_matrix
from .errors import SorterError
from .neighbours import FolderVectors

# Default similarity an image needs to join a seed's group; see benchmarks/RESULTS.md for the
# precision it gives on room photos with the bundled embedder.
SEED_THRESHOLD = 0.5
_CHUNK = 10_000  # full vectors read at a time: 50 MB


@dataclass(frozen=True)
class SeedGroup:
    seed: str
    paths: list[str]  # the seed first, then members by decreasing similarity


def seed_groups(
    folder: FolderVectors, seeds: list[str], threshold: float = SEED_THRESHOLD
) -> list[SeedGroup]:
    seed_items = seed_indices(folder, seeds)
    items, closest, similarities = closest_seeds(folder, seed_items, threshold)
    members: list[list[tuple[float, str]]] = [[] for _ in seeds]
    for item, group, similarity in zip(items.tolist(), closest.tolist(), similarities.tolist(), strict=True):
        if item in seed_items or similarity < threshold:
            continue
        members[group].extend((similarity, p) for p in folder.paths[item])
    groups = []
    for g, seed in enumerate(seeds):
        copies = [p for p in folder.paths[seed_items[g]] if p != seed]
        ranked = [p for _, p in sorted(members[g], key=lambda m: (-m[0], m[1]))]
        groups.append(SeedGroup(seed, [seed, *copies, *ranked]))
    return groups


def seed_indices(folder: FolderVectors, seeds: list[str]) -> list[int]:
    """The folder item of each seed path; refused when one is not indexed or two are copies."""
    item_of = {p: i for i, paths in enumerate(folder.paths) for p in paths}
    missing = [s for s in seeds if s not in item_of]
    if missing:
        raise SorterError(f"seed not in the index: {missing[0]}")
    items = [item_of[s] for s in seeds]
    if len(set(items)) < len(items):
        raise SorterError("two seeds are copies of the same image; pick different examples")
    return items


def closest_seeds(
    folder: FolderVectors, seed_items: list[int], threshold: float
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]:
    """Items that may reach `threshold`, the seed each is most similar to, and that full cosine.

    With compact vectors, items whose bound (compact.bound_matrix) is below the threshold for
    every seed are left out unread; the others' full vectors are read a chunk at a time.
    """
    seed_full = folder.full_vectors(seed_items)
    if folder.compact:
        seed_compact = np.asarray(folder.vectors[seed_items], dtype=np.float32)
        reachable = [
            (bound_matrix(folder.vectors[start : start + _CHUNK], seed_compact) >= threshold).any(axis=1)
            for start in range(0, len(folder), _CHUNK)
        ]
        candidates = np.flatnonzero(np.concatenate(reachable))
    else:
        candidates = np.arange(len(folder), dtype=np.int64)
    groups = np.empty(len(candidates), dtype=np.int64)
    sims = np.empty(len(candidates), dtype=np.float32)
    for start in range(0, len(candidates), _CHUNK):
        rows = candidates[start : start + _CHUNK]
        scores = folder.full_vectors(rows.tolist()) @ seed_full.T  # (chunk, seeds): no n×n matrix
        groups[start : start + len(rows)] = scores.argmax(axis=1)
        sims[start : start + len(rows)] = scores.max(axis=1)
    return candidates.astype(np.int64), groups, sims
