"""Walk a folder for image files, cheaply and without surprises.

Re-opening an indexed folder costs only this walk (one stat per file), so it must stay lean. It
never loops on symlinks, skips hidden and system files, and reports what it could not enter
instead of failing.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .images import IMAGE_EXTENSIONS

# Folders that operating systems, cameras and sync tools scatter around; never the user's photos.
SYSTEM_NAMES = frozenset(
    {
        "Thumbs.db",
        "desktop.ini",
        "$RECYCLE.BIN",
        "System Volume Information",
        "__MACOSX",
        "@eaDir",
        "lost+found",
    }
)


@dataclass(frozen=True)
class ScannedFile:
    relpath: str  # '/'-separated, relative to the scanned root
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Problem:
    """A path that looked relevant but could not be used, with a reason a user can act on."""

    relpath: str
    reason: str


@dataclass
class ScanResult:
    files: list[ScannedFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name in SYSTEM_NAMES


def _printable(name: str) -> str:
    """A name with undecodable bytes, shown with replacement characters instead of crashing."""
    return os.fsencode(name).decode("utf-8", errors="replace")


def _has_valid_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def scan_folder(
    root: Path,
    *,
    exclude: Iterable[Path] = (),
    cancelled: Callable[[], bool] | None = None,
) -> ScanResult:
    """Every image-looking regular file under `root`, plus the problems met on the way.

    Directory symlinks are followed once: a (device, inode) already visited is reported as a loop.
    """
    result = ScanResult()
    excluded = {os.path.realpath(p) for p in exclude}
    root_stat = os.stat(root)
    visited = {(root_stat.st_dev, root_stat.st_ino)}
    stack: list[tuple[str, str]] = [(os.fspath(root), "")]
    while stack:
        if cancelled is not None and cancelled():
            break
        dir_path, rel_dir = stack.pop()
        try:
            with os.scandir(dir_path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            result.problems.append(Problem(rel_dir or ".", f"cannot open folder: {exc.strerror or exc}"))
            continue
        subdirs: list[tuple[str, str]] = []
        for entry in entries:
            name = entry.name
            if _is_hidden(name):
                continue
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if not _has_valid_name(name):
                if is_image_name(name) or entry.is_dir(follow_symlinks=False):
                    result.problems.append(
                        Problem(_printable(rel), "name is not valid UTF-8: rename it to index it")
                    )
                continue
            try:
                st = entry.stat()  # follows symlinks
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    result.problems.append(Problem(rel, "symlink loop, skipped"))
                elif entry.is_symlink() and is_image_name(name):
                    result.problems.append(Problem(rel, "broken symlink: its target does not exist"))
                elif is_image_name(name):
                    result.problems.append(Problem(rel, f"cannot read: {exc.strerror or exc}"))
                continue
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in visited:
                    result.problems.append(Problem(rel, "symlink loop: folder already visited, skipped"))
                    continue
                if os.path.realpath(entry.path) in excluded:
                    continue
                visited.add(key)
                subdirs.append((entry.path, rel))
            elif stat.S_ISREG(st.st_mode) and is_image_name(name):
                result.files.append(ScannedFile(rel, st.st_size, st.st_mtime_ns))
        stack.extend(reversed(subdirs))
    result.files.sort(key=lambda f: f.relpath)
    return result
