"""Real permission errors: the mover runs in a child that obeys file modes even as root.

Each denied move is reported with a reason, and the tree is exactly as it was: no half-moved file,
no copy left behind when the source cannot be deleted, no second name for a file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sorter_app.core.plan import make_plan, save_plan
from tests.core.move_support import other_device_dir, snapshot, write_file
from tests.privileges import without_root_privileges

REPO = Path(__file__).resolve().parents[2]

CHILD = """
import json, sys
from pathlib import Path
from sorter_app.core.mover import apply_plan, undo_plan
from sorter_app.core.plan import load_plan

plan = load_plan(Path(sys.argv[1]))
applied = apply_plan(plan, Path(sys.argv[2]))
undone = undo_plan(plan.id, Path(sys.argv[2]))
print(json.dumps({"apply": applied.to_json(), "undo": undone.to_json()}))
"""


@pytest.fixture
def shm(tmp_path: Path) -> Iterator[Path]:
    folder = other_device_dir(tmp_path)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _run_unprivileged(tmp_path: Path, groups: list[tuple[str, list[Path]]], dest: Path) -> dict[str, Any]:
    plan_file = tmp_path / "plan.json"
    save_plan(make_plan(groups, dest), plan_file)
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(plan_file), str(tmp_path / "journal")],
        capture_output=True,
        text=True,
        cwd=REPO,
        preexec_fn=without_root_privileges,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _reasons(report: dict[str, Any]) -> dict[str, str]:
    return {Path(s["src"]).name: s["reason"] for s in report["apply"]["skipped"]}


def test_denied_moves_are_reported_and_nothing_is_lost(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    ok = write_file(root / "ok.jpg", 1000, 1)
    into_locked = write_file(root / "into-locked.jpg", 1000, 2)
    from_locked = write_file(root / "locked-src" / "from-locked.jpg", 1000, 3)
    needs_folder = write_file(root / "needs-folder.jpg", 1000, 4)
    (root / "Locked").mkdir()
    sealed = tmp_path / "sealed"  # no new folder can be made here
    sealed.mkdir()
    before = snapshot(root, sealed)
    for folder in (root / "Locked", root / "locked-src", sealed):
        folder.chmod(0o555)
    try:
        groups = [("Open", [ok, from_locked]), ("Locked", [into_locked])]
        report = _run_unprivileged(tmp_path, groups, root)
        report_sealed = _run_unprivileged(tmp_path / "second", [("New", [needs_folder])], sealed)
    finally:
        for folder in (root / "Locked", root / "locked-src", sealed):
            folder.chmod(0o755)
    assert report["apply"]["moved"] == 1
    reasons = _reasons(report)
    assert reasons["into-locked.jpg"].startswith("permission denied: ")
    assert reasons["from-locked.jpg"].startswith("permission denied: ")  # linked, could not unlink: undone
    assert report["undo"]["restored"] == 1 and report["undo"]["not_restored"] == []
    assert _reasons(report_sealed) == {
        "needs-folder.jpg": f"cannot create folder: permission denied: {sealed / 'New'}"
    }
    assert snapshot(root, sealed) == before
    assert not (root / "Open").exists()


def test_denied_cross_device_moves_leave_no_copy(tmp_path: Path, shm: Path) -> None:
    root = tmp_path / "photos"
    ok = write_file(root / "ok.jpg", 1000, 1)
    unreadable = write_file(root / "unreadable.jpg", 1000, 2)
    from_locked = write_file(root / "locked-src" / "from-locked.jpg", 1000, 3)
    into_locked = write_file(root / "into-locked.jpg", 1000, 4)
    (shm / "Locked").mkdir()
    before = snapshot(root, shm)
    unreadable.chmod(0o000)
    for folder in (root / "locked-src", shm / "Locked"):
        folder.chmod(0o555)
    try:
        groups = [("Open", [ok, unreadable, from_locked]), ("Locked", [into_locked])]
        report = _run_unprivileged(tmp_path, groups, shm)
    finally:
        unreadable.chmod(0o644)
        for folder in (root / "locked-src", shm / "Locked"):
            folder.chmod(0o755)
    assert report["apply"]["moved"] == 1
    reasons = _reasons(report)
    assert set(reasons) == {"unreadable.jpg", "from-locked.jpg", "into-locked.jpg"}
    assert all(r.startswith("permission denied: ") for r in reasons.values()), reasons
    assert report["undo"]["restored"] == 1
    assert snapshot(root, shm) == before
