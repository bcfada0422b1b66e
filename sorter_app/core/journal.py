"""The move journal: an append-only record, one JSON line per event, that makes undo and recovery exact.

One file per plan, `<journal dir>/<plan id>.jsonl`. The first line holds the whole plan, so the
journal alone is enough to undo or recover. Then, in order:

    {"op": "folder", "real": ...}              the plan's folder as resolved when it was applied:
                                               undo puts files back only inside it
    {"op": "mkdir", "path": ...}               before creating a destination folder
    {"op": "begin", "steps": [i, ...]}         before acting on these moves (fsynced: write-ahead)
    {"op": "done", "i", "size", "mtime_ns", "hash"}   move i finished; the destination's stat (and
                                                      content hash when the bytes were copied)
    {"op": "made", "i", "dev", "ino"}          a copy step i made (across file systems, or undo's
                                               way back), before it takes its name: recovery
                                               removes only copies it made (flushed, not fsynced)
    {"op": "skip", "i", "reason"}              move i was not carried out, and left no trace
    {"op": "end", "cancelled", "error"}        apply stopped cleanly; a begun step with no done or
                                               skip was never started
    {"op": "undo-begin", "action"}             "undo", "rollback" (recovery) or "finish undo"
    {"op": "undo-step", "steps": [i, ...]}     before putting these moves back (fsynced)
    {"op": "undo-done", "i"} / {"op": "undo-skip", "i", "reason"}
    {"op": "undo-end", "cancelled"}

"begin" and "undo-step" are written for a chunk of moves with one fsync (group commit): the state
of a step that was begun but not finished is read back from the disk by recovery, so it does not
matter whether the crash came before or after the step's file operations. "done" lines are only
flushed; the next fsync makes them durable, and undo copes with a step whose "done" was lost.

A crash can leave a torn last line; readers ignore it and writers cut it off before appending.
Writers hold an exclusive lock on the file (flock, where the platform has it), so recovery never
touches a plan another process is still applying.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from .atomic import fsync_dir
from .errors import SorterError
from .plan import MovePlan, PlanError

if sys.platform != "win32":
    import fcntl

SUFFIX = ".jsonl"

State = Literal["applied", "undone", "partly undone", "rolled back", "incomplete", "in progress"]


def fault_point(label: str) -> None:
    """Does nothing. Tests replace it to simulate a crash right after the step named `label`."""


class JournalError(SorterError):
    """A journal file is missing, unreadable, malformed, or locked by another process."""


class JournalBusyError(JournalError):
    """Another process holds the plan's journal: it is applying or undoing it right now."""


@dataclass
class History:
    """A plan's journal, read back: what was begun, finished, skipped and undone."""

    plan: MovePlan
    real_folder: Path | None = None  # None in a journal written before stop 28
    mkdirs: list[Path] = field(default_factory=list)
    done: dict[int, dict[str, Any]] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)
    pending: set[int] = field(default_factory=set)  # begun, neither done nor skipped
    # (st_dev, st_ino) of every copy a step made (across file systems), journaled before the copy
    # took its name: recovery removes a second copy only if it is one of these, never a file that
    # a person put there with the same bytes.
    made: dict[int, set[tuple[int, int]]] = field(default_factory=dict)
    ended: bool = False
    cancelled: bool = False
    error: str | None = None
    undo_action: str | None = None  # of the latest undo run
    undo_done: set[int] = field(default_factory=set)
    undo_skipped: dict[int, str] = field(default_factory=dict)  # of the latest undo run
    undo_pending: set[int] = field(default_factory=set)
    undo_ended: bool = False

    @property
    def state(self) -> State:
        if self.undo_action is not None:
            if not self.undo_ended:
                return "incomplete"
            if set(self.done) | self.pending <= self.undo_done:
                return "rolled back" if not self.ended else "undone"
            return "partly undone"
        return "applied" if self.ended else "incomplete"

    def apply(self, record: dict[str, Any]) -> None:
        """One line of the journal. Every field is checked (ValueError), so that a damaged line
        makes the journal unreadable, never a step that undo or recovery would act on wrongly (a
        flipped bit once turned `"i": 1` into `"i": 9`, and every command failed with IndexError)."""
        op = record.get("op")
        if op == "folder":
            self.real_folder = Path(_of_type(record, "real", str))
        elif op == "mkdir":
            self.mkdirs.append(Path(_of_type(record, "path", str)))
        elif op == "begin":
            self.pending.update(self._steps(record))
        elif op == "done":
            i = self._step(record)
            for key in ("size", "mtime_ns"):
                _of_type(record, key, int)
            if record.get("hash") is not None:
                _of_type(record, "hash", str)
            self.done[i] = record
            self.pending.discard(i)
        elif op == "made":
            made = (_of_type(record, "dev", int), _of_type(record, "ino", int))
            self.made.setdefault(self._step(record), set()).add(made)
        elif op == "skip":
            i = self._step(record)
            self.skipped[i] = _of_type(record, "reason", str)
            self.pending.discard(i)
        elif op == "end":
            self.ended, self.cancelled, self.error = True, bool(record.get("cancelled")), record.get("error")
            self.pending.clear()  # begun but never started: apply stopped cleanly before them
        elif op == "undo-begin":
            self.undo_action, self.undo_ended = _of_type(record, "action", str), False
            self.undo_skipped = {}
        elif op == "undo-step":
            self.undo_pending.update(self._steps(record))
        elif op == "undo-done":
            i = self._step(record)
            self.undo_done.add(i)
            self.undo_pending.discard(i)
        elif op == "undo-skip":
            i = self._step(record)
            self.undo_skipped[i] = _of_type(record, "reason", str)
            self.undo_pending.discard(i)
        elif op == "undo-end":
            self.undo_ended = True
            self.undo_pending.clear()
        else:
            raise KeyError(op)

    def _step(self, record: dict[str, Any]) -> int:
        return self._index(record.get("i"))

    def _steps(self, record: dict[str, Any]) -> list[int]:
        steps = record.get("steps")
        if not isinstance(steps, list):
            raise ValueError(f"steps is not a list: {steps!r}")
        return [self._index(i) for i in steps]

    def _index(self, value: object) -> int:
        if type(value) is not int or not 0 <= value < len(self.plan.moves):
            raise ValueError(f"no move {value!r} in a plan of {len(self.plan.moves)}")
        return value


def _of_type(record: dict[str, Any], key: str, kind: type) -> Any:
    value = record.get(key)
    if type(value) is not kind:
        raise ValueError(f"{key} is not a {kind.__name__}: {value!r}")
    return value


class Journal:
    """The journal folder; the caller decides where it lives (e.g. `<data dir>/journal`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path(self, plan_id: str) -> Path:
        if not plan_id or "/" in plan_id or "\\" in plan_id or plan_id.startswith("."):
            raise JournalError(f"not a plan id: {plan_id!r}")
        return self.directory / (plan_id + SUFFIX)

    def plan_ids(self) -> list[str]:
        """Oldest first (ids sort by creation time)."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return sorted(n[: -len(SUFFIX)] for n in names if n.endswith(SUFFIX) and not n.startswith("."))

    def read(self, plan_id: str) -> History:
        path = self.path(plan_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise JournalError(f"no plan {plan_id} in the journal ({self.directory})") from None
        except OSError as exc:
            raise JournalError(f"cannot read journal {path}: {exc.strerror or exc}") from None
        lines = data.split(b"\n")
        if lines and lines[-1] != b"":
            lines = lines[:-1]  # torn last line: the write it belonged to never finished
        history: History | None = None
        for number, line in enumerate(lines, 1):
            if not line:
                continue
            try:
                record = json.loads(line)
                if history is None:
                    if record.get("op") != "plan":
                        raise KeyError("plan")
                    history = History(MovePlan.from_json(record["plan"]))
                else:
                    history.apply(record)
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError, PlanError) as exc:
                raise JournalError(f"journal {path} is malformed at line {number}: {exc!r}") from None
        if history is None:
            raise JournalError(f"journal {path} holds no plan")
        return history

    def create(self, plan: MovePlan) -> JournalWriter:
        """Start the journal of a plan about to be applied; refuses a plan applied before.

        The file is written under a hidden temp name, locked, and only then linked to its real name,
        so no reader ever sees a journal without its plan, or one not yet locked by its writer.
        """
        path = self.path(plan.id)
        tmp = self.directory / f".{path.name}.tmp"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp.unlink(missing_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
            writer = JournalWriter(path, os.fdopen(fd, "ab"))
        except OSError as exc:
            raise JournalError(f"cannot create journal {path}: {exc.strerror or exc}") from None
        try:
            writer.append({"op": "plan", "plan": plan.to_json()})
            os.link(tmp, path)
        except FileExistsError:
            writer.close()
            raise JournalError(f"plan {plan.id} was applied before (see its journal)") from None
        except OSError as exc:
            writer.close()
            raise JournalError(f"cannot create journal {path}: {exc.strerror or exc}") from None
        except JournalError:
            writer.close()
            raise
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(self.directory)
        return writer

    def remove_stale_temp_files(self, min_age_s: float = 3600) -> None:
        """Temp journals of a crash inside `create` (nothing was applied under them)."""
        for name in os.listdir(self.directory) if self.directory.is_dir() else []:
            path = self.directory / name
            if name.startswith(".") and name.endswith(SUFFIX + ".tmp"):
                with contextlib.suppress(OSError):
                    if time.time() - path.stat().st_mtime > min_age_s:
                        path.unlink()

    def open(self, plan_id: str) -> JournalWriter:
        """Append to an existing plan's journal (undo, recovery), after cutting off a torn tail."""
        path = self.path(plan_id)
        try:
            fh = path.open("r+b")
        except FileNotFoundError:
            raise JournalError(f"no plan {plan_id} in the journal ({self.directory})") from None
        writer = JournalWriter(path, fh)
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            fh.truncate(data.rfind(b"\n") + 1)
        fh.seek(0, os.SEEK_END)
        return writer

    def is_busy(self, plan_id: str) -> bool:
        """Whether another process is applying or undoing the plan right now."""
        if sys.platform == "win32":
            return False
        try:
            with self.path(plan_id).open("rb") as fh:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        return False


class JournalWriter:
    def __init__(self, path: Path, fh: IO[bytes]) -> None:
        self.path = path
        self._fh = fh
        if sys.platform != "win32":
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                raise JournalBusyError(
                    f"plan {path.stem} is being applied or undone by another process"
                ) from None

    def append(self, record: dict[str, Any], *, sync: bool = True) -> None:
        """Write one line; with `sync`, it (and every line before it) is on disk when this returns."""
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        try:
            self._fh.write(line.encode("utf-8"))
            self._fh.flush()
            if sync:
                os.fsync(self._fh.fileno())
        except OSError as exc:
            raise JournalError(f"cannot write journal {self.path}: {exc.strerror or exc}") from exc
        fault_point(str(record.get("op")))

    def sync(self) -> None:
        try:
            os.fsync(self._fh.fileno())
        except OSError as exc:
            raise JournalError(f"cannot write journal {self.path}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        self._fh.close()  # also releases the lock

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
