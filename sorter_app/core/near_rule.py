"""The near-duplicate rule: one decision per candidate pair, from what the catalog stores.

A pair of distinct contents is a *near-duplicate* (the same picture, edited) when the embedding
finds them alike (cosine ≥ `candidate`) and the pixel check (copy_check.py) finds one picture in
the other: band-pass correlation ≥ `copy` at the best placement of the whole picture, its mirror
image, or — for pairs at cosine ≥ `part_candidate` — a part of one inside the other (crops,
borders). A pair that fails but whose embeddings are very close (≥ `similar`) is *similar*: shown
to the user, never proposed for the trash. Calibrated by benchmarks/calibrate_duplicates.py (figures
in benchmarks/RESULTS.md).

Pairs involving an image indexed before the pixel check existed (a version-1 layout) are decided by
the rule of that time — embedding and whole-image 16×16 correlation — until the file is indexed
again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from . import copy_check
from .layout import LEGACY_LENGTH, Layout, layout_similarities, parse_layout

NEAR, SIMILAR = "near", "similar"
_BATCH = 4096  # pairs checked at once, a batch per core: bounds the temporary arrays


@dataclass(frozen=True)
class NearRule:
    candidate: float = 0.5  # embedding cosine a pair needs for the pixel check at all
    part_candidate: float = 0.75  # ... to look for one picture inside the other as well
    copy: float = 0.94  # band-pass agreement (copy_check.Matches.score) that makes it the same picture
    similar: float = 0.90  # embedding cosine of the "similar" band
    # Where every pair of a set is compared rather than a k-NN graph's (sorter-train curate's
    # cells), the cosine a pair needs to be checked at all: a cost, not a judgement (copies edited
    # below it — small crops of small images, say — are not looked at).
    all_pairs_candidate: float = 0.85
    # The rule for version-1 layouts: (cosine ≥ legacy_similar and layout ≥ legacy_same_layout) or
    # (cosine ≥ legacy_very_similar and layout ≥ legacy_shifted_layout).
    legacy_similar: float = 0.85
    legacy_same_layout: float = 0.90
    legacy_very_similar: float = 0.94
    legacy_shifted_layout: float = 0.70

    def at_threshold(self, threshold: float) -> NearRule:
        """This rule with near-duplicates needing cosine ≥ `threshold` (the user's setting)."""
        return NearRule(
            candidate=threshold,
            part_candidate=max(threshold, self.part_candidate),
            copy=self.copy,
            similar=max(threshold, self.similar),
            legacy_similar=max(threshold, self.legacy_similar),
            legacy_same_layout=self.legacy_same_layout,
            legacy_very_similar=max(threshold, self.legacy_very_similar),
            legacy_shifted_layout=self.legacy_shifted_layout,
        )

    @property
    def lowest(self) -> float:
        """The lowest cosine at which any pair can be near or similar."""
        return min(self.candidate, self.similar, self.legacy_similar, self.legacy_very_similar)

    def legacy_accepts(self, cosine: float, layout: float) -> bool:
        return (cosine >= self.legacy_similar and layout >= self.legacy_same_layout) or (
            cosine >= self.legacy_very_similar and layout >= self.legacy_shifted_layout
        )


DEFAULT_RULE = NearRule()


@dataclass(frozen=True)
class Verdict:
    """What a pair was found to be: NEAR, SIMILAR or None, and for NEAR how (see `edits`)."""

    tier: str | None
    cosine: float
    score: float  # the pixel check's correlation (the old rule's layout correlation for version 1)
    edits: tuple[str, ...] = ()


Size = tuple[int, int]


def decide_pair(
    cosine: float,
    a: bytes | None,
    b: bytes | None,
    rule: NearRule = DEFAULT_RULE,
    sizes: tuple[Size, Size] | None = None,
) -> Verdict:
    """One candidate pair, from its embedding cosine and the two stored layouts.

    `sizes`: the two images' true (width, height), to tell a resized copy (optional).
    """
    return decide_pairs(np.array([cosine], dtype=np.float32), [a], [b], rule, [sizes])[0]


def decide_pairs(
    cosines: NDArray[np.float32],
    a: Sequence[bytes | None],
    b: Sequence[bytes | None],
    rule: NearRule = DEFAULT_RULE,
    sizes: Sequence[tuple[Size, Size] | None] | None = None,
) -> list[Verdict]:
    """Many candidate pairs at once, a `Verdict` each (see `judge_pairs`)."""
    return judge_pairs(cosines, a, b, rule, sizes).as_list()


@dataclass(frozen=True)
class PairVerdicts:
    """The verdicts of many pairs as arrays: a million-image folder has millions of candidate pairs,
    and a `Verdict` object for each took gigabytes and most of a duplicates run."""

    tier: NDArray[np.int8]  # an index into TIERS
    cosine: NDArray[np.float32]
    score: NDArray[np.float32]  # as Verdict.score; -1.0 where the pixel check could not run
    edits: dict[int, tuple[str, ...]]  # near pairs the pixel check found: what their copies look like

    def __len__(self) -> int:
        return len(self.tier)

    def verdict(self, i: int) -> Verdict:
        tier = TIERS[int(self.tier[i])]
        return Verdict(tier, float(self.cosine[i]), float(self.score[i]), self.edits.get(i, ()))

    def as_list(self) -> list[Verdict]:
        return [self.verdict(i) for i in range(len(self))]


TIERS: tuple[str | None, ...] = (None, SIMILAR, NEAR)
NONE_CODE, SIMILAR_CODE, NEAR_CODE = range(3)


def judge_pairs(
    cosines: NDArray[np.float32],
    a: Sequence[bytes | None],
    b: Sequence[bytes | None],
    rule: NearRule = DEFAULT_RULE,
    sizes: Sequence[tuple[Size, Size] | None] | None = None,
) -> PairVerdicts:
    """Many candidate pairs at once: which rule applies is worked out with array masks, the old
    rule's correlations in one batch, and the pixel check vectorised, a batch of pairs at a time.
    `sizes` is only read for the pairs the pixel check looks at.

    Thresholds are compared in float64, as Python floats were: a float32 cosine equal to a
    threshold's float32 rounding must not pass where it did not before.
    """
    cosine = np.asarray(cosines, dtype=np.float32)
    wide = cosine.astype(np.float64)
    length_a = np.array([-1 if x is None else len(x) for x in a], dtype=np.int64)
    length_b = np.array([-1 if x is None else len(x) for x in b], dtype=np.int64)
    tier = np.where(wide >= rule.similar, SIMILAR_CODE, NONE_CODE).astype(np.int8)
    score = np.zeros(len(cosine), dtype=np.float32)
    usable = (length_a >= 0) & (length_b >= 0) & (wide >= rule.lowest)
    legacy = usable & ((length_a == LEGACY_LENGTH) | (length_b == LEGACY_LENGTH))
    edits: dict[int, tuple[str, ...]] = {}
    rows = np.flatnonzero(legacy)
    if len(rows):
        found = layout_similarities([a[i] for i in rows.tolist()], [b[i] for i in rows.tolist()])
        score[rows] = found
        c, f = wide[rows], found.astype(np.float64)
        accepted = ((c >= rule.legacy_similar) & (f >= rule.legacy_same_layout)) | (
            (c >= rule.legacy_very_similar) & (f >= rule.legacy_shifted_layout)
        )
        tier[rows[accepted]] = NEAR_CODE
    rows = np.flatnonzero(usable & ~legacy & (wide >= rule.candidate))
    if len(rows):
        found, seen = _check(cosine, a, b, rows.tolist(), rule, sizes)
        score[rows] = found
        for k in np.flatnonzero(found.astype(np.float64) >= rule.copy).tolist():
            tier[rows[k]] = NEAR_CODE
            edits[int(rows[k])] = seen[k]
    return PairVerdicts(tier, cosine, score, edits)


def _check(
    cosines: NDArray[np.float32],
    a: Sequence[bytes | None],
    b: Sequence[bytes | None],
    rows: list[int],
    rule: NearRule,
    sizes: Sequence[tuple[Size, Size] | None] | None,
) -> tuple[NDArray[np.float32], list[tuple[str, ...]]]:
    """The pixel check for the pairs `rows`, whose layouts are both version 2: each pair's score
    (-1.0 where a layout cannot be read) and, where it makes them near, what the copy looks like.

    Each distinct layout is read once (a picture is in many pairs); the check runs a batch of pairs
    at a time, on the pictures of that batch only, so memory stays bounded for any folder.
    """
    number: dict[bytes, int] = {}
    layouts: list[Layout | None] = []
    for i in rows:
        for signature in (a[i], b[i]):
            assert signature is not None
            if signature not in number:
                number[signature] = len(layouts)
                layouts.append(parse_layout(signature))
    readable = [x is not None for x in layouts]
    thumbs = np.stack([x.thumb if x is not None else np.zeros((32, 32), np.uint8) for x in layouts])
    aspects = np.array([x.aspect if x is not None else 1.0 for x in layouts], dtype=np.float32)
    first = np.array([number[a[i] or b""] for i in rows], dtype=np.int64)
    second = np.array([number[b[i] or b""] for i in rows], dtype=np.int64)
    scores = np.full(len(rows), -1.0, dtype=np.float32)
    edits: list[tuple[str, ...]] = [()] * len(rows)

    def check(start: int) -> None:
        batch = slice(start, start + _BATCH)
        pictures, local = np.unique(np.concatenate([first[batch], second[batch]]), return_inverse=True)
        count = len(first[batch])
        found = copy_check.match(
            copy_check.Thumbs.of(thumbs[pictures], aspects[pictures]),
            local[:count],
            local[count:],
            cosines[rows[batch]] >= rule.part_candidate,
        )
        for k in range(count):
            pair = start + k
            if readable[first[pair]] and readable[second[pair]]:
                scores[pair] = found.score[k]
                if found.score[k] >= rule.copy:
                    size = sizes[rows[pair]] if sizes is not None else None
                    edits[pair] = edits_seen(layouts[first[pair]], layouts[second[pair]], found, k, size)

    # numpy lets go of the GIL in the large array operations: batches on all cores.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(check, range(0, len(rows), _BATCH)))
    return scores, edits


def edits_seen(
    a: Layout | None,
    b: Layout | None,
    found: copy_check.Matches,
    i: int,
    sizes: tuple[Size, Size] | None = None,
) -> tuple[str, ...]:
    """What the pixel check saw one picture of a near pair to be, relative to the other.

    Only what is cheap to tell from the placement and the two layouts: flipped, rotated, cropped,
    bordered (margins one has and the other has not), resized (different sizes where nothing was
    cut off); re-encoded when it is none of those (also a brightness change or a watermark).
    """
    how, area, angle = int(found.how[i]), float(found.area[i]), float(found.angle[i])
    edits = []
    if how == copy_check.MIRROR:
        edits.append("flipped")
    if abs(angle) >= 1.0:
        edits.append("rotated")
    if a is not None and b is not None and _margins_differ(a, b):
        edits.append("bordered")
    elif how in (copy_check.A_CONTAINS_B, copy_check.B_CONTAINS_A) and area < 0.94:
        edits.append("cropped")
    elif sizes is not None and _sizes_differ(*sizes):
        edits.append("resized")
    return tuple(edits) or ("re-encoded",)


def _margins_differ(a: Layout, b: Layout) -> bool:
    """One has uniform margins trimmed that the other has not (at least 5 % of a side)."""

    def share(layout: Layout) -> float:
        width, height = layout.size
        content_width, content_height = layout.content_size
        return 1.0 - min(content_width / width, content_height / height)

    return abs(share(a) - share(b)) >= 0.05


def _sizes_differ(a: Size, b: Size) -> bool:
    return abs(a[0] / max(b[0], 1) - 1.0) > 0.03 or abs(a[1] / max(b[1], 1) - 1.0) > 0.03
