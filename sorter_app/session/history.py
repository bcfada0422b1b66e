"""Undo and Redo over everything a user does: edits of groups, labels, corrections, ratings, and
operations on files.

An edit step keeps the grouping before and after (groups are lists of relative paths: a copy costs
little next to what it buys — every edit, merge included, undoes exactly). A file step keeps the
plan that was applied: Undo puts the files back through the journal, Redo applies the same moves
again under a new plan id (the mover re-checks every source and never overwrites).

After files move, paths in older edit steps are rewritten along with the views (`remap`), so an
edit made before a move still undoes after it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..core.grouping import Group, Grouping
from ..core.kinds import AnalysisKind
from ..core.plan import MovePlan

_serials = itertools.count(1)


@dataclass(frozen=True)
class EditStep:
    text: str  # "Rename “outdoor 6”": what the Edit menu says after "Undo "
    kind: AnalysisKind
    before: Grouping
    after: Grouping
    serial: int = field(default_factory=lambda: next(_serials), compare=False)  # one step, however rewritten


@dataclass(frozen=True)
class GroupsBefore:
    """What an Undo of a file operation gives back: in every view, the groups that held a file it
    moved, as they were (a trashed copy rejoins its group; a duplicate group left with one copy
    comes back), and the edit steps as they were. Only what the operation touched is kept: a
    copy of every view of a million images per step would cost tens of MB."""

    hash_before: dict[str, str]  # relpath → content hash, of the files the operation moved
    groups: dict[AnalysisKind, list[tuple[int, Group]]]  # (place in its view, a copy), by view
    edits: dict[int, EditStep]  # the edit steps then, by serial: following the files rewrote them


@dataclass(frozen=True)
class FileStep:
    text: str  # "Move of 12 Files"
    plan_id: str
    plan: MovePlan | None  # None for a plan found in the journal at start (it cannot be redone)
    groups_before: GroupsBefore | None = None  # None for a plan found in the journal at start


@dataclass(frozen=True)
class SetChange:
    """What a labelling step did to the set itself: an import of sub-folder names may create it or
    add labels to it. Undo gives the set back `before` (None: it did not exist, so it goes); Redo
    makes sure it has `after` again."""

    before: tuple[str, ...] | None
    after: tuple[str, ...]


@dataclass(frozen=True)
class LabelStep:
    """Labelling as an undo step: each image's label of the set before and after (None: none).
    A selection gets one label; an import of sub-folder names gives each image its folder's."""

    text: str  # "Label 3 Images “kitchen”", "Import Labels from Folders"
    set_name: str
    before: dict[str, str | None]  # content hash → its label of the set before, None for none
    after: dict[str, str | None]  # content hash → its label after the step, None for none
    set_change: SetChange | None = None


@dataclass(frozen=True)
class CorrectionStep:
    """A correction ("This is…") as an undo step: each image's corrections before and after, all
    heads (a room implies its scene), by content hash; {} for none."""

    text: str  # "Correct 2 Images “kitchen”"
    before: dict[str, dict[str, str]]
    after: dict[str, dict[str, str]]


@dataclass(frozen=True)
class RatingStep:
    """Ratings as an undo step: each image's rating before and after, by content hash (0: none)."""

    text: str  # "Rate 3 Images ★★★", "Reject 1 Image"
    before: dict[str, int]
    after: dict[str, int]


Step = EditStep | FileStep | LabelStep | CorrectionStep | RatingStep


class History:
    def __init__(self) -> None:
        self._undo: list[Step] = []
        self._redo: list[Step] = []

    def push(self, step: Step) -> None:
        """A new step; whatever could be redone is gone, as in every editor."""
        self._undo.append(step)
        self._redo.clear()

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()

    @property
    def next_undo(self) -> Step | None:
        return self._undo[-1] if self._undo else None

    @property
    def next_redo(self) -> Step | None:
        step = self._redo[-1] if self._redo else None
        return step if not isinstance(step, FileStep) or step.plan is not None else None

    def undone(self, step: Step) -> None:
        """`step` was undone: it moves to the redo list. Found by identity, not by place: an undo
        of files or labels runs as a job, and an edit made meanwhile is newer than it and stays."""
        _remove(self._undo, step)
        self._redo.append(step)

    def redone(self, step: Step, again: Step | None = None) -> Step:
        """`step` was done again (as `again`, e.g. under a new plan id): back on the undo list,
        even if an edit made while it ran has cleared the redo list."""
        _remove(self._redo, step)
        self._undo.append(again or step)
        return again or step

    def drop_undo(self, step: Step) -> None:
        """`step` can no longer be undone (its plan is gone from the journal)."""
        _remove(self._undo, step)

    def rename_set(self, name: str, new_name: str) -> None:
        """A label set was renamed: its labelling steps still undo, on the set's new name."""
        for steps in (self._undo, self._redo):
            for i, step in enumerate(steps):
                if isinstance(step, LabelStep) and step.set_name.casefold() == name.casefold():
                    steps[i] = replace(step, set_name=new_name)

    def forget_set(self, name: str) -> None:
        """A label set was deleted, its labels with it: its steps can no longer be undone, and
        one left on top failed on every Undo and blocked the steps under it."""
        gone = name.casefold()
        for steps in (self._undo, self._redo):
            steps[:] = [s for s in steps if not (isinstance(s, LabelStep) and s.set_name.casefold() == gone)]

    def remap(self, kind: AnalysisKind, move: Callable[[Grouping], Grouping]) -> None:
        """Rewrite `kind`'s edit steps after files moved, so they still undo onto the views."""
        self._rewrite_edits(lambda step: _moved(step, step, move) if step.kind is kind else None)

    def edit_steps(self) -> dict[int, EditStep]:
        return {s.serial: s for s in (*self._undo, *self._redo) if isinstance(s, EditStep)}

    def give_back(self, edits: dict[int, EditStep], move: Callable[[Grouping], Grouping]) -> None:
        """An undone file operation: the edit steps it rewrote (a trashed member left the groups
        they hold) are as they were before it, following the files to where they are now."""
        self._rewrite_edits(
            lambda step: _moved(step, edits[step.serial], move) if step.serial in edits else None
        )

    def _rewrite_edits(self, rewritten: Callable[[EditStep], EditStep | None]) -> None:
        """Each edit step, undone or redone, replaced by what `rewritten` makes of it (None: kept)."""
        for steps in (self._undo, self._redo):
            for i, step in enumerate(steps):
                if isinstance(step, EditStep) and (new := rewritten(step)) is not None:
                    steps[i] = new

    def forget(self, kind: AnalysisKind) -> None:
        """`kind` was computed anew: its old edit steps no longer describe its groups, nor do the
        groups a file step kept (an undo of it gave back the groups from before "Find again",
        keep choices made since undone in the view though stored)."""
        self._undo = [s for s in self._undo if not (isinstance(s, EditStep) and s.kind is kind)]
        self._redo = [s for s in self._redo if not (isinstance(s, EditStep) and s.kind is kind)]
        for step in (*self._undo, *self._redo):
            if isinstance(step, FileStep) and step.groups_before is not None:
                step.groups_before.groups.pop(kind, None)


def _moved(step: EditStep, source: EditStep, move: Callable[[Grouping], Grouping]) -> EditStep:
    """`step` holding `source`'s groups, before and after, as `move` follows their files."""
    return replace(step, before=move(source.before), after=move(source.after))


def _remove(steps: list[Step], step: Step) -> None:
    """The newest entry that is `step` itself (equal steps may be different ones)."""
    for i in range(len(steps) - 1, -1, -1):
        if steps[i] is step:
            del steps[i]
            return
