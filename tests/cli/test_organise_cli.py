"""`sorter` duplicates / clusters / outliers / groups / plan / move / undo / journal, in-process.

The folder holds three built scenes, each with a byte copy and six edited copies, and six other
scenes: enough for clusters, duplicate groups and seed groups. Every move is followed by an index
run that must embed nothing (the catalog followed the files) and every undo by a tree snapshot
that must equal the original.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sorter_app.cli import main
from sorter_app.core import user_choices
from sorter_app.core.library import Library
from sorter_app.paths import bundled_model_sidecar
from tests import builders
from tests.core.move_support import snapshot

FAMILIES = ("beach", "forest", "city")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if "--json" in argv and code == 0 else out), err


def _build_folder(tmp: Path) -> Path:
    folder = tmp / "photos"
    for n, name in enumerate(FAMILIES, start=1):
        original = builders.write_jpeg(tmp / "camera" / f"{name}.jpg", seed=n, size=(480, 360))
        builders.write_edited_copies(original, folder, name)
    for n in range(10, 16):
        builders.write_jpeg(folder / "misc" / f"scene{n}.jpg", seed=n)
    return folder


IMAGES = len(FAMILIES) * (2 + len(builders.EDITS) - 1) + 6  # original + copy + 6 edits each, 6 scenes


class Sorter:
    """`sorter` on one folder and one data folder, as a script would call it."""

    def __init__(self, capsys: pytest.CaptureFixture[str], folder: Path, data: Path) -> None:
        self.capsys, self.folder, self.data = capsys, folder.resolve(), data

    def __call__(self, *argv: str) -> tuple[int, Any, str]:
        return _run(self.capsys, *argv, "--data-dir", str(self.data))

    def json(self, *argv: str) -> Any:
        code, data, err = self(*argv, "--json")
        assert code == 0, err
        return data

    def index(self) -> dict[str, Any]:
        report: dict[str, Any] = self.json("index", str(self.folder))
        return report

    def plan(self, path: Path, *how: str) -> dict[str, Any]:
        plan: dict[str, Any] = self.json("plan", str(self.folder), *how, "-o", str(path))
        return plan


@pytest.fixture
def sorter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Sorter:
    """A freshly built and indexed folder, one per test: these tests move its files."""
    runner = Sorter(capsys, _build_folder(tmp_path), tmp_path / "data")
    report = runner.index()
    assert report["indexed"] + report["reused"] == IMAGES and report["skipped"] == []
    return runner


def _reindexed_nothing(sorter: Sorter, images: int = IMAGES) -> None:
    """An index run after a move or an undo: nothing embedded, nothing lost, nothing forgotten."""
    report = sorter.index()
    assert (report["indexed"], report["reused"], report["removed"], report["skipped"]) == (0, images, 0, [])


# --- JSON shapes of the read-only commands ----------------------------------------------------------


def test_duplicates_json_shape(sorter: Sorter) -> None:
    data = sorter.json("duplicates", str(sorter.folder))
    assert set(data) == {"groups", "similar"} and len(data["groups"]) == len(FAMILIES)
    for group in data["groups"]:
        assert set(group) == {"tier", "keep", "paths", "why", "edits"}
        assert group["tier"] in ("exact", "near") and group["keep"] in group["paths"]
        assert all(Path(p).is_absolute() and Path(p).is_file() for p in group["paths"])
        assert {"flipped", "cropped", "resized"} <= set(group["edits"])
    for group in data["similar"]:
        assert set(group) == {"paths", "similarity"} and len(group["paths"]) >= 2


def test_similar_photos_are_listed_apart_and_never_planned_for_the_trash(
    datasets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    skies = builders.copy_look_alike_skies(datasets, folder)
    (folder / "copy.jpg").write_bytes((folder / skies[0]).read_bytes())
    runner = Sorter(capsys, folder, tmp_path / "data")
    runner.index()
    data = runner.json("duplicates", str(runner.folder))
    assert [(g["tier"], len(g["paths"])) for g in data["groups"]] == [("exact", 2)]
    assert len(data["similar"]) == 1 and {str(runner.folder / s) for s in skies} <= set(
        data["similar"][0]["paths"]
    )
    code, text, _ = runner("duplicates", str(runner.folder))
    assert code == 0 and "similar, not the same picture (4" in text  # the byte copy too
    plan = runner.plan(tmp_path / "p.json", "--duplicates", "--trash")
    trashed = {m["src"] for m in plan["moves"]}
    keep = data["groups"][0]["keep"]
    assert trashed == set(data["groups"][0]["paths"]) - {keep}


def test_clusters_json_shape(sorter: Sorter) -> None:
    data = sorter.json("clusters", str(sorter.folder), "--granularity", "fine")
    assert set(data) == {"clusters", "unsorted"} and data["clusters"]
    for cluster in data["clusters"]:
        assert set(cluster) >= {"id", "name", "label", "paths"}
        assert cluster["name"] == f"{cluster['label']} · {len(cluster['paths'])}"
    placed = [p for c in data["clusters"] for p in c["paths"]] + data["unsorted"]
    assert len(placed) == len(set(placed)) == IMAGES


def test_clusters_carry_the_names_given_in_the_window(sorter: Sorter, tmp_path: Path) -> None:
    """The CLI twin showed "cluster 4" where the window said "public places" (a newcomer's find)."""
    first = sorter.json("clusters", str(sorter.folder))["clusters"][0]
    with Library(sorter.data, bundled_model_sidecar()) as library:
        catalog = library.catalog
        root_id = catalog.root_id(sorter.folder, create=False)
        assert root_id is not None
        relpaths = [Path(p).relative_to(sorter.folder).as_posix() for p in first["paths"]]
        rows = [catalog.file_row(root_id, relpath) for relpath in relpaths]
        hashes = [row.content_hash for row in rows if row is not None and row.content_hash]
        user_choices.set_group_name(catalog, "clusters", hashes, "public places")  # as the window's F2
    again = {c["id"]: c for c in sorter.json("clusters", str(sorter.folder))["clusters"]}
    assert again[first["id"]]["label"] == "public places" and again[first["id"]]["paths"] == first["paths"]
    plan = sorter.plan(tmp_path / "p.json", "--clusters", str(first["id"]))
    assert {Path(m["dst"]).parent.name for m in plan["moves"]} == {"public places"}


def test_outliers_json_shape_and_top(sorter: Sorter) -> None:
    everything = sorter.json("outliers", str(sorter.folder), "--top", "0")
    assert len(everything) == IMAGES and all(set(o) == {"path", "score"} for o in everything)
    assert [o["score"] for o in everything] == sorted((o["score"] for o in everything), reverse=True)
    assert sorter.json("outliers", str(sorter.folder), "--top", "3") == everything[:3]


def test_groups_json_shape(sorter: Sorter) -> None:
    seeds = [str(sorter.folder / f"{name}.jpg") for name in FAMILIES]
    data = sorter.json("groups", str(sorter.folder), *(a for s in seeds for a in ("--seed", s)))
    assert set(data) == {"groups"} and [g["seed"] for g in data["groups"]] == seeds
    for group in data["groups"]:
        assert set(group) == {"seed", "paths"} and group["paths"][0] == group["seed"]


# --- moves, copies and the trash, each undone ----------------------------------------------------------


def test_moving_clusters_into_folders_reembeds_nothing(sorter: Sorter, tmp_path: Path) -> None:
    plan = sorter.plan(tmp_path / "p.json", "--clusters", "all")
    assert plan["mode"] == "move" and plan["moves"]
    result = sorter.json("move", "--plan", str(tmp_path / "p.json"))
    assert result["moved"] == len(plan["moves"]) and result["skipped"] == []
    assert all(Path(m["dst"]).is_file() and not Path(m["src"]).exists() for m in plan["moves"])
    _reindexed_nothing(sorter)


def test_undoing_a_move_restores_the_tree_and_reembeds_nothing(sorter: Sorter, tmp_path: Path) -> None:
    before = snapshot(sorter.folder)
    sorter.plan(tmp_path / "p.json", "--clusters", "all")
    moved = sorter.json("move", "--plan", str(tmp_path / "p.json"))
    undone = sorter.json("undo")
    assert undone["plan_id"] == moved["plan_id"] and undone["restored"] == moved["moved"]
    assert snapshot(sorter.folder) == before
    _reindexed_nothing(sorter)


def test_move_and_undo_json_shapes(sorter: Sorter, tmp_path: Path) -> None:
    plan = sorter.plan(tmp_path / "p.json", "--clusters", "1")
    moved = sorter.json("move", "--plan", str(tmp_path / "p.json"))
    assert set(moved) >= {"plan_id", "mode", "moved", "copied", "trashed", "renamed", "skipped", "cancelled"}
    assert moved["plan_id"] == plan["id"] and isinstance(moved["renamed"], list)
    undone = sorter.json("undo", moved["plan_id"])
    assert set(undone) >= {"plan_id", "action", "restored", "removed", "not_restored", "cancelled"}
    assert (undone["plan_id"], undone["action"], undone["not_restored"]) == (plan["id"], "undo", [])


def test_copying_clusters_then_undo(sorter: Sorter, tmp_path: Path) -> None:
    before = snapshot(sorter.folder)
    plan = sorter.plan(tmp_path / "p.json", "--clusters", "all", "--copy")
    copies = len(plan["moves"])
    result = sorter.json("move", "--plan", str(tmp_path / "p.json"))
    assert (result["mode"], result["copied"]) == ("copy", copies)
    assert all(Path(m["src"]).is_file() and Path(m["dst"]).is_file() for m in plan["moves"])
    _reindexed_nothing(sorter, IMAGES + copies)
    undone = sorter.json("undo")
    assert undone["removed"] == copies
    assert snapshot(sorter.folder) == before
    _reindexed_nothing(sorter)


def test_duplicates_to_the_trash_keep_one_copy_and_undo_restores_them(
    sorter: Sorter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    trash = tmp_path / "xdg" / "Trash"
    before = snapshot(sorter.folder)
    groups = sorter.json("duplicates", str(sorter.folder))["groups"]
    plan = sorter.plan(tmp_path / "p.json", "--duplicates", "--trash")
    assert all(Path(m["dst"]).parent == trash / "files" for m in plan["moves"])
    result = sorter.json("move", "--plan", str(tmp_path / "p.json"))
    for group in groups:
        assert [p for p in group["paths"] if Path(p).exists()] == [group["keep"]]
    extra = sum(len(g["paths"]) - 1 for g in groups)
    assert result["trashed"] == extra == len(list((trash / "files").iterdir()))
    assert len(list((trash / "info").glob("*.trashinfo"))) == extra
    sorter.json("undo")
    assert snapshot(sorter.folder) == before
    assert snapshot(tmp_path / "xdg") == {}  # the folders the trash needed may stay, no file does
    _reindexed_nothing(sorter)


def test_dry_run_changes_nothing_on_disk(sorter: Sorter, tmp_path: Path) -> None:
    before = snapshot(sorter.folder)
    plan = sorter.plan(tmp_path / "p.json", "--clusters", "all")
    shown = sorter.json("move", "--plan", str(tmp_path / "p.json"), "--dry-run")
    assert shown["moves"] == plan["moves"]
    assert snapshot(sorter.folder) == before
    assert sorter.json("journal") == []


def test_journal_lists_the_plan_with_its_state(sorter: Sorter, tmp_path: Path) -> None:
    plan = sorter.plan(tmp_path / "p.json", "--clusters", "all")
    sorter.json("move", "--plan", str(tmp_path / "p.json"))
    (entry,) = sorter.json("journal")
    n = len(plan["moves"])
    assert (entry["id"], entry["mode"], entry["state"]) == (plan["id"], "move", "applied")
    assert (entry["moves"], entry["done"], entry["undone"]) == (n, n, 0)
    sorter.json("undo")
    (entry,) = sorter.json("journal")
    assert (entry["state"], entry["undone"]) == ("undone", n)


def test_cluster_folders_can_be_renamed_in_the_plan(sorter: Sorter, tmp_path: Path) -> None:
    plan = sorter.plan(tmp_path / "p.json", "--clusters", "1,2", "--name", "2=Beach trip")
    folders = {Path(m["dst"]).parent.name for m in plan["moves"]}
    assert "Beach trip" in folders and len(folders) == 2


def test_renaming_an_unknown_cluster_fails_with_one_line(sorter: Sorter, tmp_path: Path) -> None:
    code, _, err = sorter(
        "plan", str(sorter.folder), "--clusters", "1", "--name", "7=Kitchen", "-o", str(tmp_path / "p.json")
    )
    assert code == 1 and "no such cluster or seed" in err and err.count("\n") == 1


def test_a_plan_naming_missing_clusters_fails_with_one_line(sorter: Sorter, tmp_path: Path) -> None:
    code, _, err = sorter("plan", str(sorter.folder), "--clusters", "1,99", "-o", str(tmp_path / "p.json"))
    assert code == 1
    assert err.startswith("sorter: error: no cluster 99 (there are ") and err.count("\n") == 1
    assert not (tmp_path / "p.json").exists()


def test_plan_honours_a_zero_threshold_like_the_groups_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    seeds = [builders.write_jpeg(folder / f"scene{n}.jpg", seed=n) for n in (1, 2)]
    builders.write_16bit_png(folder / "ramp.png")  # ≤ 0.11 similar to the scenes
    sorter = Sorter(capsys, folder, tmp_path / "data")
    sorter.index()
    seed_args = [a for s in seeds for a in ("--seed", str(s))]
    listed = sorter.json("groups", str(sorter.folder), *seed_args, "--threshold", "0")
    assert sum(len(g["paths"]) for g in listed["groups"]) == 3  # everything, the ramp included
    plan = sorter.plan(tmp_path / "p.json", "--groups", *seed_args, "--threshold", "0")
    assert sorted(m["src"] for m in plan["moves"]) == sorted(p for g in listed["groups"] for p in g["paths"])
