"""The user's edits of every view's groups, each one a step that Undo and Redo walk.

Every edit goes through `Grouping`'s own operations (core/grouping.py), which keep each image in
at most one group. An edit is recorded with the grouping before and after it, the views are told,
and what must outlive the session — names, keep choices, "not duplicates" — is written to
user.sqlite by content hash (choices.py), in order, off the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, TypeVar

from ..core.grouping import Group, Grouping
from ..core.kinds import GROUPING_KINDS, AnalysisKind
from .choices import write_changes
from .events import Changes, grouping_changed
from .history import CorrectionStep, EditStep, FileStep, GroupsBefore, History, LabelStep, RatingStep
from .identity import follow
from .serial_writes import SerialWrites

if TYPE_CHECKING:
    from .session import Session

T = TypeVar("T")


class GroupEditor:
    def __init__(self, session: Session) -> None:
        self.s = session
        self.history = History()
        self.groupings: dict[AnalysisKind, Grouping] = {k: Grouping(k, []) for k in GROUPING_KINDS}
        self._writes = SerialWrites(session, "choices")
        self._give_back: GroupsBefore | None = None  # what the next follow gives back (an undone file step)

    def reset(self) -> None:
        """Another folder: its groups are not ours; moves stay undoable (the journal is global)."""
        for kind in GROUPING_KINDS:
            self.groupings[kind] = Grouping(kind, [])
            self.history.forget(kind)

    def grouping(self, kind: AnalysisKind) -> Grouping:
        return self.groupings[kind]

    def set_computed(self, kind: AnalysisKind, grouping: Grouping) -> None:
        """A fresh result replaces the view; edits of the old groups can no longer be undone."""
        self.groupings[kind] = grouping
        self.history.forget(kind)
        self.s.emit(grouping_changed(kind) | Changes(history=True))

    def follow_files(self, hash_before: Mapping[str, str], paths_now: Mapping[str, Sequence[str]]) -> None:
        """Files moved: every view's groups follow their contents, and so do the undo steps. After
        an undone file operation the groups it changed are given back as it found them: members
        it trashed or moved out of the folder had left them, and are back."""
        restore, self._give_back = self._give_back, None
        # what each path held: now, and for the files the undone operation moved, before it
        known = {**hash_before, **restore.hash_before} if restore is not None else hash_before
        for kind in GROUPING_KINDS:
            self.groupings[kind] = follow(self.groupings[kind], hash_before, paths_now)
            self.history.remap(kind, lambda g: follow(g, hash_before, paths_now))
            if restore is not None and restore.groups.get(kind):
                self.groupings[kind] = _put_back(self.groupings[kind], restore.groups[kind], known, paths_now)
        if restore is not None:
            self.history.give_back(restore.edits, lambda g: follow(g, known, paths_now))
        self.s.emit(grouping_changed(*GROUPING_KINDS))

    def snapshot(self, hash_before: Mapping[str, str], moved: Sequence[str]) -> GroupsBefore:
        """What an undo of moving `moved` (relpaths) will give back."""
        touched = set(moved)
        groups = {
            kind: [(i, g.copy()) for i, g in enumerate(grouping.groups) if not touched.isdisjoint(g.paths)]
            for kind, grouping in self.groupings.items()
        }
        hashes = {p: hash_before[p] for p in touched if p in hash_before}
        return GroupsBefore(hashes, groups, self.history.edit_steps())

    def restore_on_next_follow(self, before: GroupsBefore | None) -> None:
        self._give_back = before

    # edits ---------------------------------------------------------------------------------------

    def _edit(self, kind: AnalysisKind, text: str, edit: Callable[[Grouping], T]) -> T:
        """Run one edit; a refused one (ValueError) changes nothing and reaches the caller."""
        grouping = self.groupings[kind]
        before = grouping.copy()
        result = edit(grouping)
        after = grouping.copy()
        self.history.push(EditStep(text, kind, before, after))
        self._store(before, after)
        self.s.emit(grouping_changed(kind) | Changes(history=True))
        return result

    def _name(self, kind: AnalysisKind, row: int) -> str:
        return f"“{self.groupings[kind].groups[row].name}”"

    def rename(self, kind: AnalysisKind, row: int, name: str) -> None:
        if name.strip() and name.strip() != self.groupings[kind].groups[row].name:
            self._edit(kind, f"Rename {self._name(kind, row)}", lambda g: g.rename(row, name))

    def merge(self, kind: AnalysisKind, rows: Sequence[int]) -> int:
        text = f"Merge of {len(rows)} groups into {self._name(kind, rows[0])}"
        return self._edit(kind, text, lambda g: g.merge(list(rows)))

    def split(self, kind: AnalysisKind, row: int, paths: Sequence[str]) -> int:
        return self._edit(kind, f"Split of {self._name(kind, row)}", lambda g: g.split(row, paths))

    def drop(self, kind: AnalysisKind, row: int, paths: Sequence[str]) -> None:
        def drop_all(grouping: Grouping) -> None:
            group = grouping.groups[row]
            for path in paths:  # dropping may remove the group: find it again each time
                rows = [i for i, g in enumerate(grouping.groups) if g is group]
                if rows and path in group.paths:
                    grouping.drop(rows[0], path)

        self._edit(kind, f"Removal of {len(paths)} images from {self._name(kind, row)}", drop_all)

    def set_keep(self, kind: AnalysisKind, row: int, path: str) -> None:
        name = PurePosixPath(path).name
        self._edit(kind, f"Keep {name}", lambda g: g.set_keep(row, path))

    def dismiss(self, kind: AnalysisKind, row: int) -> None:
        """ "Not duplicates": the group leaves the view, and stays away when found again."""
        self._edit(kind, f"“Not duplicates” for {self._name(kind, row)}", lambda g: g.dismiss(row))

    def tick(self, kind: AnalysisKind, rows: Sequence[int], ticked: bool) -> None:
        """Ticks say what to act on next; they are not edits worth an undo step."""
        for row in rows:
            self.groupings[kind].tick(row, ticked)
        self.s.emit(grouping_changed(kind))

    # undo / redo ---------------------------------------------------------------------------------

    def undo_text(self) -> str | None:
        step = self.history.next_undo
        return step.text if step else None

    def redo_text(self) -> str | None:
        step = self.history.next_redo
        return step.text if step else None

    def undo(self) -> None:
        step = self.history.next_undo
        if isinstance(step, FileStep):
            self.s.files.undo(step)
        elif isinstance(step, LabelStep):
            self.s.image_labels.undo(step)
        elif isinstance(step, CorrectionStep):
            self.s.corrections.undo(step)
        elif isinstance(step, RatingStep):
            self.s.ratings.undo(step)
        elif isinstance(step, EditStep):
            self._restore(step.kind, step.after, step.before)
            self.history.undone(step)
            self.s.message.emit(f"Undone: {step.text}")
            self.s.emit(grouping_changed(step.kind) | Changes(history=True))

    def redo(self) -> None:
        step = self.history.next_redo
        if isinstance(step, FileStep):
            self.s.files.redo(step)
        elif isinstance(step, LabelStep):
            self.s.image_labels.redo(step)
        elif isinstance(step, CorrectionStep):
            self.s.corrections.redo(step)
        elif isinstance(step, RatingStep):
            self.s.ratings.redo(step)
        elif isinstance(step, EditStep):
            self._restore(step.kind, step.before, step.after)
            self.history.redone(step)
            self.s.message.emit(f"Redone: {step.text}")
            self.s.emit(grouping_changed(step.kind) | Changes(history=True))

    def _restore(self, kind: AnalysisKind, now: Grouping, wanted: Grouping) -> None:
        ticks = {g.key: g.ticked for g in self.groupings[kind].groups}
        restored = wanted.copy()
        for group in restored.groups:  # ticks are not part of the history: keep the current ones
            group.ticked = ticks.get(group.key, group.ticked)
        self.groupings[kind] = restored
        self._store(now, wanted)

    def _store(self, before: Grouping, after: Grouping) -> None:
        hash_of = self.s.hash_of()
        self._writes.write(
            lambda lib, p, c: write_changes(lib.catalog, before, after, hash_of),
            lambda _: None,
            "Save the groups' names and choices",
        )


def _put_back(
    now: Grouping,
    saved: Sequence[tuple[int, Group]],
    hash_before: Mapping[str, str],
    paths_now: Mapping[str, Sequence[str]],
) -> Grouping:
    """`now` with each saved group, followed to where its files are, in place of the group of its
    key, or at its old place if that group is gone (a duplicate group left with one copy)."""
    back = follow(Grouping(now.kind, [g for _, g in saved]), hash_before, paths_now)
    by_key = {g.key: g for g in back.groups}
    groups = list(now.groups)
    for index, group in sorted(saved, key=lambda pair: pair[0]):
        restored = by_key.get(group.key)
        if restored is None:
            continue
        place = next((i for i, g in enumerate(groups) if g.key == group.key), None)
        if place is not None:
            groups[place] = restored
        else:
            groups.insert(min(index, len(groups)), restored)
    return Grouping(now.kind, groups, now.hidden)
