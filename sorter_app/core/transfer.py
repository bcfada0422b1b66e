"""Moving one file so that at every instant at least one whole copy exists and nothing is overwritten.

Same file system: `os.link(src, dst)` then `os.unlink(src)`. link() fails if dst exists, so this is
a rename that never replaces, and between the two calls both names point to the same inode, which
recovery recognises. Where hard links are not supported (FAT, exFAT, some network shares: EPERM,
ENOTSUP) it falls back to an exists-check and `os.rename`, which leaves a window of microseconds in
which a file created by someone else could be replaced; on Windows `os.rename` refuses to replace.

Across file systems (EXDEV): copy to a temp name in the destination folder, fsync, check size and
BLAKE2b hash against the bytes read, no-replace rename to the final name, fsync the folder, and only
then delete the source, if its name still holds the file that was read (a program that saved a new
version meanwhile by renaming it over the old one keeps it; the copy of the old one goes). The copy
keeps mode and times (shutil.copy2 semantics), so the catalog's size + mtime check still matches.

Every step calls `journal.fault_point`, where tests inject a crash.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from . import journal
from .atomic import fsync_dir
from .hashing import CHUNK_BYTES, file_hash, new_digest

_NO_HARDLINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK}

Settled = Literal["in place", "restored", "removed", "conflict", "twins", "lost"]
Identity = tuple[int, int]  # (st_dev, st_ino): which file, whatever its name
CopyMadeFn = Callable[[Identity], None]


def identity(st: os.stat_result) -> Identity:
    return (st.st_dev, st.st_ino)


class SourceChanged(Exception):  # noqa: N818 - an outcome, not a failure
    """The source is not the file the plan was made for; nothing was done."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Transferred:
    size: int  # of the destination, as it now is
    mtime_ns: int
    hash: str | None  # BLAKE2b-128 when the bytes were copied and verified


def rename_noreplace(src: Path, dst: Path) -> None:
    """Rename `src` to `dst`; FileExistsError if `dst` exists, OSError(EXDEV) across file systems."""
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in _NO_HARDLINKS:
            raise
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst)) from None
        os.rename(src, dst)
        journal.fault_point("renamed")
        return
    journal.fault_point("linked")
    try:
        if not os.path.samestat(os.lstat(src), os.lstat(dst)):  # replaced between the two calls
            raise SourceChanged("replaced by another program while it was being moved")
        os.unlink(src)
    except (OSError, SourceChanged):
        os.unlink(dst)  # the new name is only a second link to the old file: take it back
        raise
    journal.fault_point("unlinked")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def copy_verified(src: Path, tmp: Path, expect: tuple[int, int] | None) -> tuple[str, os.stat_result]:
    """Copy `src` to `tmp` (ours: any old file there is a leftover) with its mode and times, fsync,
    and check it; returns the hash and the stat of the file read. On any failure `tmp` is gone and
    `src` untouched."""
    tmp.unlink(missing_ok=True)
    with open(src, "rb") as fh:
        before = os.fstat(fh.fileno())
        if expect is not None and (before.st_size, before.st_mtime_ns) != expect:
            raise SourceChanged("changed since the plan was made")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        try:
            digest = new_digest()
            try:
                while chunk := fh.read(CHUNK_BYTES):
                    digest.update(chunk)
                    _write_all(fd, chunk)
                journal.fault_point("copied")
                shutil.copystat(src, tmp)
                os.fsync(fd)
            finally:
                os.close(fd)
            journal.fault_point("synced")
            after = os.fstat(fh.fileno())
            if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                raise SourceChanged("changed while it was being copied")
            if os.stat(tmp).st_size != before.st_size or file_hash(tmp) != digest.hexdigest():
                raise OSError(errno.EIO, "the copy does not match the source", str(tmp))
        except (OSError, SourceChanged):
            tmp.unlink(missing_ok=True)
            raise
    return digest.hexdigest(), before


def _still_the_file_read(src: Path, read: os.stat_result) -> bool:
    """Whether `src` is still the file that was copied. Editors and exiftool save by writing a new
    file and renaming it over the old one: the copy would then be of a version that is gone, and
    deleting `src` would delete the new one."""
    try:
        now = os.lstat(src)
    except FileNotFoundError:
        return False
    return os.path.samestat(now, read) and (now.st_size, now.st_mtime_ns) == (read.st_size, read.st_mtime_ns)


def transfer(
    src: Path,
    dst: Path,
    tmp: Path,
    *,
    keep_source: bool,
    expect: tuple[int, int] | None,
    on_copy: CopyMadeFn | None = None,
) -> Transferred:
    """Move (or, with `keep_source`, copy) `src` to `dst`, never replacing anything at `dst`.

    `tmp` is the temp name for a copy, in `dst`'s folder. `expect` is the (size, mtime_ns) the source
    must still have. `on_copy(identity)` is told the (st_dev, st_ino) of a copy before it takes the
    name `dst`, so that the caller can journal it. On an exception other than a crash, the disk is as
    it was before the call.
    """
    if not keep_source:
        try:
            rename_noreplace(src, dst)
            st = os.lstat(dst)
            return Transferred(st.st_size, st.st_mtime_ns, None)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
    digest, read = copy_verified(src, tmp, expect)
    try:
        if on_copy is not None:
            on_copy(identity(os.lstat(tmp)))
        rename_noreplace(tmp, dst)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dst.parent)  # the copy must be durable under its name before the source goes
    journal.fault_point("dst synced")
    if not keep_source:
        try:
            if not _still_the_file_read(src, read):
                raise SourceChanged("replaced by another program while it was being copied")
            os.unlink(src)
        except (OSError, SourceChanged):
            os.unlink(dst)  # the copy of a version that is no longer the source's
            raise
        journal.fault_point("source removed")
    st = os.lstat(dst)
    return Transferred(st.st_size, st.st_mtime_ns, digest)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def settle(
    home: Path,
    other: Path,
    leftovers: list[Path],
    tmp: Path,
    *,
    made: Collection[Identity] = (),
    on_copy: CopyMadeFn | None = None,
) -> Settled:
    """After an interrupted transfer between `home` and `other` (either way), put the file at `home`.

    Reads the state from the disk, so it does not matter which step the crash came after: temp
    files are deleted; if both names hold the same file (one inode), or the same bytes and one of
    them is a copy the transfer made (`made`, as journaled through `on_copy`), the second one goes;
    if only `other` exists, it is moved to `home`. Two different files are left alone ("conflict"),
    and so are the same bytes in two files neither of which the transfer made ("twins": a person
    may have put a copy there). Running it again after a crash inside it is safe.
    """
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
        journal.fault_point("leftover removed")
    home_st, other_st = _lstat(home), _lstat(other)
    if home_st is not None and other_st is not None:
        if not (stat.S_ISREG(home_st.st_mode) and stat.S_ISREG(other_st.st_mode)):
            return "conflict"
        if not os.path.samestat(home_st, other_st):
            if home_st.st_size != other_st.st_size or file_hash(home) != file_hash(other):
                return "conflict"
            if identity(home_st) not in made and identity(other_st) not in made:
                return "twins"
        os.unlink(other)
        journal.fault_point("duplicate removed")
        return "removed"
    if other_st is not None:
        home.parent.mkdir(parents=True, exist_ok=True)
        transfer(other, home, tmp, keep_source=False, expect=None, on_copy=on_copy)
        return "restored"
    return "in place" if home_st is not None else "lost"
