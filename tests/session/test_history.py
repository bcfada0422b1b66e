"""The undo history finds a step by identity: undo and redo of files, labels and corrections run as
jobs, and the user may make an edit while one runs (a monkey test found both orders wrong)."""

from __future__ import annotations

from sorter_app.core.grouping import Group, Grouping
from sorter_app.core.kinds import AnalysisKind
from sorter_app.session.history import EditStep, FileStep, History
from sorter_app.session.identity import follow


def _edit(text: str) -> EditStep:
    empty = Grouping(AnalysisKind.CLUSTERS, [])
    return EditStep(text, AnalysisKind.CLUSTERS, empty, empty)


def test_an_edit_made_while_a_file_step_is_undone_stays_on_top() -> None:
    history = History()
    trash = FileStep("Trash of 30 Files", "plan-1", None)
    history.push(trash)
    rename = _edit("Rename “outdoor”")
    history.push(rename)  # made while the trash's undo job ran
    history.undone(trash)  # the job's result
    assert history.next_undo is rename
    history.undone(rename)
    assert history.next_redo is rename and history.next_undo is None


def test_a_redo_that_finishes_after_an_edit_cleared_the_redo_list_is_undoable_again() -> None:
    history = History()
    first = FileStep("Trash of 30 Files", "plan-1", None)
    history.push(first)
    history.undone(first)
    again = FileStep("Trash of 30 Files", "plan-2", None)
    history.push(_edit("Rename “outdoor”"))  # made while the redo ran: clears the redo list
    assert history.redone(first, again) is again  # it used to pop from an empty list
    assert history.next_undo is again


def test_equal_steps_are_still_told_apart() -> None:
    history = History()
    a, b = _edit("Rename “x”"), _edit("Rename “x”")
    assert a == b and a is not b
    history.push(a)
    history.push(b)
    history.undone(a)
    assert history.next_undo is b and history.next_redo is a


def test_a_member_follows_its_own_file_when_byte_copies_come_back_together() -> None:
    """Undoing a move puts `s1.jpg` and its byte copy `Backup/copy_of_s1.jpg` back at once. The
    member `cluster 1/s1.jpg` took the first by path, the copy; a redone trash of the copy then
    emptied the group of a redone rename (a property test's find: the cluster vanished)."""
    grouping = Grouping(AnalysisKind.CLUSTERS, [Group("c1", "cluster 1", ["cluster 1/s1.jpg"])])
    hash_before = {"cluster 1/s1.jpg": "h", "cluster 1/copy_of_s1.jpg": "h"}
    paths_now = {"h": ["Backup/copy_of_s1.jpg", "s1.jpg"]}
    (group,) = follow(grouping, hash_before, paths_now).groups
    assert group.paths == ["s1.jpg"]
