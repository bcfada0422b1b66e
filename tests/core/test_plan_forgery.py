"""A plan file is untrusted: forged entries are refused whole, and links never reach outside the folder."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sorter_app.core.mover import apply_plan
from sorter_app.core.plan import MovePlan, PlanError, load_plan, make_plan, save_plan
from tests.core.move_support import snapshot, write_file

Forgery = Callable[[dict[str, Any], Path], object]  # what it returns is ignored


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """photos/ to sort, elsewhere/ with files no plan for photos/ may touch, a home with hidden folders."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / ".local" / "share"))
    for name in ("a.jpg", "b.jpg"):
        write_file(tmp_path / "photos" / name, 1000, len(name))
    write_file(tmp_path / "photos" / "notes.txt", 100, 7)
    write_file(tmp_path / "elsewhere" / "secret.jpg", 1000, 9)
    (tmp_path / "home" / ".config" / "autostart").mkdir(parents=True)
    return tmp_path


def _plan(world: Path, mode: str = "move") -> dict[str, Any]:
    photos = world / "photos"
    dest = None if mode == "trash" else photos / "sorted"
    plan = make_plan([("Beach", [photos / "a.jpg", photos / "b.jpg"])], dest, mode, folder=photos)  # type: ignore[arg-type]
    assert len(plan.moves) == 2
    return plan.to_json()


def _source(data: dict[str, Any], path: Path) -> None:
    st = path.stat()
    data["moves"][0].update(src=str(path), size=st.st_size, mtime_ns=st.st_mtime_ns)


def _link(link: Path, target: Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target, target_is_directory=target.is_dir())
    return link


FORGED: dict[str, tuple[Forgery, str]] = {
    "destination in autostart": (
        lambda d, w: d["moves"][0].update(dst=str(w / "home/.config/autostart/x/a.jpg")),
        "not in a folder directly under",
    ),
    "destination root set to autostart": (
        lambda d, w: (
            d.update(destination=str(w / "home/.config/autostart")),
            d["moves"][0].update(dst=str(w / "home/.config/autostart/Beach/a.jpg")),
        ),
        "inside a hidden folder",
    ),
    "destination with ../..": (
        lambda d, w: d["moves"][0].update(dst=str(w / "photos/sorted/Beach/../../../evil/a.jpg")),
        "not in a folder directly under",
    ),
    "destination deeper than a group folder": (
        lambda d, w: d["moves"][0].update(dst=str(w / "photos/sorted/Beach/deeper/a.jpg")),
        "not in a folder directly under",
    ),
    "hidden group folder": (
        lambda d, w: d["moves"][0].update(dst=str(w / "photos/sorted/.hidden/a.jpg")),
        "not in a folder directly under",
    ),
    "symlinked destination parent": (
        lambda d, w: _link(w / "photos/sorted/Beach", w / "elsewhere"),
        "not in a folder directly under",
    ),
    "changed extension": (
        lambda d, w: d["moves"][0].update(dst=str(w / "photos/sorted/Beach/a.desktop")),
        "does not keep the extension",
    ),
    "hidden destination name": (
        lambda d, w: d["moves"][0].update(dst=str(w / "photos/sorted/Beach/.a.jpg")),
        "hidden name",
    ),
    "source outside the folder": (
        lambda d, w: _source(d, w / "elsewhere/secret.jpg"),
        "outside the plan's folder",
    ),
    "source through ..": (
        lambda d, w: _source(d, w / "photos/../elsewhere/secret.jpg"),
        "outside the plan's folder",
    ),
    "source through a directory link": (
        lambda d, w: _source(d, _link(w / "photos/link", w / "elsewhere") / "secret.jpg"),
        "outside the plan's folder",
    ),
    "source not an image": (lambda d, w: _source(d, w / "photos/notes.txt"), "not an image file"),
    "folder is not a folder": (lambda d, w: d.update(folder=str(w / "photos/a.jpg")), "is not a folder"),
    "no folder (older plan)": (lambda d, w: d.pop("folder"), "does not name its folder"),
    "forged rename": (
        lambda d, w: d["renamed"].append(
            {"src": d["moves"][0]["src"], "dst": "/etc/x.jpg", "planned": "/x.jpg"}
        ),
        "does not match a move",
    ),
}


@pytest.mark.parametrize("forgery", list(FORGED))
def test_a_forged_plan_is_refused_before_anything_moves(world: Path, forgery: str) -> None:
    data = _plan(world)
    change, reason = FORGED[forgery]
    change(data, world)
    path = world / "plan.json"
    path.write_text(json.dumps(data))
    before = snapshot(world)
    with pytest.raises(PlanError, match=reason):
        apply_plan(load_plan(path), world / "journal")
    assert snapshot(world) == before and not (world / "journal").exists()


TRASH_FORGED: dict[str, tuple[Forgery, str]] = {
    "another folder called a trash": (
        lambda d, w: (
            d.update(destination=str(w / "fake/Trash")),
            d["moves"][0].update(dst=str(w / "fake/Trash/files/a.jpg")),
        ),
        "which is not the trash",
    ),
    "files/ outside the trash": (
        lambda d, w: d["moves"][0].update(dst=str(w / "home/.config/files/a.jpg")),
        "not in the trash's files folder",
    ),
    "trash info folder linked elsewhere": (
        lambda d, w: _link(w / "home/.local/share/Trash/info", w / "elsewhere"),
        "info folder is a link",
    ),
    "trash files folder linked elsewhere": (
        lambda d, w: _link(w / "home/.local/share/Trash/files", w / "elsewhere"),
        "files folder is a link",
    ),
}


@pytest.mark.parametrize("forgery", list(TRASH_FORGED))
def test_trash_entries_go_only_to_the_real_trash(world: Path, forgery: str) -> None:
    data = _plan(world, "trash")
    change, reason = TRASH_FORGED[forgery]
    change(data, world)
    before = snapshot(world)
    with pytest.raises(PlanError, match=reason):
        apply_plan(MovePlan.from_json(data), world / "journal")
    assert snapshot(world) == before
    assert not list(world.rglob("*.trashinfo"))


def test_an_honest_plan_still_applies(world: Path) -> None:
    for mode in ("move", "trash"):
        data = _plan(world, mode)
        result = apply_plan(MovePlan.from_json(data), world / "journal")
        assert result.moved + result.trashed == 2
        for move in data["moves"]:
            os.replace(move["dst"], move["src"])


def test_make_plan_leaves_out_what_links_reach_outside_the_folder(world: Path) -> None:
    photos = world / "photos"
    _link(photos / "link", world / "elsewhere")
    _link(photos / "linked.jpg", world / "elsewhere" / "secret.jpg")
    before = snapshot(world / "elsewhere")
    plan = make_plan(
        [("All", [photos / "a.jpg", photos / "link" / "secret.jpg", photos / "linked.jpg"])],
        photos,
        folder=photos,
    )
    assert [m.src.name for m in plan.moves] == ["a.jpg"]
    reasons = {s.src.name: s.reason for s in plan.skipped}
    assert "outside" in reasons["secret.jpg"] and "symbolic link" in reasons["linked.jpg"]
    save_plan(plan, world / "plan.json")
    apply_plan(load_plan(world / "plan.json"), world / "journal")
    assert snapshot(world / "elsewhere") == before
