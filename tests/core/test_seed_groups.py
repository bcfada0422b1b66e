"""Seed groups: each picked example gathers the images most like it, and no image is in two groups."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from sorter_app.core.errors import SorterError
from sorter_app.core.library import Library
from sorter_app.core.seed_groups import SEED_THRESHOLD, SeedGroup
from sorter_app.paths import bundled_model_sidecar
from tests import builders

SEEDS = ("seed1.jpg", "seed2.jpg", "seed3.jpg")


@dataclass(frozen=True)
class SeededFolder:
    library: Library
    folder: Path
    family: dict[str, str | None]  # relpath → the seed it was made from (None: another scene)

    def groups(self, threshold: float = SEED_THRESHOLD) -> list[SeedGroup]:
        return self.library.seed_groups(self.folder, [self.folder / s for s in SEEDS], threshold)

    def similarity(self) -> dict[str, list[float]]:
        """relpath → cosine similarity to each seed, from the stored vectors."""
        vectors = self.library.folder_vectors(self.folder)
        item = {p: i for i, paths in enumerate(vectors.paths) for p in paths}
        sims = vectors.vectors @ vectors.vectors[[item[s] for s in SEEDS]].T
        return {p: sims[i].tolist() for p, i in item.items()}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededFolder]:
    """Three built scenes with a byte copy and six edited copies each, among six other scenes."""
    tmp = tmp_path_factory.mktemp("seeds")
    folder = tmp / "photos"
    family: dict[str, str | None] = {}
    for n, seed in enumerate(SEEDS, start=1):
        original = builders.write_jpeg(tmp / "camera" / seed, seed=n, size=(480, 360))
        for path in builders.write_edited_copies(original, folder, Path(seed).stem).values():
            family[path.name] = seed
    for n in range(10, 16):
        family[builders.write_jpeg(folder / f"other{n}.jpg", seed=n).name] = None
    with Library(tmp / "data", bundled_model_sidecar()) as library:
        library.index(folder)
        yield SeededFolder(library, folder, family)


@pytest.mark.parametrize("threshold", [SEED_THRESHOLD, 0.7, 0.87])
def test_no_image_is_in_two_groups(seeded: SeededFolder, threshold: float) -> None:
    paths = [p for g in seeded.groups(threshold) for p in g.paths]
    assert len(paths) == len(set(paths))


@pytest.mark.parametrize("threshold", [SEED_THRESHOLD, 0.87])
def test_each_group_starts_with_its_seed_then_its_byte_copies(seeded: SeededFolder, threshold: float) -> None:
    groups = seeded.groups(threshold)
    assert [g.seed for g in groups] == list(SEEDS)
    for group in groups:
        assert group.paths[:2] == [group.seed, f"{Path(group.seed).stem} copy.jpg"]


@pytest.mark.parametrize("threshold", [SEED_THRESHOLD, 0.7, 0.87])
def test_members_reach_the_threshold_and_join_their_most_similar_seed(
    seeded: SeededFolder, threshold: float
) -> None:
    sims = seeded.similarity()
    for g, group in enumerate(seeded.groups(threshold)):
        members = group.paths[2:]  # after the seed and its copy
        for path in members:
            assert sims[path][g] >= threshold and int(np.argmax(sims[path])) == g, path
        ranked = [sims[p][g] for p in members]
        assert ranked == sorted(ranked, reverse=True)


@pytest.mark.parametrize("threshold", [SEED_THRESHOLD, 0.7, 0.87])
def test_every_image_close_enough_to_a_seed_is_placed(seeded: SeededFolder, threshold: float) -> None:
    placed = {p for g in seeded.groups(threshold) for p in g.paths}
    close = {p for p, s in seeded.similarity().items() if max(s) >= threshold}
    assert placed == close | set(SEEDS) | {f"{Path(s).stem} copy.jpg" for s in SEEDS}


def test_at_a_high_threshold_each_seed_gathers_exactly_its_edited_copies(seeded: SeededFolder) -> None:
    """Edits are ≥ 0.897 similar to their seed on these scenes, other scenes ≤ 0.83."""
    for group in seeded.groups(0.87):
        assert sorted(group.paths) == sorted(p for p, s in seeded.family.items() if s == group.seed)


def test_an_unknown_seed_is_refused(seeded: SeededFolder) -> None:
    with pytest.raises(SorterError, match=r"seed not in the index: nope\.jpg"):
        seeded.library.seed_groups(seeded.folder, [seeded.folder / SEEDS[0], seeded.folder / "nope.jpg"])


def test_a_seed_outside_the_folder_is_refused(seeded: SeededFolder, tmp_path: Path) -> None:
    outside = builders.write_jpeg(tmp_path / "elsewhere.jpg", seed=1)
    with pytest.raises(SorterError, match="is not inside"):
        seeded.library.seed_groups(seeded.folder, [outside])


def test_two_seeds_that_are_byte_copies_are_refused(seeded: SeededFolder) -> None:
    with pytest.raises(SorterError, match="two seeds are copies of the same image"):
        seeded.library.seed_groups(
            seeded.folder, [seeded.folder / "seed1.jpg", seeded.folder / "seed1 copy.jpg"]
        )
