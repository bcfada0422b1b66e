"""Clusters of a whole folder: Leiden communities of the k-nearest-neighbour graph.

Leiden (igraph's, in C) finds as many groups as the data holds instead of asking for a count, and
works on the sparse graph (n·k edges), never an n×n matrix; unlike Louvain, every community it
returns is connected. Its modularity resolution is the coarse ↔ fine knob. Images in
communities too small to be worth a folder go to "unsorted", so every image is in exactly one place.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .child_process import work_child
from .leiden import leiden_in_process, ready
from .neighbours import FolderVectors, KnnGraph

GRAPH_K = 12
# Modularity resolution per granularity: higher splits more. Chosen on the shared photo collection
# (see benchmarks/RESULTS.md for the purity and cluster counts they give).
RESOLUTIONS = {"coarse": 0.5, "medium": 1.0, "fine": 2.0}
MIN_CLUSTER_SIZE = {"coarse": 5, "medium": 3, "fine": 2}


@dataclass(frozen=True)
class Cluster:
    id: int
    label: str  # "kitchen" or "cluster 7": what a folder made from it is called
    paths: list[str]

    @property
    def name(self) -> str:
        return f"{self.label} · {len(self.paths)}"


@dataclass(frozen=True)
class Clustering:
    clusters: list[Cluster]
    unsorted: list[str]


def leiden_child() -> contextlib.AbstractContextManager[ProcessPoolExecutor]:
    """The child process Leiden runs in, started now: its start-up (a fresh interpreter importing
    numpy and igraph, ~0.5 s) overlaps whatever the caller reads before the graph is in hand."""
    return work_child(ready)  # `ready` imports igraph there


def leiden(
    graph: KnnGraph,
    resolution: float = 1.0,
    seed: int = 0,
    *,
    meanwhile: Callable[[], object] | None = None,
    child: ProcessPoolExecutor | None = None,
) -> NDArray[np.int64]:
    """Community label per item (0..c-1), the same for the same graph, resolution and seed.

    Run in a child process (`child`, or one started here): igraph holds the GIL throughout (0.45 s
    over the 16,758 shared photos, about a minute over a million), which would freeze a window that
    computes clusters in a thread. `meanwhile` runs here while the child works (on 2 cores the two
    overlap).
    """
    if child is None:
        with leiden_child() as started:
            return leiden(graph, resolution, seed, meanwhile=meanwhile, child=started)
    if len(graph.indices) == 0:
        membership = np.zeros(0, dtype=np.int64)
    else:
        pending = child.submit(leiden_in_process, graph.indices, graph.similarities, resolution, seed)
    if meanwhile is not None:
        meanwhile()
    if len(graph.indices):
        membership = pending.result()
    return membership


def cluster_folder(
    folder: FolderVectors,
    granularity: str = "medium",
    *,
    labels: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None,
    broader: Mapping[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    child: ProcessPoolExecutor | None = None,
) -> Clustering:
    """Every image in exactly one cluster or in `unsorted`. Clusters are numbered by size.

    `labels` (path -> predicted label, for names) may be a function: it is then called while
    Leiden runs in its child process — at 100,000 images each takes seconds. `broader` (label →
    the label it lies within: "kitchen" → "indoor") names a cluster whose members share no label
    but share a broader one.
    """
    if granularity not in RESOLUTIONS:
        raise ValueError(f"granularity must be one of {', '.join(RESOLUTIONS)}")
    named_by: list[Mapping[str, str] | None] = [None if callable(labels) else labels]

    def read_labels() -> None:
        if callable(labels):
            named_by[0] = labels()

    graph = folder.neighbours(GRAPH_K, progress)
    membership = leiden(graph, RESOLUTIONS[granularity], meanwhile=read_labels, child=child)
    labels = named_by[0]
    groups: dict[int, list[int]] = {}
    for item, community in enumerate(membership.tolist()):
        groups.setdefault(community, []).append(item)
    min_size = MIN_CLUSTER_SIZE[granularity]
    clusters: list[list[str]] = []
    unsorted: list[str] = []
    for items in groups.values():
        paths = sorted(p for i in items for p in folder.paths[i])
        if len(paths) >= min_size:
            clusters.append(paths)
        else:
            unsorted.extend(paths)
    clusters.sort(key=lambda paths: (-len(paths), paths[0]))
    named: list[Cluster] = []
    uses: dict[str, int] = {}
    for i, paths in enumerate(clusters):
        label = _label(i + 1, paths, labels, broader or {})
        uses[label] = uses.get(label, 0) + 1
        if uses[label] > 1:  # "outdoor 2": each cluster needs a folder of its own
            label = f"{label} {uses[label]}"
        named.append(Cluster(i + 1, label, paths))
    return Clustering(named, sorted(unsorted))


def _label(
    number: int, paths: list[str], labels: Mapping[str, str] | None, broader: Mapping[str, str]
) -> str:
    """'kitchen' when most members share a predicted label; else 'home' when most lie within the
    label theirs lie within (kitchens, bedrooms and a room-unsure "home"), else 'indoor' when most
    lie within that (a house's rooms and offices); else 'cluster 7'. Each member counts for its label
    and every label above it, and the most specific label that most of them share names the cluster."""
    if labels:
        counts: Counter[str] = Counter()
        depth: dict[str, int] = {}
        for path in paths:
            label, seen = labels.get(path), set[str]()
            while label and label not in seen:  # `seen`: a label set's map never loops, but be sure
                seen.add(label)
                depth[label] = min(depth.get(label, len(seen)), len(seen))
                label = broader.get(label)
            counts.update(seen)
        shared = [label for label, count in counts.items() if count >= 0.6 * len(paths)]
        if shared:  # fewest members first (a label's members are among its broader label's), then depth
            return min(shared, key=lambda label: (counts[label], depth[label], label))
    return f"cluster {number}"
