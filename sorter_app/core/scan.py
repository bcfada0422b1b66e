"""Walk a folder for image files, cheaply and without surprises.

Re-opening an indexed folder costs only this walk (one stat per file), so it must stay lean. It
skips hidden and system files, and reports what it could not enter instead of failing. Links are
never followed: a folder link may lead out of the folder the user chose (and a plan would then
move files that live elsewhere), or back into it (every file twice, or a loop); a file link's
target is indexed where it really is, or not at all when that is outside. Each link is listed
with the reason it was not followed, and so is every path too long for the system to open, and
every pipe or device named like an image (opening a pipe blocks; /dev/zero never ends).
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from .formats import IMAGE_EXTENSIONS
from .formats import is_image_name as is_image_name  # plan.py and plan_check.py use it from here


def _path_max() -> int:
    try:
        return os.pathconf("/", "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):
        return 4096


# Longest path (in bytes, with its terminating NUL) the system will open; deeper files are listed.
PATH_MAX = _path_max()
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


# Both are NamedTuples, not dataclasses: a re-open makes one per file (200,000 for a big folder),
# and a tuple costs a fifth of a frozen dataclass to make; sorted, they sort by path.


class ScannedFile(NamedTuple):
    relpath: str  # '/'-separated, relative to the scanned root
    size: int
    mtime_ns: int


class Problem(NamedTuple):
    """A path that looked relevant but could not be used, with a reason a user can act on."""

    relpath: str
    reason: str


@dataclass
class ScanResult:
    files: list[ScannedFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def printable(name: str | Path) -> str:
    """A name with undecodable bytes, shown with replacement characters instead of crashing."""
    return os.fsencode(name).decode("utf-8", errors="replace")


def is_utf8(name: str | Path) -> bool:
    """Whether `name` can be stored and shown: a name whose bytes are not UTF-8 comes from the file
    system with surrogates in it, which SQLite, JSON files and the window all refuse."""
    try:
        str(name).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def scan_folder(
    root: Path,
    *,
    exclude: Iterable[Path] = (),
    cancelled: Callable[[], bool] | None = None,
) -> ScanResult:
    """Every image-looking regular file under `root`, plus the problems met on the way."""
    result = ScanResult()
    excluded = {os.path.realpath(p) for p in exclude}
    real_root = os.path.realpath(root)
    root_stat = os.stat(root)
    visited = {(root_stat.st_dev, root_stat.st_ino)}  # bind mounts can loop without a link
    stack: list[tuple[str, str]] = [(os.fspath(root), "")]
    while stack:
        if cancelled is not None and cancelled():
            break
        dir_path, rel_dir = stack.pop()
        try:
            with os.scandir(dir_path) as it:
                entries = list(it)
        except OSError as exc:
            result.problems.append(Problem(rel_dir or ".", f"cannot open folder: {exc.strerror or exc}"))
            continue
        dir_bytes = len(os.fsencode(dir_path)) + 1  # the path's length, for PATH_MAX, without a call per file
        for entry in entries:
            name = entry.name
            if name[0] == "." or name in SYSTEM_NAMES:  # hidden (inline: this loop is the re-open)
                continue
            rel = f"{rel_dir}/{name}" if rel_dir else name
            try:
                name_bytes = len(name.encode("utf-8"))
            except UnicodeEncodeError:  # undecodable bytes, kept by the file system's decoding
                if is_image_name(name) or entry.is_dir(follow_symlinks=False):
                    result.problems.append(
                        Problem(printable(rel), "name is not valid UTF-8: rename it to index it")
                    )
                continue
            if entry.is_symlink():
                reason = _link_reason(entry, real_root)
                if reason is not None:
                    result.problems.append(Problem(rel, reason))
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            if not is_dir and name[name.rfind(".") :].lower() not in IMAGE_EXTENSIONS:  # is_image_name
                continue
            if dir_bytes + name_bytes >= PATH_MAX - 1:
                what = "folder" if is_dir else "file"
                reason = f"{what} path longer than this system's limit ({PATH_MAX} bytes): not indexed"
                result.problems.append(Problem(rel, reason))
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
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
                stack.append((entry.path, rel))
            elif stat.S_ISREG(st.st_mode):
                result.files.append(ScannedFile(rel, st.st_size, st.st_mtime_ns))
            else:  # named like an image, but reading it would block (a pipe) or never end (a device)
                reason = f"not a regular file ({special_kind(st.st_mode)}): not read"
                result.problems.append(Problem(rel, reason))
    result.files.sort()
    result.problems.sort()
    return result


def _link_reason(entry: os.DirEntry[str], real_root: str) -> str | None:
    """Why a link is not followed, or None for a link nobody would miss (not to a folder or image)."""
    try:
        target = os.stat(entry.path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop, skipped"
        return "broken symlink: its target does not exist" if is_image_name(entry.name) else None
    real = os.path.realpath(entry.path)
    inside = _within(real, real_root)
    if stat.S_ISDIR(target.st_mode):
        if not inside:
            return f"link to a folder outside the indexed folder ({real}): not followed"
        if _within(os.path.realpath(os.path.dirname(entry.path)), real):
            return "symlink loop: a link to a folder that contains it, not followed"
        return "link to a folder: not followed (the folder it points to is indexed where it is)"
    if not is_image_name(entry.name):
        return None
    if not stat.S_ISREG(target.st_mode):
        return f"link to {special_kind(target.st_mode)} ({real}): not read"
    if not inside:
        return f"link to a file outside the indexed folder ({real}): not indexed"
    return "link to a file: not indexed (the file it points to is indexed where it is)"


def special_kind(mode: int) -> str:
    """What a file that is neither a regular file nor a folder is, in words."""
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _within(path: str, folder: str) -> bool:
    """Whether real path `path` is `folder` or below it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def open_regular(path: str | os.PathLike[str], *, follow_links: bool = True) -> io.BufferedReader:
    """Open a file to read only if it is a regular file: one the scan listed may have been replaced
    since by a named pipe, whose plain open() blocks until a writer comes (a fuzz round's indexing
    run sat there with no CPU and no end), or a device that never ends. Without `follow_links` a
    link is refused too, as the scan refuses it. OSError, with a reason, otherwise."""
    nonblocking = getattr(os, "O_NONBLOCK", 0)
    flags = os.O_RDONLY | nonblocking | getattr(os, "O_BINARY", 0)
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_links:
            raise OSError(errno.ELOOP, "it is a link now, not the file that was listed", str(path)) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"not a regular file ({special_kind(mode)})", str(path))
        if nonblocking:  # (Windows has neither the flag nor named pipes in folders)
            os.set_blocking(fd, True)
        return open(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
