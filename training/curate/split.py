"""Stratified, seeded, leak-free train/val/test split.

The unit of splitting is a near-duplicate group (its kept image stands for all its members), so no
copy of a test image can be in train. Units are stratified by (scene, room, source): by label as
the model is judged, and by source so every split gets the same mix of photo styles and
resolutions. The sources' own train/valid/test folders are ignored on purpose: house_rooms has
identical photos on both sides of its own split, so honouring it would leak.

Determinism: units are ordered by content hash (not input order) and shuffled within each
stratum by a generator seeded with `seed`; strata are then laid end to end and dealt out by
largest deficit, so every stratum (and the whole) gets its fractions to within one image.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

SPLITS = ("train", "val", "test")
FRACTIONS = (0.8, 0.1, 0.1)


def assign_splits(
    units: Sequence[int],
    strata: Sequence[Hashable],
    hashes: Sequence[str],
    *,
    seed: int,
    fractions: Sequence[float] = FRACTIONS,
) -> dict[int, str]:
    """Split name per unit; `strata[j]` and `hashes[j]` describe `units[j]`."""
    rng = np.random.default_rng(seed)
    by_stratum: dict[Hashable, list[int]] = {}
    for j in sorted(range(len(units)), key=lambda j: hashes[j]):
        by_stratum.setdefault(strata[j], []).append(j)
    dealt: list[int] = []
    for key in sorted(by_stratum, key=repr):
        members = by_stratum[key]
        dealt += [members[p] for p in rng.permutation(len(members))]
    counts = [0] * len(fractions)
    out = {}
    for position, j in enumerate(dealt):
        deficits = [(position + 1) * f - c for f, c in zip(fractions, counts, strict=True)]
        s = int(np.argmax(deficits))  # first of equals: train before val before test
        counts[s] += 1
        out[units[j]] = SPLITS[s]
    return out


def shard_order(units: Sequence[int], hashes: Sequence[str], *, seed: int, split: str) -> list[int]:
    """The order a split's units are written in: shuffled (shards mix sources), reproducibly."""
    ordered = [units[j] for j in sorted(range(len(units)), key=lambda j: hashes[j])]
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    return [ordered[p] for p in rng.permutation(len(ordered))]
