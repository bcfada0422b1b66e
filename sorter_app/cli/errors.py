"""Every failure as one line a user can act on: what went wrong, and where.

The CLI's promise is one line on stderr and a documented exit code, never a traceback: a full
disk, a damaged or busy catalog, a folder without permission all end here. Set SORTER_DEBUG=1 to
get the traceback instead (for bug reports).
"""

from __future__ import annotations

import sqlite3

from ..core.errors import SorterError
from ..core.mover import os_reason

_SQLITE_REASONS = {
    sqlite3.SQLITE_FULL: "disk full: the catalog cannot grow",
    sqlite3.SQLITE_BUSY: "the catalog is busy: another program is writing it; try again",
    sqlite3.SQLITE_LOCKED: "the catalog is busy: another program is writing it; try again",
    sqlite3.SQLITE_READONLY: "cannot write the catalog: it is read-only",
    sqlite3.SQLITE_CANTOPEN: "cannot open the catalog (check the data folder and its permissions)",
    sqlite3.SQLITE_PERM: "cannot write the catalog: permission denied",
    sqlite3.SQLITE_IOERR: "cannot read or write the catalog: input/output error",
    sqlite3.SQLITE_CORRUPT: "the catalog is damaged",
    sqlite3.SQLITE_NOTADB: "the catalog is damaged (not a database)",
}


def describe(exc: BaseException) -> str:
    """One line for `exc`; unexpected errors say so, with their type, so they can be reported."""
    if isinstance(exc, SorterError):
        return str(exc)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None  # extended codes carry the primary
        reason = _SQLITE_REASONS.get(primary) if primary is not None else None
        return f"{reason} ({exc})" if reason else f"catalog error: {exc}"
    if isinstance(exc, OSError):
        return os_reason(exc)  # "disk full: PATH", "permission denied: PATH", …
    if isinstance(exc, MemoryError):
        return "out of memory"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"unexpected {type(exc).__name__}: {text} (set SORTER_DEBUG=1 and run again for details)"
