"""Carry out a plan, undo it, and recover after a crash, so that no file is ever lost or overwritten.

Policies (the promises the tests check):

- Before each file, the source is checked again (still a regular file, same size and mtime_ns as
  planned) and the destination must still be free. If a file appeared at the destination since the
  plan was made, the move is skipped with a reason, never renamed on the fly: the user approved
  this plan, so what happens is what the plan said, or nothing.
- Everything is journaled (journal.py) before it happens; `on_moved(src, dst)` is called after each
  completed step so the caller can update its catalog. A cancel stops between files: what was done
  stays done and journaled.
- Right before each file, its entry is checked again against the plan's bounds (plan_check.py),
  so a folder swapped for a symbolic link while the plan runs cannot lead files out of it.
- Undo puts every file back only if it is still unchanged where the plan put it, its original
  place is free, and that place's folder still lies inside the plan's folder; copies are deleted
  only if they still hold what was copied and their original is still there, unchanged (after
  "back up, then delete the originals" a copy may be the only one). Anything else is reported and
  left alone. Folders the plan created are removed if they end up empty.
- Recovery, run at the next start: an interrupted apply is rolled back (the user never saw it
  finish, so the folder returns to what they last saw); an interrupted undo is finished. Of two
  files with the same bytes at a step's two places, recovery removes one only if it is the other's
  own inode or a copy the plan journaled as made; a copy a person put there is kept and reported. A
  plan whose journal another process holds is left alone: it is not interrupted, it is running.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import journal as _journal
from .atomic import fsync_dir
from .hashing import file_hash
from .journal import History, Journal, JournalBusyError, JournalError, JournalWriter
from .plan import Mode, MovePlan
from .plan_check import Bounds, check_plan, entry_problem, resolved_inside
from .transfer import CopyMadeFn, Identity, Settled, SourceChanged, settle, transfer
from .trash import info_path, remove_info, write_info

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]
MovedFn = Callable[[Path, Path], None]
RemovedFn = Callable[[Path], None]

CHUNK = 128  # moves begun per journal fsync
DEST_APPEARED = "destination appeared since the plan was made"


@dataclass
class ApplyResult:
    plan_id: str
    mode: Mode
    moved: int = 0
    copied: int = 0
    trashed: int = 0
    renamed: list[tuple[Path, Path]] = field(default_factory=list)  # (src, dst) carried out
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (src, reason)
    cancelled: bool = False
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "mode": self.mode,
            "moved": self.moved,
            "copied": self.copied,
            "trashed": self.trashed,
            "renamed": [{"src": str(s), "dst": str(d)} for s, d in self.renamed],
            "skipped": [{"src": str(s), "reason": r} for s, r in self.skipped],
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class UndoResult:
    plan_id: str
    action: str  # "undo", "rollback" (recovery of an apply), "finish undo" (recovery of an undo)
    restored: int = 0  # files put back where they were
    removed: int = 0  # copies deleted
    not_restored: list[tuple[Path, str]] = field(default_factory=list)  # (path now, reason)
    cancelled: bool = False
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "action": self.action,
            "restored": self.restored,
            "removed": self.removed,
            "not_restored": [{"path": str(p), "reason": r} for p, r in self.not_restored],
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class PlanSummary:
    id: str
    mode: str
    created_at: str
    state: str  # applied, undone, partly undone, rolled back, incomplete, in progress, unreadable
    moves: int  # planned
    done: int
    skipped: int
    undone: int
    cancelled: bool
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _as_journal(journal: Journal | Path) -> Journal:
    return journal if isinstance(journal, Journal) else Journal(journal)


def _tmp_name(plan_id: str, i: int, *, undo: bool = False) -> str:
    """Hidden (the scanner skips it), unique per plan and step, and known to recovery without a record."""
    return f".sorter-{plan_id}-{i}{'-undo' if undo else ''}.tmp"


def os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        text = "disk full"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        text = "permission denied"
    elif exc.errno == errno.EROFS:
        text = "read-only file system"
    else:
        text = exc.strerror or str(exc)
    return f"{text}: {exc.filename}" if exc.filename else text


def _source_problem(src: Path, size: int, mtime_ns: int) -> str | None:
    try:
        st = os.lstat(src)
    except FileNotFoundError:
        return "no longer exists"
    except OSError as exc:
        return os_reason(exc)
    if not stat.S_ISREG(st.st_mode):
        return "no longer a regular file"
    if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
        return "changed since the plan was made"
    return None


def _stat_of(record: dict[str, Any]) -> tuple[int, int]:
    """(size, mtime_ns) of a destination as a "done" record has it."""
    return int(record["size"]), int(record["mtime_ns"])


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _journal_copies(writer: JournalWriter, i: int) -> CopyMadeFn:
    """Journal each copy step `i` makes before it takes its name (see `settle`)."""

    def made(copy: Identity) -> None:
        writer.append({"op": "made", "i": i, "dev": copy[0], "ino": copy[1]}, sync=False)

    return made


def _fsync_dirs(dirs: set[Path]) -> None:
    """Make this chunk's renames durable: one fsync per folder touched, not per file."""
    for directory in dirs:
        fsync_dir(directory)
    dirs.clear()


class _Applier:
    def __init__(self, plan: MovePlan, bounds: Bounds, writer: JournalWriter, result: ApplyResult) -> None:
        self.plan = plan
        self.bounds = bounds
        self.writer = writer
        self.result = result
        self.ready: set[Path] = set()
        self.touched: set[Path] = set()
        self.renamed = {r.src: r.dst for r in plan.renamed}

    def folder_problem(self, folder: Path, mode: int) -> str | None:
        """Create `folder` and missing parents, journaling each before it is made."""
        if folder in self.ready:
            return None
        missing: list[Path] = []
        probe = folder
        while not os.path.isdir(probe) and probe != probe.parent:
            if os.path.lexists(probe):
                return f"cannot create folder {probe}: a file with that name is in the way"
            missing.append(probe)
            probe = probe.parent
        for directory in reversed(missing):
            self.writer.append({"op": "mkdir", "path": str(directory)})
            try:
                os.mkdir(directory, mode)
            except FileExistsError:
                pass
            except OSError as exc:
                return f"cannot create folder: {os_reason(exc)}"
            _journal.fault_point("folder made")
        self.ready.add(folder)
        return None

    def step(self, i: int) -> Path | None:
        """Carry out move `i`; journal it as done or skipped. Returns the destination if done."""
        move, mode = self.plan.moves[i], self.plan.mode
        info_written = False
        reason = _source_problem(move.src, move.size, move.mtime_ns)
        if reason is None and os.path.lexists(move.dst):
            reason = DEST_APPEARED
        if reason is None:
            reason = self.folder_problem(move.dst.parent, 0o700 if mode == "trash" else 0o777)
        if reason is None:
            # Again, now: a folder of the plan swapped for a symbolic link while it is being
            # applied would otherwise lead files out (the window left is this call to the move).
            reason = entry_problem(self.bounds, move)
        if reason is None and mode == "trash":
            reason = self.folder_problem(info_path(move.dst).parent, 0o700)
            try:
                if reason is None:
                    write_info(move.dst, move.src)
                    _journal.fault_point("trashinfo")
            except FileExistsError:
                reason = DEST_APPEARED
            except OSError as exc:
                reason = os_reason(exc)
            info_written = reason is None
        if reason is None:
            tmp = move.dst.parent / _tmp_name(self.plan.id, i)
            try:
                done = transfer(
                    move.src,
                    move.dst,
                    tmp,
                    keep_source=mode == "copy",
                    expect=(move.size, move.mtime_ns),
                    on_copy=_journal_copies(self.writer, i),
                )
            except SourceChanged as exc:
                reason = exc.reason
            except FileExistsError:
                reason = DEST_APPEARED
            except OSError as exc:
                reason = "no longer exists" if not os.path.lexists(move.src) else os_reason(exc)
            if reason is not None and mode == "trash" and info_written:
                remove_info(move.dst, move.src)
        if reason is not None:
            self.writer.append({"op": "skip", "i": i, "reason": reason}, sync=False)
            self.result.skipped.append((move.src, reason))
            return None
        record = {"op": "done", "i": i, "size": done.size, "mtime_ns": done.mtime_ns, "hash": done.hash}
        self.writer.append(record, sync=False)
        if mode == "move":
            self.result.moved += 1
        elif mode == "copy":
            self.result.copied += 1
        else:
            self.result.trashed += 1
        if move.src in self.renamed:
            self.result.renamed.append((move.src, move.dst))
        self.touched.update((move.src.parent, move.dst.parent))
        return move.dst


def apply_plan(
    plan: MovePlan,
    journal: Journal | Path,
    *,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    on_moved: MovedFn | None = None,
    chunk: int = CHUNK,
    trash_root: Path | None = None,
) -> ApplyResult:
    """Carry out `plan`, journaled in `journal`. A plan can be applied once (its journal exists after).

    The plan is checked first (plan_check.py; `trash_root` is the trash a trash plan must go to,
    default the system's): one entry reaching outside its folder or destination refuses it whole.
    """
    started = time.perf_counter()
    bounds = check_plan(plan, trash_root)
    journal = _as_journal(journal)
    is_cancelled = cancelled or (lambda: False)
    result = ApplyResult(plan.id, plan.mode)
    total = len(plan.moves)
    with journal.create(plan) as writer:
        writer.append({"op": "folder", "real": str(bounds.folder)})
        applier = _Applier(plan, bounds, writer, result)
        acting = False
        try:
            if progress:
                progress(0, total)
            for steps in _chunks(list(range(total)), chunk):
                if is_cancelled():
                    result.cancelled = True
                    break
                writer.append({"op": "begin", "steps": steps})
                for n, i in enumerate(steps):
                    if n and is_cancelled():
                        result.cancelled = True
                        break
                    acting = True
                    dst = applier.step(i)
                    acting = False
                    if dst is not None and on_moved:
                        on_moved(plan.moves[i].src, dst)
                    if progress:
                        progress(i + 1, total)
                _fsync_dirs(applier.touched)
                if result.cancelled:
                    break
        except Exception as exc:
            if not acting:  # a callback failed between steps: each step so far is complete
                _fsync_dirs(applier.touched)
                writer.append({"op": "end", "cancelled": result.cancelled, "error": str(exc)})
            raise  # if it failed mid-step, the plan stays incomplete and recovery rolls it back
        writer.append({"op": "end", "cancelled": result.cancelled, "error": None})
    result.seconds = time.perf_counter() - started
    return result


class _Undoer:
    """Puts a plan's files back; the same code undoes, rolls back and finishes an interrupted undo."""

    def __init__(
        self,
        history: History,
        writer: JournalWriter,
        action: str,
        on_moved: MovedFn | None,
        on_removed: RemovedFn | None,
    ) -> None:
        self.h = history
        self.plan = history.plan
        self.writer = writer
        self.result = UndoResult(self.plan.id, action)
        self.on_moved = on_moved
        self.on_removed = on_removed
        self.touched: set[Path] = set()

    def run(self, progress: ProgressFn | None, cancelled: CancelledFn | None, chunk: int) -> UndoResult:
        started = time.perf_counter()
        h = self.h
        interrupted = h.pending | h.undo_pending  # state unknown: read back from the disk
        targets = sorted((set(h.done) | interrupted) - h.undo_done, reverse=True)
        self.writer.append({"op": "undo-begin", "action": self.result.action})
        if progress:
            progress(0, len(targets))
        finished = 0
        for steps in _chunks(targets, chunk):
            if cancelled and cancelled():
                self.result.cancelled = True
                break
            self.writer.append({"op": "undo-step", "steps": steps})
            for n, i in enumerate(steps):
                if n and cancelled and cancelled():
                    self.result.cancelled = True
                    break
                reason = self.settle(i) if i in interrupted else self.undo(i)
                if reason is None:
                    self.writer.append({"op": "undo-done", "i": i}, sync=False)
                else:
                    self.writer.append({"op": "undo-skip", "i": i, "reason": reason}, sync=False)
                    self.result.not_restored.append((self.plan.moves[i].dst, reason))
                finished += 1
                if progress:
                    progress(finished, len(targets))
            _fsync_dirs(self.touched)
            if self.result.cancelled:
                break
        for directory in reversed(h.mkdirs):
            try:
                os.rmdir(directory)  # only if empty: anything else is no longer ours to remove
            except OSError:
                continue
            _journal.fault_point("rmdir")
        self.writer.append({"op": "undo-end", "cancelled": self.result.cancelled})
        self.result.seconds = time.perf_counter() - started
        return self.result

    def _restored(self, i: int) -> None:
        move = self.plan.moves[i]
        self.result.restored += 1
        self.touched.update((move.src.parent, move.dst.parent))
        if self.on_moved and i in self.h.done:
            self.on_moved(move.dst, move.src)

    def _removed(self, i: int) -> None:
        move = self.plan.moves[i]
        self.result.removed += 1
        self.touched.add(move.dst.parent)
        if self.on_removed and i in self.h.done:
            self.on_removed(move.dst)

    def undo(self, i: int) -> str | None:
        """Undo finished move `i` after checking it is still as the plan left it. None if done."""
        move, record = self.plan.moves[i], self.h.done[i]
        try:
            st: os.stat_result | None = os.lstat(move.dst)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            return os_reason(exc)
        if self.plan.mode == "copy":
            if st is None:
                return None  # the copy is already gone: nothing to remove
            if _source_problem(move.src, move.size, move.mtime_ns) is not None:
                # "Back up, then clean up": deleting the copy now could delete the only one left.
                return f"its original {move.src} is gone or changed since: the copy is kept"
            try:
                unchanged = (st.st_size, st.st_mtime_ns) == _stat_of(record) and (
                    record.get("hash") is None or file_hash(move.dst) == record["hash"]
                )
                if not unchanged:
                    return "the copy was changed since it was made: kept"
                os.unlink(move.dst)
            except OSError as exc:
                return os_reason(exc)
            self._removed(i)
            return None
        if st is None:
            if _source_problem(move.src, move.size, move.mtime_ns) is None:
                if self.plan.mode == "trash":  # taken out of the trash by hand: its record goes too
                    remove_info(move.dst, move.src)
                self._restored(i)  # already back where it was (moved back by hand, or never left)
                return None
            return f"no longer at {move.dst}"
        if not stat.S_ISREG(st.st_mode) or (st.st_size, st.st_mtime_ns) != _stat_of(record):
            return "changed since it was moved: kept where it is"
        if os.path.lexists(move.src):
            return f"its original place is taken by another file: {move.src}"
        if (outside := self.outside_folder(move.src)) is not None:
            return outside
        tmp = move.src.parent / _tmp_name(self.plan.id, i, undo=True)
        try:
            move.src.parent.mkdir(parents=True, exist_ok=True)
            transfer(
                move.dst,
                move.src,
                tmp,
                keep_source=False,
                expect=_stat_of(record),
                on_copy=_journal_copies(self.writer, i),
            )
        except SourceChanged:
            return "changed since it was moved: kept where it is"
        except FileExistsError:
            return f"its original place is taken by another file: {move.src}"
        except OSError as exc:
            return os_reason(exc)
        if self.plan.mode == "trash":
            remove_info(move.dst, move.src)
        self._restored(i)
        return None

    def outside_folder(self, home: Path) -> str | None:
        """Why a file may not be put back at `home`: its folder now leads out of the plan's folder
        (replaced by a symbolic link since the move), or None. Undo writes only where apply read."""
        folder = self.h.real_folder  # as resolved then: the folder itself may be a link now
        if folder is None:  # a journal of an older version
            if self.plan.folder is None:
                return None
            folder = Path(os.path.realpath(self.plan.folder))
        if resolved_inside(home, folder):
            return None
        return f"its original folder {home.parent} now leads outside {folder}: kept where it is"

    def settle(self, i: int) -> str | None:
        """Put back move `i`, whose last journaled operation was interrupted, from the disk's state."""
        move = self.plan.moves[i]
        if (outside := self.outside_folder(move.src)) is not None:
            return outside
        leftovers = [
            move.dst.parent / _tmp_name(self.plan.id, i),
            move.src.parent / _tmp_name(self.plan.id, i, undo=True),
        ]
        try:
            outcome: Settled = settle(
                move.src,
                move.dst,
                leftovers,
                leftovers[1],
                made=self.h.made.get(i, ()),
                on_copy=_journal_copies(self.writer, i),
            )
        except SourceChanged as exc:
            return exc.reason
        except OSError as exc:
            return os_reason(exc)
        if self.plan.mode == "trash" and not os.path.lexists(move.dst):
            remove_info(move.dst, move.src)
        copy = self.plan.mode == "copy"
        if outcome == "conflict":
            if copy:
                return "the copy was changed since it was made: kept"
            return f"its original place is taken by another file: {move.src}"
        if outcome == "twins":
            return (
                f"{move.src} and {move.dst} hold the same bytes, and neither is a copy this plan made: "
                "both are kept"
            )
        if outcome == "lost":
            if copy or i not in self.h.done:
                return None  # a copy never made, or gone; the source is not ours to miss
            return f"neither {move.src} nor {move.dst} exists"
        if outcome in ("restored", "removed") or (outcome == "in place" and i in self.h.done):
            if copy and outcome != "restored":
                self._removed(i)  # the copy is gone (now, or by the interrupted run)
            else:
                self._restored(i)
        return None


def _latest_undoable(journal: Journal) -> str:
    for plan_id in reversed(journal.plan_ids()):
        try:
            state = journal.read(plan_id).state
        except JournalError:
            continue
        if state in ("applied", "partly undone"):
            return plan_id
    raise JournalError("nothing to undo: no applied plan in the journal")


def undo_plan(
    plan_id: str | None,
    journal: Journal | Path,
    *,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    on_moved: MovedFn | None = None,
    on_removed: RemovedFn | None = None,
    chunk: int = CHUNK,
) -> UndoResult:
    """Undo plan `plan_id` (None: the latest applied one). A partly undone plan can be undone again
    once what blocked it is cleared; an interrupted one is recovered (see `recover`)."""
    journal = _as_journal(journal)
    plan_id = plan_id or _latest_undoable(journal)
    with journal.open(plan_id) as writer:
        history = journal.read(plan_id)
        state = history.state
        if state in ("undone", "rolled back"):
            raise JournalError(f"plan {plan_id} is already {state}")
        action = "undo" if state != "incomplete" else _recovery_action(history)
        undoer = _Undoer(history, writer, action, on_moved, on_removed)
        return undoer.run(progress, cancelled, chunk)


def _recovery_action(history: History) -> str:
    return "finish undo" if history.ended else "rollback"


def recover(
    journal: Journal | Path,
    *,
    on_moved: MovedFn | None = None,
    on_removed: RemovedFn | None = None,
) -> list[UndoResult]:
    """Roll back every interrupted apply and finish every interrupted undo; call at start-up.

    A journal that cannot be read is reported (action "unreadable") rather than raised, so a
    damaged file never keeps the app from starting.
    """
    journal = _as_journal(journal)
    results: list[UndoResult] = []
    journal.remove_stale_temp_files()
    for plan_id in journal.plan_ids():
        try:
            if journal.read(plan_id).state != "incomplete":
                continue
            with journal.open(plan_id) as writer:
                history = journal.read(plan_id)  # again, now that no one else can write it
                if history.state != "incomplete":
                    continue
                undoer = _Undoer(history, writer, _recovery_action(history), on_moved, on_removed)
                results.append(undoer.run(None, None, CHUNK))
        except JournalBusyError:
            continue
        except JournalError as exc:
            problem = (journal.path(plan_id), str(exc))
            results.append(UndoResult(plan_id, "unreadable", not_restored=[problem]))
    return results


def list_plans(journal: Journal | Path) -> list[PlanSummary]:
    """Every plan in the journal, newest first, for `sorter journal`."""
    journal = _as_journal(journal)
    summaries: list[PlanSummary] = []
    for plan_id in reversed(journal.plan_ids()):
        try:
            h = journal.read(plan_id)
        except JournalError as exc:
            summaries.append(PlanSummary(plan_id, "", "", "unreadable", 0, 0, 0, 0, False, str(exc)))
            continue
        state = "in progress" if h.state == "incomplete" and journal.is_busy(plan_id) else h.state
        plan = h.plan
        summaries.append(
            PlanSummary(
                plan.id,
                plan.mode,
                plan.created_at,
                state,
                len(plan.moves),
                len(h.done),
                len(h.skipped),
                len(h.undo_done & set(h.done)),
                h.cancelled,
                h.error,
            )
        )
    return summaries
