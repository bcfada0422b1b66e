"""The move plan: folder names safe everywhere, collisions decided for the whole batch, nothing touched."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from sorter_app.core.plan import (
    MovePlan,
    PlanError,
    load_plan,
    make_plan,
    new_plan_id,
    sanitize_folder_name,
    save_plan,
    with_suffix_number,
)
from tests.core.move_support import photo_folder, snapshot, write_file


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Beach", "Beach"),
        ("  beach   day ", "beach day"),
        ("a/b\\c", "a_b_c"),
        ('what?<>:"|*', "what_______"),
        ("..", "Unnamed"),
        ("../../etc", "_.._etc"),
        (".hidden", "hidden"),
        ("trailing. . ", "trailing"),
        ("tab\there\nnew\x00line\x1f", "tab_here_new_line_"),
        ("", "Unnamed"),
        ("   ", "Unnamed"),
        ("CON", "CON_"),
        ("con.txt", "con_.txt"),
        ("Lpt1", "Lpt1_"),
        ("COM¹", "COM¹_"),
        ("console", "console"),
        ("Cafe\u0301", "Café"),  # NFC
    ],
)
def test_folder_names_are_safe_on_every_platform(name: str, expected: str) -> None:
    assert sanitize_folder_name(name) == expected


def test_long_folder_names_are_cut() -> None:
    assert len(sanitize_folder_name("x" * 300)) == 100
    cut = sanitize_folder_name("é" * 150)  # 2 bytes each: the byte limit bites first
    assert len(cut.encode()) <= 200 and cut == "é" * 100
    assert sanitize_folder_name("a" * 99 + " b") == "a" * 99  # no trailing space after the cut


def test_suffix_goes_before_the_extension() -> None:
    assert with_suffix_number("beach.jpg", 1) == "beach (1).jpg"
    assert with_suffix_number(".bashrc", 2) == ".bashrc (2)"
    assert with_suffix_number("noext", 3) == "noext (3)"
    long_name = "x" * 250 + ".jpg"
    assert len(with_suffix_number(long_name, 12).encode()) == 255


def test_plan_id_sorts_by_time() -> None:
    first, second = new_plan_id(1_700_000_000), new_plan_id(1_700_000_001)
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", first)
    assert first.startswith("20231114-221320-") and first < second


def test_collisions_in_the_batch_and_on_disk_get_numbers(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    groups = photo_folder(root)
    plan = make_plan(groups, root)
    dst = {m.src.relative_to(root).as_posix(): m.dst.relative_to(root).as_posix() for m in plan.moves}
    assert dst == {"a.jpg": "Beach/a.jpg", "sub/a.jpg": "Beach/a (1).jpg", "b.jpg": "Night/b (1).jpg"}
    renamed = {(r.src.name, r.planned.name, r.dst.name) for r in plan.renamed}
    assert renamed == {("a.jpg", "a.jpg", "a (1).jpg"), ("b.jpg", "b.jpg", "b (1).jpg")}
    assert plan.mode == "move" and plan.skipped == ()
    by_src = {m.src: m for m in plan.moves}
    assert by_src[root / "b.jpg"].size == 5000
    assert by_src[root / "b.jpg"].mtime_ns == os.stat(root / "b.jpg").st_mtime_ns


def test_names_differing_only_in_case_collide(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    x = write_file(root / "one" / "IMG.jpg", 10, 1)
    y = write_file(root / "two" / "img.JPG", 10, 2)
    write_file(root / "Beach" / "keep.jpg", 10, 3)
    write_file(root / "night", 10, 4)  # a file where the "Night" folder would go
    plan = make_plan([("beach", [x]), ("BEACH", [y]), ("Night", [write_file(root / "n.jpg", 10, 5)])], root)
    dst = sorted(m.dst.relative_to(root).as_posix() for m in plan.moves)
    assert dst == ["Beach/IMG.jpg", "Beach/img (1).JPG", "Night (1)/n.jpg"]


def test_dry_run_touches_nothing(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    groups = photo_folder(root)
    before = snapshot(tmp_path), sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    make_plan([*groups, ("New folder", [write_file(tmp_path / "x.jpg", 5, 9)])], root)
    make_plan(groups, tmp_path / "elsewhere", "copy")
    after = snapshot(tmp_path), sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after[0] == {**before[0], "0:x.jpg": after[0]["0:x.jpg"]}
    assert [p for p in after[1] if p not in before[1]] == [Path("x.jpg")]


def test_sources_in_place_missing_or_not_files_are_left_out_with_a_reason(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    here = write_file(root / "Beach" / "here.jpg", 10, 1)
    (root / "adir").mkdir()
    (root / "link.jpg").symlink_to(here)
    plan = make_plan([("Beach", [here, root / "gone.jpg", root / "adir", root / "link.jpg"])], root)
    assert plan.moves == ()
    assert [(s.src.name, s.reason) for s in plan.skipped] == [
        ("here.jpg", "already in place"),
        ("gone.jpg", "does not exist"),
        ("adir", "not a regular file"),
        ("link.jpg", "a symbolic link: move its target instead"),
    ]


def test_a_source_listed_twice_or_relative_is_an_error(tmp_path: Path) -> None:
    a = write_file(tmp_path / "a.jpg", 10, 1)
    with pytest.raises(PlanError, match="listed twice"):
        make_plan([("x", [a]), ("y", [tmp_path / "sub" / ".." / "a.jpg"])], tmp_path)
    with pytest.raises(PlanError, match="absolute"):
        make_plan([("x", [Path("a.jpg")])], tmp_path)
    with pytest.raises(PlanError, match="destination folder is needed"):
        make_plan([("x", [a])], None)
    with pytest.raises(PlanError, match="unknown mode"):
        make_plan([("x", [a])], tmp_path, "shred")  # type: ignore[arg-type]


def test_trash_plan_goes_flat_into_the_trash_and_avoids_taken_names(tmp_path: Path) -> None:
    trash = tmp_path / "Trash"
    write_file(trash / "files" / "a.jpg", 1, 1)
    write_file(trash / "info" / "b.jpg.trashinfo", 1, 2)  # an info file alone also reserves the name
    a = write_file(tmp_path / "x" / "a.jpg", 10, 3)
    b = write_file(tmp_path / "y" / "b.jpg", 10, 4)
    plan = make_plan([("ignored", [a, b])], None, "trash", trash_root=trash)
    assert [m.dst for m in plan.moves] == [trash / "files" / "a (1).jpg", trash / "files" / "b (1).jpg"]


def test_json_round_trip_and_shape(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    plan = make_plan(photo_folder(root), root, "copy")
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    data = json.loads(path.read_text())
    assert set(data) == {"id", "mode", "created_at", "folder", "destination", "moves", "renamed", "skipped"}
    assert set(data["moves"][0]) == {"src", "dst", "size", "mtime_ns"}
    assert set(data["renamed"][0]) == {"src", "dst", "planned"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["created_at"])
    assert load_plan(path) == plan
    assert MovePlan.from_json(plan.to_json()) == plan


def _valid(tmp_path: Path) -> dict[str, object]:
    a = write_file(tmp_path / "a.jpg", 10, 1)
    return make_plan([("x", [a])], tmp_path).to_json()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("moves"), "has no 'moves'"),
        (lambda d: d.update(id="../../etc"), "plan id"),
        (lambda d: d.update(mode="shred"), "mode 'shred'"),
        (lambda d: d["moves"][0].update(size="10"), r"moves\[0\].size must be an integer"),
        (lambda d: d["moves"][0].update(size=True), r"moves\[0\].size must be an integer"),
        (lambda d: d["moves"][0].update(size=-1), "negative"),
        (lambda d: d["moves"][0].update(src="a.jpg"), r"moves\[0\].src must be an absolute path"),
        (lambda d: d["moves"].append(dict(d["moves"][0])), "listed twice"),
        (lambda d: d["moves"].append(3), r"moves\[1\] must be an object"),
        (lambda d: d.update(renamed={}), "renamed must be a list"),
    ],
)
def test_malformed_plan_files_get_a_clear_error(tmp_path: Path, change: object, message: str) -> None:
    data = _valid(tmp_path)
    change(data)  # type: ignore[operator]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PlanError, match=f"malformed plan file {re.escape(str(path))}: .*{message}"):
        load_plan(path)


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '"plan"', "null"])
def test_plan_files_that_are_not_a_plan_object(tmp_path: Path, text: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(text)
    with pytest.raises(PlanError, match="malformed plan file"):
        load_plan(path)


def test_missing_plan_file(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read plan file"):
        load_plan(tmp_path / "nope.json")
