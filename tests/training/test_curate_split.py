"""Dedupe and split: one image kept per near-duplicate group, and no group spans two splits."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sorter_app.core.duplicates import NearRule
from sorter_app.core.embedder import Embedder
from sorter_app.paths import bundled_model_sidecar
from tests import builders
from training.curate.decode import MIN_UNIQUE_COLOURS
from training.curate.inputs import Item
from training.curate.pipeline import CurateConfig, curate
from training.curate.progress import quiet
from training.curate.run_data import RunData, load_run_data
from training.curate.shard_worker import ModelSetup, ShardProcessor, ShardTask
from training.curate.split import SPLITS, assign_splits, shard_order
from training.curate.steps import dedupe_step
from training.curate.work import WorkStore, plan_shards, shard_key


def _item(path: Path, scene: str = "outdoor", room: str = "", source: str = "s") -> Item:
    return Item(path=path.name, file=path, source=source, scene=scene, room=room)


def model_stage(items: list[Item], work: Path, shard_size: int = 4) -> RunData:
    """The model stage in this process, as `curate --engine local` runs it, into a work store."""
    setup = ModelSetup(bundled_model_sidecar(), None, None, MIN_UNIQUE_COLOURS, threads=2)
    shards = plan_shards([("test", len(items), shard_size)])
    keys = [shard_key("test", items[s.first : s.first + s.count]) for s in shards]
    processor = ShardProcessor(setup, work)
    for shard, key in zip(shards, keys, strict=True):
        processor.process(ShardTask(shard.index, key, items[shard.first : shard.first + shard.count]))
    return load_run_data(WorkStore(work), shards, keys)


def test_dedupe_keeps_the_largest_of_a_near_duplicate_pair(tmp_path: Path, embedder: Embedder) -> None:
    builders.scene(5, (640, 480)).save(tmp_path / "large.jpg", "JPEG", quality=90)
    builders.scene(5, (640, 480)).resize((320, 240)).save(tmp_path / "small.jpg", "JPEG", quality=95)
    others = [builders.write_jpeg(tmp_path / f"other{k}.jpg", 40 + k) for k in range(4)]
    items = [_item(tmp_path / "small.jpg"), *(_item(p) for p in others), _item(tmp_path / "large.jpg")]
    data = model_stage(items, tmp_path / "work")
    step, groups = dedupe_step(items, range(len(items)), data, NearRule())
    assert [(g.members, g.keep, g.tier) for g in groups] == [([0, 5], 5, "near")]
    assert step.dropped == {0: "near-duplicate: of large.jpg"}
    assert step.extra["search"]["cells"] == 1  # a handful of images: one cell, all pairs


def test_identical_files_with_different_labels_are_all_dropped(tmp_path: Path, embedder: Embedder) -> None:
    a = builders.write_jpeg(tmp_path / "a" / "x.jpg", 3)
    b = tmp_path / "b" / "x.jpg"
    b.parent.mkdir()
    b.write_bytes(a.read_bytes())
    c = tmp_path / "c" / "x.jpg"
    c.parent.mkdir()
    c.write_bytes(a.read_bytes())
    items = [
        Item("a/x.jpg", a, "a", "indoor", "kitchen"),
        Item("b/x.jpg", b, "b", "indoor", "dining_room"),
        Item("c/x.jpg", c, "c", "indoor", ""),
    ]
    data = model_stage(items, tmp_path / "work")
    step, groups = dedupe_step(items, range(3), data, NearRule())
    assert [(g.members, g.keep, g.tier) for g in groups] == [([0, 1, 2], None, "exact")]
    assert set(step.dropped) == {0, 1, 2}
    # an unknown room agrees with anything: without the dining-room copy, one image is kept
    step, groups = dedupe_step(items, [0, 2], data, NearRule())
    assert groups[0].keep == 0 and step.dropped == {2: "exact copy: of a/x.jpg"}


@pytest.mark.parametrize("cell_size", [1000, 6])  # one exact cell; 5 cells of the partitioned search
def test_a_duplicate_pair_that_would_fall_across_splits_ends_up_in_one_split(
    tmp_path: Path, embedder: Embedder, cell_size: int
) -> None:
    """Ten photos with a half-size copy each, filed in the source's train and test folders."""
    rows = []
    (tmp_path / "src" / "test").mkdir(parents=True)
    for k in range(10):
        original = builders.write_jpeg(tmp_path / "src" / "train" / f"p{k}.jpg", 300 + k, (480, 360))
        builders.scene(300 + k, (480, 360)).resize((240, 180)).save(
            tmp_path / "src" / "test" / f"p{k}.jpg", "JPEG", quality=90
        )
        rows += [(f"src/train/p{k}.jpg", "train"), (f"src/test/p{k}.jpg", "test")]
        assert original.is_file()
    for k in range(10):
        builders.write_jpeg(tmp_path / "src" / "train" / f"single{k}.jpg", 400 + k)
        rows.append((f"src/train/single{k}.jpg", "train"))
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "source", "split", "scene", "room", "kind"])
        writer.writerows([(path, "src", split, "outdoor", "", "photo") for path, split in rows])

    # Split as if every file were on its own: some pair straddles two splits (what a leak is).
    paths = [p for p, _ in rows]
    naive = assign_splits(list(range(len(paths))), ["outdoor"] * len(paths), paths, seed=0)
    assert any(naive[2 * k] != naive[2 * k + 1] for k in range(10))

    out = tmp_path / "out"
    config = CurateConfig(out=out, manifests=(manifest,), shard_size=8, threads=2, cell_size=cell_size)
    result = curate(config, log=quiet)
    in_split: dict[str, str] = {}
    for shard in result["shards"]:
        with np.load(out / shard["file"]) as npz:
            in_split.update(dict.fromkeys(npz["path"].tolist(), shard["split"]))
    for k in range(10):  # whatever found it, no pair is on two sides of the split
        sides = {in_split.get(f"src/{folder}/p{k}.jpg") for folder in ("train", "test")} - {None}
        assert len(sides) <= 1
    for group in result["duplicate_groups"]:
        members = [m["path"] for m in group["members"]]
        assert len(members) == 2 and group["keep"] == members[0]  # the train/ original, larger
        assert [in_split.get(m) for m in members] == [group["split"], None]
    steps = json.loads((out / "manifest.json").read_text())["steps"]
    assert steps[4]["name"] == "split_audit"
    if cell_size == 1000:  # exact: every pair found by the dedupe itself, nothing left to the audit
        assert steps[3]["search"]["cells"] == 1 and len(result["duplicate_groups"]) == 10
        assert len(in_split) == 20 and Counter(in_split.values())["train"] == 16
        assert steps[4]["dropped"] == 0
    else:
        assert steps[3]["search"]["cells"] == 5 and steps[3]["recall"]["recall"] >= 0.9
        assert len(result["duplicate_groups"]) >= 8


def test_splits_are_stratified_within_one_image_and_seeded() -> None:
    strata = ["a"] * 500 + ["b"] * 300 + ["c"] * 37 + ["d"] * 3
    units = list(range(len(strata)))
    hashes = [f"{k:032x}" for k in reversed(units)]
    split_of = assign_splits(units, strata, hashes, seed=7)
    for stratum in set(strata):
        members = [u for u in units if strata[u] == stratum]
        counts = Counter(split_of[u] for u in members)
        for split, fraction in zip(SPLITS, (0.8, 0.1, 0.1), strict=True):
            assert abs(counts[split] - fraction * len(members)) <= 1, (stratum, counts)
    total = Counter(split_of.values())
    assert (total["train"], total["val"], total["test"]) == (672, 84, 84)
    assert assign_splits(units, strata, hashes, seed=7) == split_of
    assert assign_splits(units, strata, hashes, seed=8) != split_of
    # the input order does not matter, only the content hashes
    shuffled = list(reversed(units))
    assert (
        assign_splits(shuffled, [strata[u] for u in shuffled], [hashes[u] for u in shuffled], seed=7)
        == split_of
    )


@pytest.mark.parametrize("split", SPLITS)
def test_shard_order_is_a_seeded_shuffle(split: str) -> None:
    units = list(range(50))
    hashes = [f"{(k * 7919) % 50:02d}" for k in units]
    order = shard_order(units, hashes, seed=3, split=split)
    assert sorted(order) == units and order != sorted(order, key=lambda u: hashes[u])
    assert shard_order(list(reversed(units)), list(reversed(hashes)), seed=3, split=split) == order
