"""`sorter plan` + `sorter move` never reach outside the folder; forged plan files are refused in one line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests import builders
from tests.cli.runner import Sorter
from tests.core.move_support import snapshot


@pytest.fixture
def world(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Sorter, Path, Path]:
    photos, elsewhere = tmp_path / "photos", tmp_path / "elsewhere"
    for i in range(4):
        builders.write_jpeg(photos / f"img{i}.jpg", seed=i)
        builders.write_jpeg(elsewhere / f"other{i}.jpg", seed=10 + i)
    (photos / "linked").symlink_to(elsewhere, target_is_directory=True)
    (photos / "one-file.jpg").symlink_to(elsewhere / "other0.jpg")
    sorter = Sorter(capsys, tmp_path / "data")
    assert sorter("index", photos)[0] == 0
    return sorter, photos.resolve(), elsewhere


def test_plan_all_and_move_never_touch_files_behind_links(
    world: tuple[Sorter, Path, Path], tmp_path: Path
) -> None:
    sorter, photos, elsewhere = world
    before = snapshot(elsewhere)
    code, plan, err = sorter("plan", photos, "--clusters", "all", "-o", tmp_path / "plan.json")
    assert code == 0, err
    assert all(Path(m["src"]).parent.resolve().is_relative_to(photos) for m in plan["moves"])
    assert not any("linked" in m["src"] or "one-file" in m["src"] for m in plan["moves"])
    code, result, err = sorter("move", "--plan", tmp_path / "plan.json")
    assert code == 0 and result["moved"] == len(plan["moves"]), err
    assert snapshot(elsewhere) == before


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_forged_plan_file_is_refused_in_one_line(
    world: tuple[Sorter, Path, Path], tmp_path: Path, dry_run: bool
) -> None:
    sorter, photos, _ = world
    sorter("plan", photos, "--clusters", "all", "-o", tmp_path / "plan.json")
    data = json.loads((tmp_path / "plan.json").read_text())
    autostart = tmp_path / "home" / ".config" / "autostart"
    data["destination"] = str(autostart)
    data["moves"][0]["dst"] = str(autostart / "Beach" / Path(data["moves"][0]["src"]).name)
    (tmp_path / "plan.json").write_text(json.dumps(data))
    before = snapshot(photos)
    code, _, err = sorter("move", "--plan", tmp_path / "plan.json", *(["--dry-run"] if dry_run else []))
    assert code == 1 and len(err) == 1
    assert err[0].startswith("sorter: error: the plan's destination") and "hidden folder" in err[0]
    assert snapshot(photos) == before and not autostart.exists()


def test_a_plan_for_a_folder_never_indexed_is_refused(
    world: tuple[Sorter, Path, Path], tmp_path: Path
) -> None:
    sorter, photos, elsewhere = world
    sorter("plan", photos, "--clusters", "all", "-o", tmp_path / "plan.json")
    data = json.loads((tmp_path / "plan.json").read_text())
    data["folder"] = str(tmp_path)  # wide enough to hold elsewhere/ too
    src = elsewhere / "other1.jpg"
    st = src.stat()
    data["moves"][0].update(src=str(src), size=st.st_size, mtime_ns=st.st_mtime_ns)
    data["renamed"] = []
    (tmp_path / "plan.json").write_text(json.dumps(data))
    code, _, err = sorter("move", "--plan", tmp_path / "plan.json")
    assert code == 1 and len(err) == 1 and "is not an indexed folder" in err[0]
    assert src.exists()


def test_plan_refuses_a_destination_inside_a_hidden_folder(
    world: tuple[Sorter, Path, Path], tmp_path: Path
) -> None:
    sorter, photos, _ = world
    hidden = tmp_path / ".config" / "autostart"
    code, _, err = sorter("plan", photos, "--clusters", "all", "--to", hidden, "-o", tmp_path / "plan.json")
    assert code == 1 and len(err) == 1 and "hidden folder" in err[0]
    assert not (tmp_path / "plan.json").exists()


# Found by an adversarial review (stop 28).


def test_a_forged_plan_naming_a_link_inside_the_folder_as_its_folder_is_refused(
    world: tuple[Sorter, Path, Path], tmp_path: Path
) -> None:
    sorter, photos, elsewhere = world
    sorter("plan", photos, "--clusters", "all", "-o", tmp_path / "plan.json")
    data = json.loads((tmp_path / "plan.json").read_text())
    data["folder"], data["destination"], data["renamed"] = str(photos / "linked"), str(tmp_path / "loot"), []
    source = elsewhere / "other1.jpg"
    st = source.stat()
    data["moves"] = [
        {
            "src": str(source),
            "dst": str(tmp_path / "loot/G/other1.jpg"),
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
        }
    ]
    (tmp_path / "forged.json").write_text(json.dumps(data))
    before = snapshot(elsewhere)
    code, _, err = sorter("move", "--plan", tmp_path / "forged.json")
    assert code == 1 and "is not an indexed folder" in err[0]
    assert snapshot(elsewhere) == before and not (tmp_path / "loot").exists()


def test_plan_output_never_replaces_a_file_that_is_not_a_plan(
    world: tuple[Sorter, Path, Path], tmp_path: Path
) -> None:
    sorter, photos, _ = world
    photo = photos / "img1.jpg"
    before = photo.read_bytes()
    code, _, err = sorter("plan", photos, "--clusters", "all", "-o", photo)
    assert code == 1 and err == [f"sorter: error: {photo} exists and is not a plan file: not overwritten"]
    assert photo.read_bytes() == before
    code, _, err = sorter("plan", photos, "--clusters", "all", "-o", photos)
    assert code == 1 and "is a folder" in err[0]
    assert sorter("plan", photos, "--clusters", "all", "-o", tmp_path / "plan.json")[0] == 0
    assert (
        sorter("plan", photos, "--clusters", "all", "-o", tmp_path / "plan.json")[0] == 0
    )  # a plan: replaced


def test_folders_whose_names_are_not_utf8_are_refused_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """They crashed with "unexpected UnicodeEncodeError" (SQLite and JSON refuse such names)."""
    photos = tmp_path / os.fsdecode(b"f\xe9tes")
    builders.write_jpeg(photos / "img0.jpg", seed=1)
    sorter = Sorter(capsys, tmp_path / "data")
    code, _, err = sorter("index", photos)
    assert code == 1 and err[0].startswith("sorter: error:") and "not valid UTF-8" in err[0]
    good = tmp_path / "good"
    builders.write_jpeg(good / "img0.jpg", seed=1)
    assert sorter("index", good)[0] == 0
    code, _, err = sorter(
        "plan",
        good,
        "--clusters",
        "all",
        "--to",
        tmp_path / os.fsdecode(b"d\xe9st"),
        "-o",
        tmp_path / "p.json",
    )
    assert code == 1 and "not valid UTF-8" in err[0] and not (tmp_path / "p.json").exists()
