"""Applying and undoing plans on real files: nothing lost, nothing overwritten, every skip explained."""

from __future__ import annotations

import errno
import json
import os
import shutil
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sorter_app.core import journal as journal_module
from sorter_app.core.journal import Journal, JournalError
from sorter_app.core.mover import DEST_APPEARED, apply_plan, list_plans, recover, undo_plan
from sorter_app.core.plan import make_plan
from tests.core.move_support import mtimes, other_device_dir, photo_folder, snapshot, write_file


@pytest.fixture
def shm(tmp_path: Path) -> Iterator[Path]:
    folder = other_device_dir(tmp_path)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _state(journal: Path, plan_id: str) -> str:
    return next(s.state for s in list_plans(journal) if s.id == plan_id)


def test_move_then_undo_restores_the_tree(tmp_path: Path) -> None:
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), root)
    before, before_mtimes = snapshot(root), mtimes(root)
    moved: list[tuple[Path, Path]] = []
    result = apply_plan(plan, journal, on_moved=lambda s, d: moved.append((s, d)))
    assert (result.moved, result.copied, result.skipped, result.cancelled) == (3, 0, [], False)
    assert moved == [(m.src, m.dst) for m in plan.moves]
    assert sorted(d.name for _, d in result.renamed) == ["a (1).jpg", "b (1).jpg"]
    for move in plan.moves:
        assert not move.src.exists()
        assert os.stat(move.dst).st_mtime_ns == move.mtime_ns
    assert sorted(snapshot(root).values()) == sorted(before.values())
    assert _state(journal, plan.id) == "applied"

    restored: list[tuple[Path, Path]] = []
    undone = undo_plan(None, journal, on_moved=lambda s, d: restored.append((s, d)))
    assert (undone.plan_id, undone.action, undone.restored, undone.not_restored) == (plan.id, "undo", 3, [])
    assert sorted(restored) == sorted((m.dst, m.src) for m in plan.moves)
    assert snapshot(root) == before and mtimes(root) == before_mtimes
    assert not (root / "Beach").exists()  # created by the plan, empty again
    assert (root / "Night").is_dir()  # was there before
    assert _state(journal, plan.id) == "undone"
    with pytest.raises(JournalError, match="already undone"):
        undo_plan(plan.id, journal)
    with pytest.raises(JournalError, match="nothing to undo"):
        undo_plan(None, journal)


def test_copy_then_undo_deletes_only_the_copies(tmp_path: Path) -> None:
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), tmp_path / "sorted", "copy")
    before = snapshot(root)
    result = apply_plan(plan, journal)
    assert (result.copied, result.moved) == (3, 0)
    assert snapshot(root) == before
    for move in plan.moves:
        assert move.dst.read_bytes() == move.src.read_bytes()
        assert os.stat(move.dst).st_mtime_ns == move.mtime_ns
        assert not os.path.samefile(move.src, move.dst)
    removed: list[Path] = []
    undone = undo_plan(plan.id, journal, on_removed=removed.append)
    assert (undone.removed, undone.restored, undone.not_restored) == (3, 0, [])
    assert sorted(removed) == sorted(m.dst for m in plan.moves)
    assert snapshot(root) == before and not (tmp_path / "sorted").exists()


def test_undo_keeps_a_copy_that_was_edited(tmp_path: Path) -> None:
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), root, "copy")
    apply_plan(plan, journal)
    edited = plan.moves[0].dst
    edited.write_bytes(b"my edits")
    undone = undo_plan(plan.id, journal)
    assert undone.removed == 2
    assert undone.not_restored == [(edited, "the copy was changed since it was made: kept")]
    assert edited.read_bytes() == b"my edits"
    assert _state(journal, plan.id) == "partly undone"


def test_undo_never_overwrites_and_can_be_retried(tmp_path: Path) -> None:
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), root)
    before = snapshot(root)
    apply_plan(plan, journal)
    blocker = write_file(plan.moves[0].src, 7, 99)
    changed = plan.moves[1].dst
    os.utime(changed, ns=(1, 1))
    undone = undo_plan(plan.id, journal)
    assert undone.restored == 1
    assert dict(undone.not_restored) == {
        plan.moves[0].dst: f"its original place is taken by another file: {blocker}",
        changed: "changed since it was moved: kept where it is",
    }
    assert blocker.read_bytes() == write_file(tmp_path / "probe", 7, 99).read_bytes()
    assert plan.moves[0].dst.exists() and changed.exists()
    assert _state(journal, plan.id) == "partly undone"

    blocker.unlink()
    os.utime(changed, ns=(plan.moves[1].mtime_ns, plan.moves[1].mtime_ns))
    again = undo_plan(None, journal)  # a partly undone plan is still the latest undoable one
    assert (again.restored, again.not_restored) == (2, [])
    assert snapshot(root) == before
    assert _state(journal, plan.id) == "undone"


def test_sources_that_vanished_or_changed_are_skipped_untouched(tmp_path: Path) -> None:
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), root)
    a, c, b = (m.src for m in plan.moves)
    a.unlink()
    write_file(c, 4000, 1234)  # same size, other bytes and mtime
    os.utime(b, ns=(5, 5))  # same bytes, other mtime
    before = snapshot(root)
    result = apply_plan(plan, journal)
    assert result.moved == 0
    assert result.skipped == [
        (a, "no longer exists"),
        (c, "changed since the plan was made"),
        (b, "changed since the plan was made"),
    ]
    assert snapshot(root) == before
    assert not (root / "Beach").exists() or not any((root / "Beach").iterdir())


def test_a_destination_that_appeared_is_skipped_not_overwritten(tmp_path: Path) -> None:
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), root)
    squatter = write_file(plan.moves[1].dst, 11, 77)
    expected = squatter.read_bytes()
    result = apply_plan(plan, journal)
    assert result.moved == 2
    assert result.skipped == [(plan.moves[1].src, DEST_APPEARED)]
    assert squatter.read_bytes() == expected and plan.moves[1].src.exists()


def test_cancel_keeps_what_was_done_and_undo_restores_it(tmp_path: Path) -> None:
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), root)
    before = snapshot(root)
    progress: list[tuple[int, int]] = []
    result = apply_plan(
        plan, journal, progress=lambda d, t: progress.append((d, t)), cancelled=lambda: len(progress) > 1
    )
    assert (result.moved, result.cancelled) == (1, True)
    assert progress == [(0, 3), (1, 3)]
    summary = list_plans(journal)[0]
    assert (summary.state, summary.done, summary.cancelled) == ("applied", 1, True)
    assert recover(journal) == []  # cancelled is not interrupted
    assert undo_plan(plan.id, journal).restored == 1
    assert snapshot(root) == before


def test_a_plan_is_applied_once(tmp_path: Path) -> None:
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), root)
    apply_plan(plan, journal)
    with pytest.raises(JournalError, match="applied before"):
        apply_plan(plan, journal)


def test_a_failing_callback_stops_cleanly_without_a_rollback(tmp_path: Path) -> None:
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), root)

    def catalog_update(src: Path, dst: Path) -> None:
        raise RuntimeError("catalog is locked")

    with pytest.raises(RuntimeError):
        apply_plan(plan, journal, on_moved=catalog_update)
    summary = list_plans(journal)[0]
    assert (summary.state, summary.done, summary.error) == ("applied", 1, "catalog is locked")
    assert recover(journal) == []
    assert plan.moves[0].dst.exists()


def test_full_disk_during_a_copy_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), tmp_path / "sorted", "copy")
    before = snapshot(root, tmp_path / "sorted")
    real_write = os.write
    calls: list[int] = []

    def nearly_full(fd: int, data: bytes) -> int:
        calls.append(fd)
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))  # half a file lands, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(os, "write", nearly_full)
        result = apply_plan(plan, journal)
    assert calls and result.copied == 0
    assert [reason for _, reason in result.skipped] == ["disk full"] * 3
    assert snapshot(root, tmp_path / "sorted") == before  # sources intact, no temp file left
    undo_plan(plan.id, journal)
    assert not (tmp_path / "sorted").exists()


def test_full_disk_during_a_cross_device_move(
    tmp_path: Path, shm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), shm)
    before = snapshot(root, shm)

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(os, "write", full)
        result = apply_plan(plan, journal)
    assert result.moved == 0 and {r for _, r in result.skipped} == {"disk full"}
    assert snapshot(root, shm) == before


def test_real_cross_device_move_and_undo(tmp_path: Path, shm: Path) -> None:
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), shm)
    before, before_mtimes = snapshot(root), mtimes(root)
    result = apply_plan(plan, journal)
    assert result.moved == 3
    for move in plan.moves:
        assert not move.src.exists()
        assert os.stat(move.dst).st_mtime_ns == move.mtime_ns
        assert os.stat(move.dst).st_dev != os.stat(root).st_dev
    done = [r for r in map(str, snapshot(shm)) if r.startswith("0:")]
    assert sorted(done) == ["0:Beach/a (1).jpg", "0:Beach/a.jpg", "0:Night/b.jpg"]
    assert sorted(snapshot(shm).values()) == sorted(v for k, v in before.items() if "B.JPG" not in k)
    undone = undo_plan(plan.id, journal)
    assert (undone.restored, undone.not_restored) == (3, [])
    assert snapshot(root) == before and mtimes(root) == before_mtimes
    assert list(shm.iterdir()) == []


def test_cross_device_copy_and_undo(tmp_path: Path, shm: Path) -> None:
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), shm, "copy")
    before = snapshot(root)
    assert apply_plan(plan, journal).copied == 3
    assert all(m.dst.read_bytes() == m.src.read_bytes() for m in plan.moves)
    assert undo_plan(plan.id, journal).removed == 3
    assert snapshot(root) == before and list(shm.iterdir()) == []


def test_trash_follows_the_freedesktop_layout_and_undoes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    root, journal = tmp_path / "photos", tmp_path / "journal"
    odd = write_file(root / "dup of ü #1.jpg", 50, 5)
    plan = make_plan([*photo_folder(root), ("dups", [odd])], None, "trash")
    before = snapshot(root)
    result = apply_plan(plan, journal)
    trash = tmp_path / "xdg" / "Trash"
    assert result.trashed == 4
    assert sorted(p.name for p in (trash / "files").iterdir()) == [
        "a (1).jpg",
        "a.jpg",
        "b.jpg",
        "dup of ü #1.jpg",
    ]
    info = (trash / "info" / "dup of ü #1.jpg.trashinfo").read_text().splitlines()
    assert info[0] == "[Trash Info]"
    assert info[1] == "Path=" + urllib.parse.quote(str(odd)) and "%C3%BC" in info[1]
    assert info[2].startswith("DeletionDate=") and len(info[2]) == len("DeletionDate=2026-11-22T12:15:00")
    assert oct((trash / "files").stat().st_mode & 0o777) == "0o700"
    undone = undo_plan(plan.id, journal)
    assert (undone.restored, undone.not_restored) == (4, [])
    assert snapshot(root) == before
    assert not (trash / "files").exists() and not (trash / "info").exists()


def test_undo_of_a_trash_a_file_was_taken_out_of_by_hand_leaves_no_record_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user moved one file back from the trash before Undo: its .trashinfo was left orphaned."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), None, "trash")
    before = snapshot(root)
    apply_plan(plan, journal)
    by_hand = plan.moves[0]
    os.rename(by_hand.dst, by_hand.src)
    undone = undo_plan(plan.id, journal)
    assert (undone.restored, undone.not_restored) == (3, [])
    assert snapshot(root) == before
    trash = tmp_path / "xdg" / "Trash"
    assert not (trash / "info").exists() or list((trash / "info").iterdir()) == []


def test_trash_keeps_other_trashed_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    trash = tmp_path / "xdg" / "Trash"
    theirs = write_file(trash / "files" / "a.jpg", 9, 9)
    (trash / "info").mkdir()
    (trash / "info" / "a.jpg.trashinfo").write_text(
        "[Trash Info]\nPath=/x/a.jpg\nDeletionDate=2020-01-01T00:00:00\n"
    )
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), None, "trash")
    before = snapshot(root, trash)
    apply_plan(plan, journal)
    undo_plan(plan.id, journal)
    assert snapshot(root, trash) == before and theirs.exists()


def test_journal_survives_a_torn_last_line_but_not_a_corrupt_middle(tmp_path: Path) -> None:
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), root)
    apply_plan(plan, journal)
    path = Journal(journal).path(plan.id)
    with path.open("ab") as fh:
        fh.write(b'{"op":"undo-beg')  # a write cut short by a crash
    assert list_plans(journal)[0].state == "applied"
    assert undo_plan(plan.id, journal).restored == 3
    assert list_plans(journal)[0].state == "undone"
    lines = path.read_bytes().split(b"\n")
    lines[2] = b"{not json"
    path.write_bytes(b"\n".join(lines))
    assert list_plans(journal)[0].state == "unreadable"
    with pytest.raises(JournalError, match="malformed at line 3"):
        Journal(journal).read(plan.id)
    lines[0] = b'{"op":"plan","plan":{"id":"x"}}'
    path.write_bytes(b"\n".join(lines[:1]) + b"\n")
    (results,) = recover(journal)
    assert results.action == "unreadable" and "malformed" in results.not_restored[0][1]


def test_recovery_leaves_a_plan_another_process_is_applying(tmp_path: Path) -> None:
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), root)
    with Journal(journal).create(plan) as writer:  # as if apply_plan were running elsewhere
        writer.append({"op": "begin", "steps": [0]})
        assert list_plans(journal)[0].state == "in progress"
        assert recover(journal) == []
        with pytest.raises(JournalError, match="another process"):
            undo_plan(plan.id, journal)
    assert list_plans(journal)[0].state == "incomplete"
    (result,) = recover(journal)
    assert result.action == "rollback" and list_plans(journal)[0].state == "rolled back"


def test_a_cancelled_undo_is_finished_by_the_next_one(tmp_path: Path) -> None:
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), root)
    before = snapshot(root)
    apply_plan(plan, journal)
    progress: list[int] = []
    first = undo_plan(
        plan.id, journal, progress=lambda d, t: progress.append(d), cancelled=lambda: progress[-1] > 0
    )
    assert (first.restored, first.cancelled) == (1, True)
    assert list_plans(journal)[0].state == "partly undone"
    assert recover(journal) == []
    assert undo_plan(plan.id, journal).restored == 2
    assert snapshot(root) == before and list_plans(journal)[0].state == "undone"


def test_recovery_removes_only_old_temp_journals(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    journal.mkdir()
    old, young = journal / ".20260101-000000-abcdef.jsonl.tmp", journal / ".20260101-000001-abcdef.jsonl.tmp"
    old.write_text('{"op":"pl')
    young.write_text('{"op":"pl')
    os.utime(old, (0, 0))
    assert recover(journal) == [] and list_plans(journal) == []
    assert not old.exists() and young.exists()


# Found by an adversarial review (stop 28): each broke "nothing lost, nothing outside the folder".


def test_undo_of_a_copy_keeps_copies_whose_originals_are_gone(tmp_path: Path) -> None:
    """Back up, delete the originals, then Undo: the copies are the only ones left."""
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), tmp_path / "backup", "copy")
    apply_plan(plan, journal)
    copies = snapshot(tmp_path / "backup")
    for move in plan.moves:
        move.src.unlink()
    undone = undo_plan(plan.id, journal)
    assert undone.removed == 0 and len(undone.not_restored) == len(plan.moves)
    assert all("the copy is kept" in reason for _, reason in undone.not_restored)
    assert snapshot(tmp_path / "backup") == copies


def test_a_version_saved_over_the_source_during_a_cross_device_copy_is_kept(
    tmp_path: Path, shm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Editors save by renaming a new file over the old one: the move must not delete the new one."""
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), shm)
    first = plan.moves[0].src

    def save_new_version(label: str) -> None:
        if label == "copied" and first.exists() and not (tmp_path / "saved").exists():
            (tmp_path / "saved").write_bytes(b"the edited version")
            os.replace(tmp_path / "saved", first)

    monkeypatch.setattr(journal_module, "fault_point", save_new_version)
    result = apply_plan(plan, journal)
    assert result.skipped == [(first, "replaced by another program while it was being copied")]
    assert first.read_bytes() == b"the edited version" and not plan.moves[0].dst.exists()
    assert result.moved == len(plan.moves) - 1


def test_a_destination_folder_swapped_for_a_link_during_the_move_leads_nothing_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, journal, elsewhere = tmp_path / "photos", tmp_path / "journal", tmp_path / "elsewhere"
    plan = make_plan(photo_folder(root), root)
    elsewhere.mkdir()
    group = plan.moves[0].dst.parent
    swapped: list[bool] = []

    def swap(label: str) -> None:
        if label in ("linked", "renamed", "unlinked") and not swapped:  # the first file is moved
            swapped.append(True)
            os.rename(group, tmp_path / "photos" / "moved aside")
            group.symlink_to(elsewhere, target_is_directory=True)

    monkeypatch.setattr(journal_module, "fault_point", swap)
    result = apply_plan(plan, journal)
    assert swapped and list(elsewhere.iterdir()) == []
    assert any("directly under the plan's destination" in reason for _, reason in result.skipped)


def test_undo_never_puts_a_file_back_through_a_link_leading_out(tmp_path: Path) -> None:
    root, journal, elsewhere = tmp_path / "photos", tmp_path / "journal", tmp_path / "elsewhere"
    (root / "sub").mkdir(parents=True)
    write_file(root / "sub" / "a.jpg", 100, 1)
    plan = make_plan([("Sorted", [root / "sub" / "a.jpg"])], root)
    apply_plan(plan, journal)
    (root / "sub").rmdir()
    elsewhere.mkdir()
    (root / "sub").symlink_to(elsewhere, target_is_directory=True)
    undone = undo_plan(plan.id, journal)
    assert undone.restored == 0 and "now leads outside" in undone.not_restored[0][1]
    assert list(elsewhere.iterdir()) == [] and plan.moves[0].dst.exists()


@pytest.mark.parametrize(
    "damage",
    [
        lambda r: {**r, "i": 9},
        lambda r: {**r, "i": -1},
        lambda r: {**r, "i": True},
        lambda r: {k: v for k, v in r.items() if k != "size"},
        lambda r: {**r, "size": "12"},
        lambda r: {**r, "hash": 5},
    ],
)
def test_a_damaged_step_makes_the_journal_unreadable_not_a_crash(
    tmp_path: Path, damage: Callable[[dict[str, object]], dict[str, object]]
) -> None:
    """A flipped bit in a "done" line once made every command fail with IndexError or KeyError."""
    root, journal = tmp_path / "photos", tmp_path / "journal"
    plan = make_plan(photo_folder(root), root)
    apply_plan(plan, journal)
    path = Journal(journal).path(plan.id)
    lines = path.read_bytes().split(b"\n")
    n = next(k for k, line in enumerate(lines) if b'"op": "done"' in line or b'"op":"done"' in line)
    lines[n] = json.dumps(damage(json.loads(lines[n]))).encode()
    path.write_bytes(b"\n".join(lines))
    assert list_plans(journal)[0].state == "unreadable"
    assert all(result.action == "unreadable" for result in recover(journal))
    with pytest.raises(JournalError, match="malformed"):
        undo_plan(plan.id, journal)
