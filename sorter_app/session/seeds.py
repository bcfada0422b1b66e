"""Seed groups with a threshold the user moves and sees the effect of at once.

One global threshold did not fit every seed (a bathroom seed gathered 116 mixed rooms, a desert
seed only itself), so the window computes each image's similarity to every seed once, off the UI
thread, and then any threshold is a cheap cut of those numbers: the page shows the count live
while the slider moves, and every tile its similarity. The rule is core/seed_groups.py's: each
image joins only the seed it is most like, so groups never share an image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
from numpy.typing import NDArray

from ..core.grouping import SEED_GROUPS, Group, Grouping
from ..core.neighbours import FolderVectors
from ..core.seed_groups import closest_seeds, seed_indices


@dataclass(frozen=True)
class SeedScores:
    seeds: list[str]  # relpaths, in the order the user picked them
    paths: list[str]  # every image but the seeds' own content
    best: NDArray[np.int64]  # per path: the seed it is most like
    similarity: NDArray[np.float32]  # per path: how much
    seed_copies: list[list[str]]  # per seed: byte-identical copies of it (always in its group)

    def count_at(self, threshold: float) -> int:
        """How many images a threshold gathers, seeds and their copies included."""
        return int((self.similarity >= threshold).sum()) + sum(1 + len(c) for c in self.seed_copies)

    def grouping_at(self, threshold: float) -> Grouping:
        """The seed first, its copies, then members by decreasing similarity (shown on the tiles)."""
        order = np.argsort(-self.similarity, kind="stable")
        members: list[list[str]] = [[] for _ in self.seeds]
        scores: list[dict[str, float]] = [{} for _ in self.seeds]
        for i in order.tolist():
            similarity = float(self.similarity[i])
            if similarity < threshold:
                break
            g = int(self.best[i])
            members[g].append(self.paths[i])
            scores[g][self.paths[i]] = similarity
        groups = []
        for g, seed in enumerate(self.seeds):
            copies = self.seed_copies[g]
            scores[g].update({p: 1.0 for p in (seed, *copies)})
            name = PurePosixPath(seed).stem
            groups.append(
                Group(
                    f"seed-{g + 1}",
                    name,
                    [seed, *copies, *members[g]],
                    note=f"images most like {seed}",
                    scores=scores[g],
                )
            )
        return Grouping(SEED_GROUPS, groups)


SLIDER_FLOOR = 0.0  # the lowest threshold the page offers: images below it never join at any setting


def score_seeds(folder: FolderVectors, seeds: list[str]) -> SeedScores:
    """Every image's exact similarity to the seed it is most like (core/seed_groups.py's rule and
    its reading of full vectors), for images that can reach the slider's lowest setting."""
    seed_items = seed_indices(folder, seeds)
    items, closest, similarities = closest_seeds(folder, seed_items, SLIDER_FLOOR)
    taken = set(seed_items)
    rows = [
        (p, g, sim)
        for item, g, sim in zip(items.tolist(), closest.tolist(), similarities.tolist(), strict=True)
        if item not in taken
        for p in folder.paths[item]
    ]
    return SeedScores(
        list(seeds),
        [p for p, _, _ in rows],
        np.array([g for _, g, _ in rows], dtype=np.int64),
        np.array([sim for _, _, sim in rows], dtype=np.float32),
        [[p for p in folder.paths[item] if p != seed] for seed, item in zip(seeds, seed_items, strict=True)],
    )
