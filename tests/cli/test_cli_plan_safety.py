"""`sorter plan` + `sorter move` never reach outside the folder; forged plan files are refused in one line."""

from __future__ import annotations

import json
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
