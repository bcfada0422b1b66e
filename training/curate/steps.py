"""Steps 2–4 of `curate`, each a function from the surviving item indices to a reported `Step`.

They share the results of the one decode pass (`Decoded`) and never touch a file. Steps 1 (corrupt)
and 5–6 (split, shards) are simple enough to live in `pipeline` and `writer`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from sorter_app.core.duplicates import DUPLICATE_K, NearRule

from .decode import Decoded
from .dedupe import Group, find_groups, resolve_group
from .inputs import Item
from .noise import NoiseScorer
from .report import Step
from .teacher import Probabilities, apply_teacher

SCORE_BATCH = 256
MAX_DEDUPE_PASSES = 4


def noise_step(
    items: Sequence[Item],
    alive: Sequence[int],
    decoded: Decoded,
    scorer: NoiseScorer | None,
    threshold: float,
) -> Step:
    """Drop what the scorer calls "not a photo", and rows the input itself labels non_photo."""
    step = Step("noise", "not photographs of scenes: charts, diagrams, documents, flat graphics", len(alive))
    labelled = [i for i in alive if items[i].kind == "non_photo"]
    if scorer is None:
        step.dropped = {i: "labelled non_photo: by the input (no scorer)" for i in labelled}
        step.extra = {"scorer": None}
        return step
    scores = np.full(len(items), np.nan)
    rows = np.asarray(alive, dtype=np.int64)
    for start in range(0, len(rows), SCORE_BATCH):
        chunk = rows[start : start + SCORE_BATCH]
        pixels = decoded.pixels[chunk] if decoded.pixels is not None else np.zeros((0, 0, 0, 3), np.uint8)
        scores[chunk] = scorer.score(pixels, decoded.embeddings[chunk])
    for i in alive:
        if scores[i] >= threshold:
            step.dropped[i] = f"not a photo (scorer): p={scores[i]:.3f}"
    for i in labelled:
        if i not in step.dropped:
            step.dropped[i] = f"labelled non_photo, missed by the scorer: p={scores[i]:.3f}"
    photos_flagged = sum(1 for i in step.dropped if items[i].kind == "photo")
    step.extra = {
        "threshold": threshold,
        "scorer": scorer.describe(),
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
    decoded: Decoded,
    heads: dict[str, list[str]] | None,
    band: tuple[float, float],
    teacher_name: str | None,
) -> Step:
    """Judge given labels against the teacher model's probabilities, or the manifest's columns."""
    step = Step("teacher", "labels the teacher is not confident about are dropped", len(alive))
    if heads is not None:

        def probabilities(i: int) -> Probabilities:
            return {
                head: dict(zip(labels, decoded.teacher[head][i].tolist(), strict=True))
                for head, labels in heads.items()
                if head in decoded.teacher
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
    items: Sequence[Item], alive: Sequence[int], decoded: Decoded, rule: NearRule
) -> tuple[Step, list[Group]]:
    """Keep one image per near-duplicate group; repeat on the survivors until no group is left.

    A second pass can find pairs the first one's k-NN graph missed (an image whose nearest
    neighbours were all copies of something else); their groups are merged, so in the end no two
    kept images are near-duplicates by the rule, within or across splits.
    """
    step = Step(
        "dedupe", "near-duplicates (app's NearRule) and identical files: one image kept per group", len(alive)
    )
    pixels = decoded.widths * decoded.heights
    group_of: dict[int, list[int]] = {}  # item → its (merged) group's members
    survivors = list(alive)
    passes, converged = 0, False
    while passes < MAX_DEDUPE_PASSES:
        passes += 1
        found = find_groups(survivors, decoded.hashes, decoded.embeddings, decoded.layouts, rule=rule)
        if not found:
            converged = True  # this pass over the kept images found no near-duplicate pair left
            break
        for members in found:
            merged = sorted({m for i in members for m in group_of.get(i, [i])})
            for m in merged:
                group_of[m] = merged
        groups = _resolve_all(group_of, items, decoded, pixels)
        grouped = set(group_of)
        survivors = [i for i in alive if i not in grouped] + [g.keep for g in groups if g.keep is not None]
        survivors.sort()
    groups = _resolve_all(group_of, items, decoded, pixels)
    for group in groups:
        for i in group.members:
            if group.keep is None:
                labels = sorted({f"{items[m].scene}/{items[m].room}".strip("/") for m in group.members})
                step.dropped[i] = f"conflicting labels in a duplicate group: {' vs '.join(labels)}"
            elif i != group.keep:
                kind = "exact copy" if decoded.hashes[i] == decoded.hashes[group.keep] else "near-duplicate"
                step.dropped[i] = f"{kind}: of {items[group.keep].path}"
    step.extra = {
        "rule": {**rule.__dict__, "k": DUPLICATE_K},
        "passes": passes,
        "no_near_duplicates_left": converged,
        "groups": len(groups),
        "groups_by_tier": {t: sum(1 for g in groups if g.tier == t) for t in ("exact", "near")},
        "groups_with_conflicting_labels": sum(1 for g in groups if g.keep is None),
        "cross_source_groups": sum(1 for g in groups if len({items[i].source for i in g.members}) > 1),
    }
    return step, groups


def _resolve_all(
    group_of: dict[int, list[int]], items: Sequence[Item], decoded: Decoded, pixels: NDArray[np.int64]
) -> list[Group]:
    unique = {members[0]: members for members in group_of.values()}
    return [
        resolve_group(unique[first], items, decoded.hashes, pixels, decoded.file_sizes)
        for first in sorted(unique)
    ]
