"""Steps 2–4 and the split audit of `curate`, each a function from the surviving item indices to a
reported `Step`.

They work on what the model stage left (`RunData`: small per-image facts on the driver; vectors
and layouts in the work store, reached through tasks) and never touch an image file. Step 1
(corrupt) and 5–6 (split, shards) are simple enough to live in `pipeline` and `writer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sorter_app.core.duplicates import NearRule

from .audit import AuditSearch, search_across_splits
from .bounded import pair_similarity
from .cells import CELL_SIZE, INJECT_SAMPLE, copy_ids, injected_copies, sample_ids, search_cells
from .dedupe import Group, exact_pairs, near_duplicates, resolve_group, union_groups
from .engines import Engine, LocalEngine
from .inputs import Item
from .report import Step
from .rows import Rows
from .run_data import RunData
from .split import SPLITS
from .teacher import Probabilities, apply_teacher


def noise_step(
    items: Sequence[Item],
    alive: Sequence[int],
    data: RunData,
    scorer: dict[str, Any] | None,
    threshold: float,
) -> Step:
    """Drop what the scorer called "not a photo", and rows the input itself labels non_photo; but
    never an image a person gave a label-set label: their categories may well be of graphics."""
    step = Step("noise", "not photographs of scenes: charts, diagrams, documents, flat graphics", len(alive))
    alive = [i for i in alive if not items[i].sets]
    labelled = [i for i in alive if items[i].kind == "non_photo"]
    if scorer is None:
        step.dropped = {i: "labelled non_photo: by the input (no scorer)" for i in labelled}
        step.extra = {"scorer": None}
        return step
    scores = data.noise
    for i in alive:
        if scores[i] >= threshold:
            step.dropped[i] = f"not a photo (scorer): p={scores[i]:.3f}"
    for i in labelled:
        if i not in step.dropped:
            step.dropped[i] = f"labelled non_photo, missed by the scorer: p={scores[i]:.3f}"
    photos_flagged = sum(1 for i in step.dropped if items[i].kind == "photo")
    step.extra = {
        "threshold": threshold,
        "scorer": scorer,
        "against_input_kind": {
            "non_photo_rows": len(labelled),
            "non_photo_caught_by_scorer": sum(1 for i in labelled if scores[i] >= threshold),
            "photo_rows_flagged_by_scorer": photos_flagged,
        },
    }
    return step


def teacher_step(
    items: Sequence[Item],
    alive: Sequence[int],
    data: RunData,
    heads: dict[str, list[str]] | None,
    band: tuple[float, float],
    teacher_name: str | None,
) -> Step:
    """Judge given labels against the teacher model's probabilities, or the manifest's columns."""
    step = Step("teacher", "labels the teacher is not confident about are dropped", len(alive))
    if heads is not None:

        def probabilities(i: int) -> Probabilities:
            return {
                head: dict(zip(labels, data.teacher[head][i].tolist(), strict=True))
                for head, labels in heads.items()
                if head in data.teacher
            }

        source = f"model {teacher_name}"
    elif any(items[i].teacher for i in alive):

        def probabilities(i: int) -> Probabilities:
            return items[i].teacher

        source = "teacher_* columns of the input manifest"
    else:
        step.skipped = "no --teacher model and no teacher_* columns in the input"
        return step
    outcome = apply_teacher(items, alive, probabilities, band)
    step.dropped = outcome.dropped
    step.extra = {
        "teacher": source,
        "confidence_band": list(band),
        "labels_by_outcome": {head: dict(sorted(c.items())) for head, c in outcome.counts.items()},
        "relabelled": len(outcome.relabelled),
        "relabelled_samples": [{**r, "p": round(r["p"], 4)} for r in outcome.relabelled[:10]],
    }
    return step


def dedupe_step(
    items: Sequence[Item],
    alive: Sequence[int],
    data: RunData,
    rule: NearRule,
    engine: Engine | None = None,
    *,
    seed: int = 0,
    cell_size: int = CELL_SIZE,
    inject: int = INJECT_SAMPLE,
) -> tuple[Step, list[Group]]:
    """Keep one image per duplicate group: identical files by hash, then near-duplicates by cells.

    The recall of the cells is measured on `inject` injected copies and recorded with the step.
    """
    step = Step(
        "dedupe", "near-duplicates (app's NearRule) and identical files: one image kept per group", len(alive)
    )
    representatives, same_bytes = exact_pairs(alive, data.hashes)
    reps = np.asarray(representatives, np.int64)
    rows = data.rows(reps)
    originals = sample_ids(reps, min(inject, len(reps)), seed)
    vectors, layouts = rows.load(originals)
    copy_vectors, copy_layouts = injected_copies(vectors, layouts, seed)
    accepted = near_duplicates(rule, pair_similarity(vectors, copy_vectors), layouts, copy_layouts)
    copies = Rows.carried(copy_ids(originals), copy_vectors, copy_layouts)
    search = search_cells(
        np.concatenate([reps, copies.gids]),
        rows.with_carried(copies),
        rule,
        engine or LocalEngine(),
        seed=seed,
        cell_size=cell_size,
    )
    pairs = [(int(a), int(b)) for a, b in search.pairs.tolist()] + same_bytes
    groups = [
        resolve_group(members, items, data.hashes, data.pixels, data.file_sizes)
        for members in union_groups(pairs)
    ]
    for group in groups:
        for i in group.members:
            if group.keep is None:
                labels = sorted({f"{items[m].scene}/{items[m].room}".strip("/") for m in group.members})
                step.dropped[i] = f"conflicting labels in a duplicate group: {' vs '.join(labels)}"
            elif i != group.keep:
                kind = "exact copy" if data.hashes[i] == data.hashes[group.keep] else "near-duplicate"
                step.dropped[i] = f"{kind}: of {items[group.keep].path}"
    step.cost = _cost(search.tasks, search.cpu_seconds, search.peak_rss_mb)
    found = np.isin(originals, search.copies_found)
    step.extra = {
        "rule": rule.__dict__,
        "search": search.describe(),
        "recall": _recall(int(accepted.sum()), int((found & accepted).sum()), len(originals), seed),
        "groups": len(groups),
        "groups_by_tier": {t: sum(1 for g in groups if g.tier == t) for t in ("exact", "near")},
        "groups_with_conflicting_labels": sum(1 for g in groups if g.keep is None),
        "cross_source_groups": sum(1 for g in groups if len({items[i].source for i in g.members}) > 1),
    }
    return step, groups


def _recall(accepted: int, found: int, injected: int, seed: int) -> dict[str, Any]:
    return {
        "method": "edited-looking copies of a seeded sample, injected into the cells; exact = the rule "
        "on (original, copy) without cells",
        "injected": injected,
        "duplicates_by_exact_search": accepted,
        "found_by_cells": found,
        "recall": round(found / accepted, 4) if accepted else None,
        "seed": seed,
    }


def split_audit_step(
    items: Sequence[Item],
    kept: Sequence[int],
    split_of: dict[int, str],
    data: RunData,
    rule: NearRule,
    engine: Engine | None = None,
    *,
    seed: int = 0,
) -> tuple[Step, AuditSearch]:
    """Check every pair across two splits (audit.py: exhaustive); drop the later split's image of
    each pair the rule accepts, so no duplicate group spans two splits in the output."""
    step = Step(
        "split_audit",
        "near-duplicates across splits, every pair checked: the later split's copy is dropped",
        len(kept),
    )
    split_ids = [np.array(sorted(i for i in kept if split_of[i] == split), np.int64) for split in SPLITS]
    search = search_across_splits(split_ids, data.rows(list(kept)), rule, engine or LocalEngine(), seed=seed)
    for leak, other in search.pairs.tolist():  # (later split's image, earlier split's image)
        if leak not in step.dropped and other not in step.dropped:
            step.dropped[leak] = f"split audit: near-duplicate of {items[other].path} in {split_of[other]}"
    step.extra = {"search": search.describe(), "pairs_across_splits": len(search.pairs)}
    step.cost = _cost(search.tasks, search.cpu_seconds, search.peak_rss_mb)
    return step, search


def _cost(tasks: int, cpu_seconds: float, peak_rss_mb: float) -> dict[str, float]:
    return {"tasks": tasks, "task_cpu_seconds": round(cpu_seconds, 1), "task_peak_rss_mb": round(peak_rss_mb)}
