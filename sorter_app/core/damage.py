"""Damaged SQLite files: tell damage from other errors, move a damaged file aside, keep a backup.

`catalog.sqlite` is a cache: when it is damaged it is moved aside (kept for whoever wants to look)
and a fresh one is started, which the next index fills again from the folders. `user.sqlite` holds
what cannot be rebuilt, so a verified copy of it, `user-backup.sqlite`, is taken after every change
(the file is small: a copy costs milliseconds), and a damaged live file is replaced by that copy.

How damage is found (costs measured by benchmarks/bench_integrity.py): `PRAGMA quick_check` reads
every page, about 1 s per GB here, too slow for every open of a large catalog. SQLite itself
reports a damaged page when it reads one (SQLITE_CORRUPT, or SQLITE_NOTADB for a damaged header), so
the catalog is checked cheaply at open (its header and schema are read) and in full only after such
an error, wherever it is raised; the small user file gets the full quick_check at every open.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from pathlib import Path

from .atomic import atomic_path
from .locks import exclusive_lock

_DAMAGE_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_SIDE_FILES = ("-wal", "-shm", "-journal")


def is_damage(exc: BaseException) -> bool:
    """Whether `exc` says an SQLite file is damaged (not busy, full, read-only or missing)."""
    return isinstance(exc, sqlite3.DatabaseError) and getattr(exc, "sqlite_errorcode", None) in _DAMAGE_CODES


def problem(db: sqlite3.Connection, schema: str = "main", *, full: bool = False) -> str | None:
    """What is wrong with `schema` of `db`, or None. Cheap: header and schema; `full`: quick_check."""
    try:
        db.execute(f"SELECT count(*) FROM {schema}.sqlite_master").fetchone()
        if full:
            rows = db.execute(f"PRAGMA {schema}.quick_check").fetchall()
            if rows != [("ok",)]:
                return str(rows[0][0])
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            return str(exc)
        raise
    return None


def file_problem(path: Path, *, full: bool = True) -> str | None:
    """`problem` of the database file at `path` on a connection of its own (None if it is absent)."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30.0)
    except sqlite3.Error:
        return None  # cannot even open it: not ours to call damaged
    try:
        return problem(db, full=full)
    except sqlite3.Error:
        return None
    finally:
        db.close()


def move_aside(path: Path) -> Path:
    """Rename a damaged database (and its WAL) to `<name>.damaged-<time>`; returns the new name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    os.replace(path, aside)
    for suffix in _SIDE_FILES:
        side = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            if suffix == "-shm":
                side.unlink()  # shared memory index of the WAL: meaningless without its file
            else:
                os.replace(side, aside.with_name(aside.name + suffix))
    return aside


def repair_lock(data_file: Path) -> contextlib.AbstractContextManager[None]:
    """Held while a damaged file is replaced, so two programs finding the damage at once replace it once."""
    return exclusive_lock(data_file.with_name(f".{data_file.name}.repair.lock"))


def backup_path(user_path: Path) -> Path:
    return user_path.with_name(f"{user_path.stem}-backup{user_path.suffix}")


def take_backup(db: sqlite3.Connection, schema: str, backup: Path) -> bool:
    """Copy `schema` of `db` to `backup`, verified (quick_check) before it replaces the old copy.

    Returns False (the previous backup stays) if it cannot be written, e.g. on a full disk.
    """
    try:
        with atomic_path(backup) as tmp:
            copy = sqlite3.connect(tmp)
            try:
                db.backup(copy, name=schema)
                copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
                if problem(copy, full=True) is not None:
                    raise sqlite3.DatabaseError("the backup copy does not check")
            finally:
                copy.close()
    except (OSError, sqlite3.Error):
        return False
    return True


def restore_backup(live: Path, backup: Path) -> bool:
    """Replace the (moved aside or missing) `live` file with a verified copy of `backup`."""
    if not backup.is_file() or file_problem(backup) is not None:
        return False
    try:
        with atomic_path(live) as tmp:
            shutil.copyfile(backup, tmp)
    except OSError:
        return False
    return True


def set_aside_catalog(path: Path, why: str, *, full: bool) -> str | None:
    """Move a damaged catalog aside so that a fresh one starts; the notice to show, or None if
    another program already did it. `full`: how the damage was found, and is checked again."""
    with repair_lock(path):
        if not path.exists() or file_problem(path, full=full) is None:
            return None
        aside = move_aside(path)
    return (
        f"the catalog {path} was damaged ({why}): moved it to {aside.name} and started a fresh one; "
        "index your folders again to fill it"
    )


def restore_user_file(path: Path, why: str) -> str | None:
    """Replace a damaged user file by its verified backup (or an empty file if there is none)."""
    backup = backup_path(path)
    with repair_lock(path):
        if path.exists() and file_problem(path) is None:
            return None  # another program restored it while we waited
        aside = move_aside(path) if path.exists() else None
        restored = restore_backup(path, backup)
    where = f"moved it to {aside.name}; " if aside else ""
    if restored:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(backup.stat().st_mtime))
        return f"your corrections file {path} was damaged ({why}): {where}restored the backup of {when}"
    return f"your corrections file {path} was damaged ({why}): {where}no usable backup, starting empty"


def repair_files(catalog_path: Path, user_path: Path) -> list[str]:
    """After SQLite reported damage somewhere: check both files in full and replace what is damaged."""
    notices: list[str] = []
    why = file_problem(catalog_path)
    if why is not None and (note := set_aside_catalog(catalog_path, why, full=True)):
        notices.append(note)
    if (why := file_problem(user_path)) is not None and (note := restore_user_file(user_path, why)):
        notices.append(note)
    return notices
