"""Editable groups: built from real core results, edited at will, never an image in two groups nor lost."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from sorter_app.core.catalog import FileFacts
from sorter_app.core.clusters import cluster_folder
from sorter_app.core.duplicates import find_duplicates
from sorter_app.core.grouping import (
    CLUSTERS,
    DUPLICATES,
    UNSORTED,
    Group,
    Grouping,
    from_clustering,
    from_duplicates,
    from_outliers,
    from_seed_groups,
    group_of,
    to_plan_groups,
)
from sorter_app.core.neighbours import FolderVectors
from sorter_app.core.outliers import find_outliers
from sorter_app.core.plan import make_plan
from sorter_app.core.seed_groups import seed_groups
from tests import builders

KINDS = ("beach", "forest", "kitchen")
PER_KIND = 8


def _unit(vectors: NDArray[np.float64]) -> NDArray[np.float32]:
    unit: NDArray[np.float32] = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return unit


def _scenes() -> FolderVectors:
    """Three kinds of picture, eight of each, two strays, and one picture stored twice (byte copies)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(len(KINDS), 64))
    vectors = np.concatenate(
        [centres[k] + 0.5 * rng.normal(size=(PER_KIND, 64)) for k in range(len(KINDS))]
        + [rng.normal(size=(2, 64))]
    )
    paths = [[f"{kind}/{kind}{i}.jpg"] for kind in KINDS for i in range(1, PER_KIND + 1)] + [
        ["odd1.jpg"],
        ["odd2.jpg"],
    ]
    paths[0].append("beach/beach1 copy.jpg")
    return FolderVectors([f"{i:032x}" for i in range(len(paths))], _unit(vectors), paths)


def _all_paths(folder: FolderVectors) -> list[str]:
    return sorted(p for paths in folder.paths for p in paths)


def _duplicates() -> Grouping:
    """Real find_duplicates over an edited copy (same layout, nearly the same vector) and byte copies."""
    rng = np.random.default_rng(1)
    base = rng.normal(size=(4, 64))
    vectors = _unit(np.concatenate([base[:1], base[:1] + 0.01 * rng.normal(size=(1, 64)), base[1:]]))
    paths = [["IMG_1.jpg"], ["edited/IMG_1 small.jpg"], ["a.jpg", "copy of a.jpg"], ["b.jpg"], ["c.jpg"]]
    folder = FolderVectors([f"{i:032x}" for i in range(len(paths))], vectors, paths)
    layouts = {key: rng.integers(0, 256, 256, dtype=np.uint8).tobytes() for key in folder.keys}
    layouts[folder.keys[1]] = layouts[folder.keys[0]]
    facts = {
        "IMG_1.jpg": FileFacts("IMG_1.jpg", 3_000_000, 1, 4000, 3000),
        "edited/IMG_1 small.jpg": FileFacts("edited/IMG_1 small.jpg", 300_000, 2, 1000, 750),
        "a.jpg": FileFacts("a.jpg", 500_000, 5, 800, 600),
        "copy of a.jpg": FileFacts("copy of a.jpg", 500_000, 9, 800, 600),
    }
    return from_duplicates(find_duplicates(folder, facts, layouts))


def _groups(*sizes: int, kind: str = CLUSTERS) -> Grouping:
    """Groups g0, g1, … holding images g0/0.jpg, g0/1.jpg, …; duplicates keep their first image."""
    return Grouping(
        kind,
        [
            Group(
                f"g{i}",
                f"g{i}",
                [f"g{i}/{j}.jpg" for j in range(size)],
                keep=f"g{i}/0.jpg" if kind == DUPLICATES else None,
            )
            for i, size in enumerate(sizes)
        ],
    )


# --- builders from core results -------------------------------------------------------------------


def test_clusters_become_groups_and_unsorted_comes_last() -> None:
    folder = _scenes()
    clustering = cluster_folder(folder, "coarse")
    grouping = from_clustering(clustering)
    assert grouping.kind == CLUSTERS
    assert [(g.key, g.name, g.paths) for g in grouping.groups[: len(clustering.clusters)]] == [
        (f"cluster-{c.id}", c.label, c.paths) for c in clustering.clusters
    ]
    if clustering.unsorted:
        assert grouping.groups[-1].name == UNSORTED and grouping.groups[-1].paths == clustering.unsorted
    assert not any(g.ticked for g in grouping.groups)
    assert sorted(group_of(grouping)) == _all_paths(folder)


def test_duplicates_keep_the_suggested_copy_and_say_why() -> None:
    grouping = _duplicates()
    by_keep = {str(g.keep): g for g in grouping.groups}
    assert sorted(by_keep) == ["IMG_1.jpg", "a.jpg"]
    edited = by_keep["IMG_1.jpg"]
    assert (
        edited.name == "duplicates of IMG_1.jpg"
        and edited.note == "largest resolution (4000×3000 vs 1000×750)"
    )
    assert sorted(edited.paths) == ["IMG_1.jpg", "edited/IMG_1 small.jpg"]
    assert by_keep["a.jpg"].name == "duplicates of a.jpg"
    assert by_keep["a.jpg"].note.startswith("name without “copy”")  # not "oldest": a name tells more


def test_outliers_are_the_most_unusual_few() -> None:
    folder = _scenes()
    ranked = find_outliers(folder)
    (group,) = from_outliers(ranked).groups  # 27 images: the floor of 10 applies
    assert group.paths == [o.path for o in ranked[:10]] and {"odd1.jpg", "odd2.jpg"} <= set(group.paths[:2])
    assert set(from_outliers(ranked, limit=2).groups[0].paths) == {"odd1.jpg", "odd2.jpg"}
    assert from_outliers(ranked, limit=0).groups == []


def test_a_large_folder_shows_two_percent_of_its_images_as_outliers() -> None:
    vectors = _unit(np.random.default_rng(2).normal(size=(1000, 32)))
    folder = FolderVectors(
        [f"{i:032x}" for i in range(1000)], vectors, [[f"img{i}.jpg"] for i in range(1000)]
    )
    assert len(from_outliers(find_outliers(folder)).groups[0].paths) == 20


def test_copies_of_one_picture_have_no_outliers() -> None:
    folder = FolderVectors(["h"], _unit(np.ones((1, 8))), [["a.jpg", "a copy.jpg"]])
    assert from_outliers(find_outliers(folder)).groups == []


def test_seed_groups_are_named_after_their_seeds_and_never_share_a_folder() -> None:
    folder = _scenes()
    folder.paths[PER_KIND].append("kitchen/beach1.jpg")  # a second "beach1": a forest picture, named oddly
    found = seed_groups(folder, ["beach/beach1.jpg", "kitchen/beach1.jpg", "kitchen/kitchen1.jpg"])
    grouping = from_seed_groups(found)
    assert [g.name for g in grouping.groups] == ["beach1", "beach1 2", "kitchen1"]
    assert [g.paths for g in grouping.groups] == [s.paths for s in found]
    assert [g.key for g in grouping.groups] == ["seed-1", "seed-2", "seed-3"]


def test_a_path_in_two_groups_is_refused() -> None:
    with pytest.raises(ValueError, match="repeats"):
        Grouping(CLUSTERS, [Group("a", "a", ["x.jpg"]), Group("b", "b", ["y.jpg", "x.jpg"])])
    with pytest.raises(ValueError, match="does not hold"):
        Grouping(DUPLICATES, [Group("a", "a", ["x.jpg", "y.jpg"], keep="z.jpg")])


# --- edits ----------------------------------------------------------------------------------------


def test_merge_keeps_the_first_groups_name_and_place() -> None:
    grouping = _groups(2, 3, 1, 2)
    grouping.rename(3, "Beach")
    assert grouping.merge([3, 1, 0]) == 1
    assert [g.name for g in grouping.groups] == ["g2", "Beach"]
    assert grouping.groups[1].paths == [
        "g3/0.jpg",
        "g3/1.jpg",
        "g1/0.jpg",
        "g1/1.jpg",
        "g1/2.jpg",
        "g0/0.jpg",
        "g0/1.jpg",
    ]
    for bad in ([0], [1, 1], []):
        with pytest.raises(ValueError):
            grouping.merge(bad)
    with pytest.raises(IndexError):
        grouping.merge([0, 5])


def test_split_puts_the_chosen_images_in_a_new_group_after_it() -> None:
    grouping = _groups(1, 4, 1)
    assert grouping.split(1, ["g1/3.jpg", "g1/0.jpg"]) == 2
    assert [(g.name, g.paths) for g in grouping.groups[1:3]] == [
        ("g1", ["g1/1.jpg", "g1/2.jpg"]),
        ("g1 (split)", ["g1/0.jpg", "g1/3.jpg"]),
    ]
    assert grouping.groups[2].key == "g1-split"
    grouping.split(1, ["g1/2.jpg"])
    assert grouping.groups[2].key == "g1-split-2"  # keys stay unique
    for bad in ([], ["g1/1.jpg"], ["g0/0.jpg"]):  # none, all, not in the group
        with pytest.raises(ValueError):
            grouping.split(1, bad)


def test_splitting_duplicates_gives_each_side_a_copy_to_keep() -> None:
    grouping = _groups(4, kind=DUPLICATES)
    grouping.split(0, ["g0/0.jpg", "g0/3.jpg"])
    kept, split = grouping.groups
    assert (split.keep, kept.keep) == ("g0/0.jpg", "g0/1.jpg")
    assert "taken out" in kept.note
    with pytest.raises(ValueError, match="two copies"):
        grouping.split(0, ["g0/1.jpg"])


def test_rename_refuses_empty_names() -> None:
    grouping = _groups(1)
    grouping.rename(0, "  Beach 2024 ")
    assert grouping.groups[0].name == "Beach 2024"
    for bad in ("", "   ", "\t\n"):
        with pytest.raises(ValueError):
            grouping.rename(0, bad)
    assert grouping.groups[0].name == "Beach 2024"


def test_drop_takes_an_image_out_and_removes_an_emptied_group() -> None:
    grouping = _groups(2, 1)
    grouping.drop(0, "g0/1.jpg")
    assert grouping.groups[0].paths == ["g0/0.jpg"]
    grouping.drop(1, "g1/0.jpg")
    assert [g.key for g in grouping.groups] == ["g0"]
    with pytest.raises(ValueError):
        grouping.drop(0, "g1/0.jpg")


def test_dropping_the_kept_copy_picks_another_and_a_lone_copy_is_no_duplicate() -> None:
    grouping = _groups(3, 2, kind=DUPLICATES)
    grouping.drop(0, "g0/0.jpg")
    assert grouping.groups[0].keep == "g0/1.jpg" and grouping.groups[0].note.startswith("keep 1.jpg:")
    grouping.drop(1, "g1/1.jpg")
    assert [g.key for g in grouping.groups] == ["g0"]


def test_tick() -> None:
    grouping = _groups(1, 1)
    grouping.tick(1, True)
    assert [g.ticked for g in grouping.groups] == [False, True]
    grouping.tick(1, False)
    assert not grouping.groups[1].ticked


# --- the invariant under any sequence of edits --------------------------------------------------


def _check(grouping: Grouping, alive: set[str]) -> None:
    paths = [p for g in grouping.groups for p in g.paths]
    assert len(paths) == len(set(paths)), "an image is in two groups"
    assert set(paths) == alive, "an image went missing or came back"
    assert all(g.paths for g in grouping.groups)
    assert len({g.key for g in grouping.groups}) == len(grouping.groups)
    if grouping.kind == DUPLICATES:
        assert all(len(g.paths) >= 2 and g.keep in g.paths for g in grouping.groups)


def _random_edit(grouping: Grouping, rng: np.random.Generator, alive: set[str]) -> None:
    """One random edit; a refused one must leave everything as it was."""
    count = len(grouping.groups)
    index = int(rng.integers(count))
    group = grouping.groups[index]
    before = copy.deepcopy(grouping)
    try:
        match rng.choice(["merge", "split", "rename", "drop", "tick"]):
            case "merge":
                grouping.merge(
                    [int(i) for i in rng.choice(count, min(count, int(rng.integers(1, 4))), replace=False)]
                )
            case "split":
                grouping.split(index, [str(p) for p in group.paths if rng.random() < 0.5])
            case "rename":
                grouping.rename(index, str(rng.choice(["beach", " ", "kitchen 2", ""])))
            case "drop":
                path = str(rng.choice(group.paths))
                lone = grouping.kind == DUPLICATES and len(group.paths) <= 2  # its partner leaves too
                gone = set(group.paths) if lone else {path}
                grouping.drop(index, path)
                alive.difference_update(gone)
            case _:
                grouping.tick(index, bool(rng.random() < 0.5))
    except ValueError:
        assert grouping == before


@pytest.mark.parametrize("kind", [CLUSTERS, DUPLICATES])
@pytest.mark.parametrize("seed", range(12))
def test_no_sequence_of_edits_duplicates_or_loses_an_image(kind: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    grouping = _groups(*(int(n) for n in rng.integers(2, 9, size=8)), kind=kind)
    alive = {p for g in grouping.groups for p in g.paths}
    for _ in range(300):
        if not grouping.groups:
            break
        _random_edit(grouping, rng, alive)
        _check(grouping, alive)


def test_edits_of_real_results_keep_every_image() -> None:
    folder = _scenes()
    grouping = from_clustering(cluster_folder(folder, "fine"))
    alive = set(_all_paths(folder))
    rng = np.random.default_rng(5)
    for _ in range(100):
        if grouping.groups:
            _random_edit(grouping, rng, alive)
        _check(grouping, alive)


# --- into a move plan -----------------------------------------------------------------------------


def _write_images(root: Path, paths: list[str]) -> None:
    for seed, path in enumerate(paths):
        builders.write_jpeg(root / path, seed, size=(64, 48))


def test_ticked_groups_become_a_move_plan(tmp_path: Path) -> None:
    folder = _scenes()
    root, dest = tmp_path / "photos", tmp_path / "sorted"
    _write_images(root, _all_paths(folder))
    grouping = from_clustering(cluster_folder(folder, "coarse"))
    grouping.tick(0, True)
    grouping.rename(0, "Holiday")
    grouping.tick(len(grouping.groups) - 1, True)
    planned = to_plan_groups(grouping, root)
    ticked = [grouping.groups[0], grouping.groups[-1]]
    assert [(name, sorted(paths)) for name, paths in planned] == [
        (g.name, sorted(root / p for p in g.paths)) for g in ticked
    ]
    plan = make_plan(planned, dest, "move")
    assert not plan.skipped and not plan.renamed
    destinations = {m.src: m.dst for m in plan.moves}
    assert sorted(destinations) == sorted(root / p for g in ticked for p in g.paths)
    for group in ticked:
        assert {destinations[root / p].parent for p in group.paths} == {dest / group.name}


def test_duplicate_groups_send_every_copy_but_the_kept_one_to_the_trash(tmp_path: Path) -> None:
    grouping = _duplicates()
    root = tmp_path / "photos"
    _write_images(root, sorted(group_of(grouping)))
    for i in range(len(grouping.groups)):
        grouping.tick(i, True)
    plan = make_plan(to_plan_groups(grouping, root), None, "trash", trash_root=tmp_path / "trash")
    assert sorted(m.src for m in plan.moves) == sorted(
        root / p for p in ["edited/IMG_1 small.jpg", "copy of a.jpg"]
    )
    assert all(m.dst.parent == tmp_path / "trash" / "files" for m in plan.moves)


def test_unticked_groups_plan_nothing(tmp_path: Path) -> None:
    assert to_plan_groups(_groups(2, 3), tmp_path) == []


def test_the_user_chooses_the_copy_to_keep() -> None:
    grouping = Grouping(
        "duplicates", [Group("dup-1", "duplicates of a.jpg", ["a.jpg", "b.jpg"], keep="a.jpg", note="why")]
    )
    grouping.set_keep(0, "b.jpg")
    assert (grouping.groups[0].keep, grouping.groups[0].note) == ("b.jpg", "keep b.jpg: chosen by you")
    assert grouping.groups[0].name == "duplicates of b.jpg"  # a newcomer saw the old copy's name stay
    assert to_plan_groups(grouping_ticked(grouping), Path("/photos")) == [
        ("duplicates of b.jpg", [Path("/photos/a.jpg")])
    ]
    grouping.rename(0, "Beach")
    grouping.set_keep(0, "a.jpg")
    assert grouping.groups[0].name == "Beach"  # the user's name stays
    with pytest.raises(ValueError, match="not in group"):
        grouping.set_keep(0, "c.jpg")
    clusters = Grouping("clusters", [Group("cluster-1", "kitchen", ["a.jpg"])])
    with pytest.raises(ValueError, match="no copy to keep"):
        clusters.set_keep(0, "a.jpg")


def grouping_ticked(grouping: Grouping) -> Grouping:
    for i in range(len(grouping.groups)):
        grouping.tick(i, True)
    return grouping
