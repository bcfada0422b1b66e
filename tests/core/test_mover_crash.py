"""A crash after any single step of apply, undo or recovery, then recovery: the exact files come back.

Every file operation and every journal write passes a fault point; these tests crash at the 1st,
then the 2nd, ... until the operation completes without reaching the crash. The policy they check:
an interrupted apply is rolled back to the original tree, an interrupted undo is finished (also
the original tree). No file is lost or duplicated, no temp file is left.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sorter_app.core.journal import Journal
from sorter_app.core.mover import apply_plan, list_plans, recover, undo_plan
from sorter_app.core.plan import Mode, MovePlan, make_plan
from tests.core.move_support import (
    Crash,
    crash_at,
    no_crash,
    other_device_dir,
    photo_folder,
    snapshot,
    write_file,
)

Setup = Callable[[Path], tuple[MovePlan, list[Path]]]


@pytest.fixture
def shm(tmp_path: Path) -> Iterator[Path]:
    folder = other_device_dir(tmp_path)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _scenario(mode: Mode, dest: str) -> Callable[[Path, Path], tuple[MovePlan, list[Path]]]:
    """Builds the photo folder in `work`; the destination is inside it, beside it, or on /dev/shm."""

    def setup(work: Path, shm_dir: Path) -> tuple[MovePlan, list[Path]]:
        root = work / "photos"
        groups = photo_folder(root)
        if mode == "trash":
            return make_plan(groups, None, "trash", trash_root=work / "Trash"), [root, work / "Trash"]
        target = {"inside": root, "beside": work / "sorted", "other device": shm_dir}[dest]
        return make_plan(groups, target, mode), [root, target]

    return setup


SCENARIOS = [
    ("move", "inside"),
    ("move", "other device"),
    ("copy", "beside"),
    ("copy", "other device"),
    ("trash", "inside"),
]


def _fresh(request: pytest.FixtureRequest, tmp_path: Path, n: int, cross: bool) -> tuple[Path, Path]:
    work = tmp_path / f"run{n}"
    work.mkdir()
    shm_dir = work / "unused"
    if cross:
        shm_dir = request.getfixturevalue("shm") / f"run{n}"
        shm_dir.mkdir()
    return work, shm_dir


@pytest.mark.parametrize(("mode", "dest"), SCENARIOS)
def test_crash_after_any_step_of_apply_is_rolled_back(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: Mode, dest: str
) -> None:
    setup = _scenario(mode, dest)
    labels: set[str] = set()
    step = 0
    while True:
        step += 1
        work, shm_dir = _fresh(request, tmp_path, step, dest == "other device")
        plan, roots = setup(work, shm_dir)
        journal = work / "journal"
        before = snapshot(*roots)
        seen = crash_at(monkeypatch, step)
        try:
            apply_plan(plan, journal, chunk=2, trash_root=plan.destination)  # the test's own trash
        except Crash:
            labels.update(seen)
        else:
            break
        finally:
            no_crash(monkeypatch)
        if seen == ["plan"]:  # before the journal got its name: nothing was done, nothing to recover
            assert list_plans(journal) == [] and recover(journal) == [] and snapshot(*roots) == before
            continue
        if seen[-1] == "end":  # the crash came after the apply was complete: nothing to recover
            assert list_plans(journal)[0].state == "applied" and recover(journal) == []
            continue
        assert list_plans(journal)[0].state == "incomplete", seen
        (result,) = recover(journal)
        assert result.action == "rollback" and result.not_restored == [], (seen, result)
        assert snapshot(*roots) == before, seen
        assert list_plans(journal)[0].state == "rolled back"
        assert recover(journal) == []
    assert step > 10  # the loop really went through the steps
    expected = {"plan", "begin", "done", "mkdir", "folder made", "end"} | (
        {"copied", "synced", "dst synced"}
        if mode == "copy" or dest == "other device"
        else {"linked", "unlinked"}
    )
    assert expected <= labels, labels


@pytest.mark.parametrize(("mode", "dest"), SCENARIOS)
def test_crash_after_any_step_of_undo_is_finished(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: Mode, dest: str
) -> None:
    setup = _scenario(mode, dest)
    step = 0
    while True:
        step += 1
        work, shm_dir = _fresh(request, tmp_path, step, dest == "other device")
        plan, roots = setup(work, shm_dir)
        journal = work / "journal"
        before = snapshot(*roots)
        apply_plan(plan, journal, chunk=2, trash_root=plan.destination)  # the test's own trash
        seen = crash_at(monkeypatch, step)
        try:
            undo_plan(plan.id, journal, chunk=2)
        except Crash:
            pass
        else:
            break
        finally:
            no_crash(monkeypatch)
        if seen[-1] != "undo-end":
            assert list_plans(journal)[0].state == "incomplete", seen
            (result,) = recover(journal)
            assert result.action == "finish undo" and result.not_restored == [], (seen, result)
        assert snapshot(*roots) == before, seen
        assert list_plans(journal)[0].state == "undone"
    assert step > 5


def test_crash_inside_recovery_is_recovered_again(
    tmp_path: Path, shm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cross-device, the hardest case: the rollback copies the file back, and may itself crash."""
    apply_step = 0
    while True:
        apply_step += 1
        recover_step, finished = 0, False
        while not finished:
            recover_step += 1
            work = tmp_path / f"a{apply_step}-r{recover_step}"
            dest = shm / work.name
            dest.mkdir()
            src = write_file(work / "photos" / "one.jpg", 70_000, apply_step)
            plan = make_plan([("Group", [src])], dest)
            journal = work / "journal"
            before = snapshot(work / "photos", dest)
            applied = crash_at(monkeypatch, apply_step)
            try:
                apply_plan(plan, journal)
            except Crash:
                pass
            finally:
                no_crash(monkeypatch)
            if applied == ["plan"]:
                break
            if applied[-1] == "end":  # the apply completed: every earlier crash point was covered
                assert apply_step > 10
                return
            seen = crash_at(monkeypatch, recover_step)
            try:
                recover(journal)
                finished = True
            except Crash:
                pass
            finally:
                no_crash(monkeypatch)
            if not finished:
                recover(journal)
            assert snapshot(work / "photos", dest) == before, (apply_step, seen)
            assert list_plans(journal)[0].state == "rolled back"


def test_a_torn_journal_line_after_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), root)
    before = snapshot(root)
    crash_at(monkeypatch, 7)
    with pytest.raises(Crash):
        apply_plan(plan, journal)
    no_crash(monkeypatch)
    with Journal(journal).path(plan.id).open("ab") as fh:
        fh.write(b'{"op":"done","i":2,"si')
    (result,) = recover(journal)
    assert result.action == "rollback"
    assert snapshot(root) == before


@pytest.mark.parametrize("cross", [False, True])
def test_recovery_keeps_an_identical_copy_that_a_person_put_there(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cross: bool
) -> None:
    """A step was begun when the app died, before it did anything (or its journal lines were lost
    with the power); meanwhile someone saved a copy of the photo under the name the plan would have
    used. Recovery took the two files with the same bytes for the mover's own copy and deleted that
    person's file. Now only a copy the plan journaled as made goes; this one is kept and reported."""
    src = write_file(tmp_path / "photos" / "one.jpg", 70_000, 5)
    target = request.getfixturevalue("shm") if cross else tmp_path / "sorted"
    plan = make_plan([("Group", [src])], target)
    journal = tmp_path / "journal"

    def die_after_begin(label: str) -> None:
        if label == "begin":
            raise Crash(label)

    monkeypatch.setattr("sorter_app.core.journal.fault_point", die_after_begin)
    with pytest.raises(Crash):
        apply_plan(plan, journal)
    no_crash(monkeypatch)
    dst = plan.moves[0].dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)  # by hand: same bytes, another file
    before = snapshot(tmp_path / "photos", target)

    (result,) = recover(journal)

    assert snapshot(tmp_path / "photos", target) == before
    ((kept, reason),) = result.not_restored
    assert kept == dst and "neither is a copy this plan made" in reason
