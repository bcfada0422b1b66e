"""The split audit: every val and test image checked against every image of the splits before it.

The dedupe's cells find ~95 % of near-duplicate pairs; a pair they miss would leak if its two
images fell in different splits. So the audit is exhaustive, not a second approximate search:
val is compared with all of train, test with all of train and val — every pair across two splits,
each once (0.17 n² pairs at 80/10/10). bounded.py makes that affordable (an upper bound on the
cosine from 257 numbers per image, full vectors only for the ~1 in 8,000 pairs whose bound reaches
the rule's floor), and it misses nothing: any pair the rule accepts has a cosine over the floor,
so the audit finds every near-duplicate pair across splits, and the caller drops one image of
each. No group spans two splits in the output, by construction rather than by measured recall.

Cost grows with n² (the price of the guarantee): tasks are blocks of `QUERY_ROWS` images of one
split against `BASE_ROWS` of the splits before it, streamed in chunks, so a task's memory is
bounded whatever n; benchmarks/RESULTS.md has the measured figures and the extrapolation.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sorter_app.core.duplicates import NearRule

from .bounded import Projection, SearchCost, pairs_over
from .dedupe import embedding_floor, near_duplicates
from .engines import Engine
from .rows import Rows

QUERY_ROWS = 65_536  # images of the later split per task (~420 MB with their reduced vectors)
BASE_ROWS = 262_144  # images of the earlier splits per task, loaded BASE_CHUNK at a time
BASE_CHUNK = 16_384
PROJECTION_SAMPLE = 16_384


@dataclass(frozen=True)
class AuditTask:
    queries: NDArray[np.int64]  # sorted ids, all in one split
    base: NDArray[np.int64]  # sorted ids, all in splits before it
    rows: Rows
    projection: Projection
    rule: NearRule


@dataclass(frozen=True)
class AuditResult:
    pairs: NDArray[np.int64]  # [p, 2] (query id, base id) pairs the rule accepts
    bounds: int
    candidates: int
    over_floor: int
    peak_rss_mb: float
    cpu_seconds: float


def run_audit_task(task: AuditTask) -> AuditResult:
    started = time.process_time()
    floor = embedding_floor(task.rule)
    queries, query_layouts = task.rows.load(task.queries)
    query_reduced = task.projection.reduce(queries)
    cost = SearchCost()
    over_floor = 0
    pairs: list[tuple[int, int]] = []
    base_ids = task.rows.storage_order(task.base)  # each chunk reads a few shards, not all of them
    for start in range(0, len(base_ids), BASE_CHUNK):
        chunk = base_ids[start : start + BASE_CHUNK]
        base, base_layouts = task.rows.load(chunk)
        base_reduced = task.projection.reduce(base)
        for rows, cols, sims in pairs_over(queries, query_reduced, base, base_reduced, floor, cost):
            over_floor += len(rows)
            accepted = near_duplicates(task.rule, sims, query_layouts[rows], base_layouts[cols])
            pairs += zip(task.queries[rows[accepted]].tolist(), chunk[cols[accepted]].tolist(), strict=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return AuditResult(
        np.array(sorted(pairs), np.int64).reshape(-1, 2),
        cost.bounds,
        cost.candidates,
        over_floor,
        peak,
        time.process_time() - started,
    )


@dataclass
class AuditSearch:
    """Every pair across splits the rule accepts, and what finding them cost (for the manifest)."""

    pairs: NDArray[np.int64]  # [p, 2] (later split's id, earlier split's id), sorted
    reduced_dims: int | None  # None: full vectors throughout (a small run)
    bounds: int
    candidates: int
    over_floor: int
    tasks: int
    peak_rss_mb: float
    cpu_seconds: float = 0.0

    def describe(self) -> dict[str, object]:
        return {
            "method": "exhaustive: every pair across two splits, by reduced-vector bounds on the cosine"
            " and full vectors over the rule's floor",
            "reduced_dims": self.reduced_dims,
            "bounds_computed": self.bounds,
            "rescored_with_full_vectors": self.candidates,
            "pairs_over_embedding_floor": self.over_floor,
        }


def audit_tasks(
    split_ids: list[NDArray[np.int64]], rows: Rows, projection: Projection, rule: NearRule
) -> list[AuditTask]:
    """Split s (in `split_ids` order) against every split before it, in blocks."""
    tasks = []
    for s in range(1, len(split_ids)):
        base_all = np.sort(np.concatenate(split_ids[:s]))
        for q0 in range(0, len(split_ids[s]), QUERY_ROWS):
            queries = split_ids[s][q0 : q0 + QUERY_ROWS]
            for b0 in range(0, len(base_all), BASE_ROWS):
                base = base_all[b0 : b0 + BASE_ROWS]
                tasks.append(
                    AuditTask(queries, base, rows.subset(np.concatenate([queries, base])), projection, rule)
                )
    return tasks


def search_across_splits(
    split_ids: list[NDArray[np.int64]], rows: Rows, rule: NearRule, engine: Engine, *, seed: int
) -> AuditSearch:
    """All pairs the rule accepts between two of the splits (`split_ids`: sorted ids per split)."""
    everyone = np.sort(np.concatenate([np.zeros(0, np.int64), *split_ids]))
    if sum(1 for ids in split_ids if len(ids)) < 2:
        return AuditSearch(np.zeros((0, 2), np.int64), None, 0, 0, 0, 0, 0.0)
    rng = np.random.default_rng([seed, 0xA0D1])
    sample = (
        everyone
        if len(everyone) <= PROJECTION_SAMPLE
        else np.sort(rng.choice(everyone, PROJECTION_SAMPLE, replace=False))
    )
    projection = Projection.fit(rows.load(sample)[0])
    results = engine.map(run_audit_task, audit_tasks(split_ids, rows, projection, rule))
    pairs = np.concatenate([np.zeros((0, 2), np.int64), *(r.pairs for r in results)])
    return AuditSearch(
        pairs=pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))],
        reduced_dims=projection.dims,
        bounds=sum(r.bounds for r in results),
        candidates=sum(r.candidates for r in results),
        over_floor=sum(r.over_floor for r in results),
        tasks=len(results),
        peak_rss_mb=max((r.peak_rss_mb for r in results), default=0.0),
        cpu_seconds=sum(r.cpu_seconds for r in results),
    )
