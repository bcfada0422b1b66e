"""Operations on files: plans to preview, moves to apply, and their Undo and Redo.

Nothing moves without a plan. Groups and selections become a plan in a job (make_plan stats every
source); the window shows it (`proposed`) and applying it is the user's go-ahead. Single-file
hand-off — rename, move to the trash — is a one-move plan applied at once: journaled like any
other, so Undo puts it back. After any operation the folder is indexed again (a stat walk) and
every view follows its files (identity.py): names, members and edits stay.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..core import grouping as grouping_
from ..core.kinds import AnalysisKind, MoveMode
from ..core.library import Library
from ..core.mover import ApplyResult, PlanSummary, UndoResult
from ..core.plan import Move, MovePlan, make_plan, new_plan_id
from .events import Changes, Event
from .history import FileStep, GroupsBefore
from .jobs import Job
from .wording import MOVES, PLANNING, RECOVERING, REDOING, UNDOING, plural

if TYPE_CHECKING:
    from .session import Session

UNDOABLE = ("applied", "partly undone")
APPLY_SLOT = "apply"  # file operations' slots: apply:1, apply:2 …


@dataclass(frozen=True)
class Proposal:
    """A plan for the user to review, and for trash plans what stays of each group."""

    plan: MovePlan
    kept: dict[str, str] = field(default_factory=dict)  # trashed source → the copy kept in its group


class FileOps:
    def __init__(self, session: Session) -> None:
        self.s = session
        self.proposed: Event[Proposal] = Event()
        self.recovering = True
        self.pending_open: Path | None = None
        self.last_apply: ApplyResult | None = None
        self.last_undo: UndoResult | None = None
        self._jobs = 0  # file operations never replace one another: each has a slot of its own
        self._in_flight = 0
        self._stepping: set[int] = set()  # ids of the undo steps being undone or redone now

    # start-up ------------------------------------------------------------------------------------

    def recover(self) -> None:
        """Before anything reads a folder: finish or roll back what a crash interrupted."""

        def recover(lib: Library, p: object, c: object) -> tuple[list[UndoResult], PlanSummary | None]:
            results = lib.recover()
            return results, next((plan for plan in lib.plans() if plan.state in UNDOABLE), None)

        self.s.run(Job("recover", recover, self._recovered, label=RECOVERING))

    def _recovered(self, found: tuple[list[UndoResult], PlanSummary | None]) -> None:
        results, undoable = found
        self.recovering = False
        if results:
            done = ", ".join(f"plan {r.plan_id} ({r.action})" for r in results)
            self.s.message.emit(f"Put right after an interruption: {done}")
        if undoable is not None and self.s.groups.history.next_undo is None:
            text = f"{MOVES[MoveMode(undoable.mode)].undo} of {plural(undoable.done, 'File')}"
            self.s.groups.history.push(FileStep(text, undoable.id, None))
            self.s.emit(Changes(history=True))
        if self.pending_open is not None:
            folder, self.pending_open = self.pending_open, None
            self.s.open_folder(folder)

    # plans ------------------------------------------------------------------------------------------

    def propose(self, kind: AnalysisKind, mode: MoveMode, destination: Path | None) -> None:
        """A plan of `kind`'s ticked groups: into folders named after them, or (duplicates) every
        copy but the kept one — and but reference folders' files — to the trash."""
        root = self.s.root
        if root is None:
            return
        grouping = self.s.groups.grouping(kind)
        groups = grouping_.to_plan_groups(grouping, root, self.s.references)
        kept = {
            str(root / p): str(root / g.keep)
            for g in grouping.groups
            if g.ticked and g.keep is not None
            for p in g.paths
            if p != g.keep
        }
        self._plan(groups, mode, destination, kept)

    def propose_selection(
        self, relpaths: Sequence[str], name: str, mode: MoveMode, destination: Path | None
    ) -> None:
        """A lasso or Browse selection as one group: into `destination`/`name`, or to the trash."""
        root = self.s.root
        if root is not None and relpaths:
            self._plan([(name, [root / p for p in relpaths])], mode, destination, {})

    def _plan(
        self,
        groups: list[tuple[str, list[Path]]],
        mode: MoveMode,
        destination: Path | None,
        kept: dict[str, str],
    ) -> None:
        root = self.s.root
        if not groups or root is None:
            self.s.message.emit("Nothing to do: tick the groups to act on first.")
            return
        self.s.run(
            Job(
                "plan",
                lambda lib, p, c: make_plan(groups, destination, mode.plan_mode, folder=root),
                lambda plan: self.proposed.emit(
                    Proposal(plan, {k: v for k, v in kept.items() if k in _sources(plan)})
                ),
                label=PLANNING,
            )
        )

    def apply(self, plan: MovePlan, *, redo_of: FileStep | None = None) -> None:
        """Carry out `plan` (a redo of `redo_of`). Each file operation runs in a slot of its own: a
        second trash while the first still ran once replaced it, and the first, silenced, never
        became an undo step (its files were in the trash with no Undo in the window)."""
        label = MOVES[MoveMode(plan.mode)].running
        before = self.s.groups.snapshot(self.s.hash_of(), _relpaths(plan, self.s.root))
        self.s.run(
            Job(
                self._slot(),
                lambda lib, p, c: lib.apply(plan, progress=p, cancelled=c),
                lambda result: self._applied(plan, result, redo_of, before),
                label=label,
                cancellable=True,
                failed=lambda message: self._stepped(redo_of, (label, message)),
                stopped=lambda: self._stepped(redo_of),
            )
        )

    def _slot(self) -> str:
        self._jobs += 1
        self._in_flight += 1
        return f"{APPLY_SLOT}:{self._jobs}"

    @property
    def busy(self) -> bool:
        """A move, copy, trash, undo or redo is running."""
        return self._in_flight > 0

    def _start_stepping(self, step: FileStep) -> bool:
        """Mark `step` as being undone or redone; False if it already is (Ctrl+Z pressed twice):
        the second press is dropped, as it is for labels, rather than undoing one plan twice."""
        if id(step) in self._stepping:
            return False
        self._stepping.add(id(step))
        return True

    def _stepped(self, step: FileStep | None, failure: tuple[str, str] | None = None) -> None:
        """Every file operation ends here, once: done, failed or stopped."""
        self._in_flight -= 1
        if step is not None:
            self._stepping.discard(id(step))
        if failure is not None:
            self.s.failed.emit(failure)

    def _applied(
        self, plan: MovePlan, result: ApplyResult, redo_of: FileStep | None, before: GroupsBefore
    ) -> None:
        self.last_apply = result
        words = MOVES[MoveMode(result.mode)]
        done = {"move": result.moved, "copy": result.copied, "trash": result.trashed}[result.mode]
        message = f"{plural(done, 'file')} {words.done}"
        if result.cancelled:
            message += " (cancelled; Undo puts them back)"
        if result.skipped:
            message += f"; {len(result.skipped)} left alone: " + "; ".join(
                f"{src.name}: {reason}" for src, reason in result.skipped[:5]
            )
        step = FileStep(f"{words.undo} of {plural(done, 'File')}", plan.id, plan, before)
        history = self.s.groups.history
        self._stepped(redo_of)
        if redo_of is not None:
            history.redone(redo_of, step)
        elif done:
            history.push(step)
        self.s.message.emit(message + ("; Undo (Ctrl+Z) puts them back" if done else ""))
        self.s.emit(Changes(history=True))
        self.s.refresh()

    def undo(self, step: FileStep) -> None:
        if not self._start_stepping(step):
            return
        self.s.run(
            Job(
                self._slot(),
                lambda lib, p, c: lib.undo(step.plan_id, progress=p, cancelled=c),
                lambda result: self._undone(step, result),
                label=UNDOING,
                cancellable=True,
                failed=lambda message: self._undo_failed(step, message),
                stopped=lambda: self._stepped(step),
            )
        )

    def _undo_failed(self, step: FileStep, message: str) -> None:
        self._stepped(step)
        self.s.groups.history.drop_undo(step)
        self.s.emit(Changes(history=True))
        self.s.failed.emit((UNDOING, message))

    def _undone(self, step: FileStep, result: UndoResult) -> None:
        self._stepped(step)
        self.last_undo = result
        self.s.groups.history.undone(step)
        message = f"Undo finished: {plural(result.restored, 'file')} put back"
        if result.removed:
            message += f", {plural(result.removed, 'copy')} removed".replace("copys", "copies")
        if result.not_restored:
            message += f"; {len(result.not_restored)} not: " + "; ".join(
                f"{path.name}: {reason}" for path, reason in result.not_restored[:5]
            )
        self.s.message.emit(message)
        self.s.emit(Changes(history=True))
        self.s.groups.restore_on_next_follow(step.groups_before)
        self.s.refresh()

    def redo(self, step: FileStep) -> None:
        if step.plan is not None and self._start_stepping(step):
            self.s.message.emit(f"{REDOING}: {step.text}")
            self.apply(replace(step.plan, id=new_plan_id()), redo_of=step)

    # hand-off -------------------------------------------------------------------------------------

    def rename_file(self, path: str, new_name: str) -> None:
        """Rename one file in its folder, journaled so that Undo gives the old name back."""
        src = Path(path)
        name = new_name.strip()
        if name and not Path(name).suffix:
            name += src.suffix  # "sunset" means "sunset.jpg": the type of a file is not renamed
        unusable = not name or "/" in name or "\x00" in name or name.startswith(".")
        if unusable or name == src.name or self.s.root is None:
            self.s.failed.emit(("Rename", f"not a usable file name: {new_name!r}"))
            return
        if Path(name).suffix.lower() != src.suffix.lower():
            self.s.failed.emit(
                ("Rename", f"keep the extension {src.suffix}: a new one would not change the file's type")
            )
            return
        dst = src.with_name(name)
        if os.path.lexists(dst):
            self.s.failed.emit(("Rename", f"{name} already exists in {src.parent}"))
            return
        try:
            st = src.stat()
        except OSError as exc:
            self.s.failed.emit(("Rename", f"{src.name}: {exc.strerror or exc}"))
            return
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        move = Move(src, dst, st.st_size, st.st_mtime_ns)
        # As make_plan words it: the file's folder is the "group folder" under its parent.
        self.apply(
            MovePlan(
                new_plan_id(), "move", created, (move,), folder=self.s.root, destination=src.parent.parent
            )
        )

    def trash_files(self, paths: Sequence[str]) -> None:
        """Straight to the trash, no preview: it is one click from coming back (Undo)."""
        root = self.s.root
        if paths and root is not None:
            self._jobs += 1  # its own slot: a second Del at once must not replace (drop) the first
            self.s.run(
                Job(
                    f"plan:trash:{self._jobs}",
                    lambda lib, p, c: make_plan([("trash", list(paths))], None, "trash", folder=root),
                    self.apply,
                    label=PLANNING,
                )
            )


def _sources(plan: MovePlan) -> set[str]:
    return {str(m.src) for m in plan.moves}


def _relpaths(plan: MovePlan, root: Path | None) -> list[str]:
    """The plan's sources relative to the folder open (a plan found in the journal may be another's)."""
    if root is None:
        return []
    found = []
    for move in plan.moves:
        try:
            found.append(move.src.relative_to(root).as_posix())
        except ValueError:
            continue
    return found
