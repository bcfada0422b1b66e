"""Outliers: images far from all their neighbours.

The score is 1 − the mean cosine similarity to an image's nearest distinct neighbours, so an odd
frame in a time-lapse or an off-topic picture in a dataset scores high even when a few other odd
images exist (k > 1 keeps a pair of strays from vouching for each other).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .neighbours import FolderVectors, KnnGraph, knn_graph

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
        graph = knn_graph(folder.vectors, k, progress=progress)
    scores = 1.0 - graph.similarities[:, :k].mean(axis=1)
    ranked = [Outlier(p, float(scores[i])) for i, paths in enumerate(folder.paths) for p in paths]
    ranked.sort(key=lambda o: (-o.score, o.path))
    return ranked
