"""Outliers: images far from all their neighbours.

The score is 1 − the mean cosine similarity to an image's nearest distinct neighbours (compact
cosines from the folder's stored graph: a ranking, where exact values do not matter), so an odd
frame in a time-lapse or an off-topic picture in a dataset scores high even when a few other odd
images exist (k > 1 keeps a pair of strays from vouching for each other).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .neighbours import FolderVectors, KnnGraph

OUTLIER_K = 5


@dataclass(frozen=True)
class Outlier:
    path: str
    score: float


def find_outliers(
    folder: FolderVectors,
    *,
    k: int = OUTLIER_K,
    graph: KnnGraph | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Outlier]:
    """Every image, most unusual first (ties by path)."""
    if len(folder) < 2:  # one distinct picture (perhaps in several copies): nothing stands out
        return sorted((Outlier(p, 0.0) for paths in folder.paths for p in paths), key=lambda o: o.path)
    if graph is None or graph.similarities.shape[1] < min(k, len(folder) - 1):
        graph = folder.neighbours(k, progress)
    found = graph.indices[:, :k] >= 0
    sims = np.where(found, graph.similarities[:, :k], 0.0).sum(axis=1) / np.maximum(found.sum(axis=1), 1)
    scores = 1.0 - sims
    ranked = [Outlier(p, float(scores[i])) for i, paths in enumerate(folder.paths) for p in paths]
    ranked.sort(key=lambda o: (-o.score, o.path))
    return ranked
