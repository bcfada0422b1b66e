"""Seed groups: the user picks example images; each gathers the images most like it.

The original script re-embedded the whole folder per seed and let groups overlap. Here stored
vectors are compared with every seed at once, and each image joins only the seed it is most
similar to (if above the threshold), so no image is in two groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import SorterError
from .neighbours import FolderVectors

# Default similarity an image needs to join a seed's group; see benchmarks/RESULTS.md for the
# precision it gives on room photos with the bundled embedder.
SEED_THRESHOLD = 0.5


@dataclass(frozen=True)
class SeedGroup:
    seed: str
    paths: list[str]  # the seed first, then members by decreasing similarity


def seed_groups(
    folder: FolderVectors, seeds: list[str], threshold: float = SEED_THRESHOLD
) -> list[SeedGroup]:
    item_of = {p: i for i, paths in enumerate(folder.paths) for p in paths}
    missing = [s for s in seeds if s not in item_of]
    if missing:
        raise SorterError(f"seed not in the index: {missing[0]}")
    seed_items = [item_of[s] for s in seeds]
    if len(set(seed_items)) < len(seed_items):
        raise SorterError("two seeds are copies of the same image; pick different examples")
    sims = folder.vectors @ folder.vectors[seed_items].T  # (n, seeds): no n×n matrix
    best = sims.argmax(axis=1)
    best_sim = sims[np.arange(len(sims)), best]
    members: list[list[tuple[float, str]]] = [[] for _ in seeds]
    for item, (group, similarity) in enumerate(zip(best.tolist(), best_sim.tolist(), strict=True)):
        if item in seed_items or similarity < threshold:
            continue
        members[group].extend((similarity, p) for p in folder.paths[item])
    groups = []
    for g, seed in enumerate(seeds):
        copies = [p for p in folder.paths[seed_items[g]] if p != seed]
        ranked = [p for _, p in sorted(members[g], key=lambda m: (-m[0], m[1]))]
        groups.append(SeedGroup(seed, [seed, *copies, *ranked]))
    return groups
