"""The trash: where "trash" mode puts duplicates, in a form the desktop's own trash can restore.

On Linux and other freedesktop.org systems this is the user's home trash,
`$XDG_DATA_HOME/Trash` (default `~/.local/share/Trash`): the file goes to `files/<name>` and an
`info/<name>.trashinfo` records where it came from and when, per the Trash specification, so the
file manager shows it and can put it back. The info file is written first, with O_EXCL, which is
how the specification reserves a name. Files on other volumes also go to the home trash (copied
across, like any cross-device move) rather than to a per-volume `.Trash-$uid`: simpler, and the
specification allows it. Elsewhere (Windows, macOS, whose trashes need native APIs) the caller
passes an app trash folder, laid out the same way.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.parse
from pathlib import Path

from .errors import SorterError

INFO_SUFFIX = ".trashinfo"


def default_trash_root(app_trash: Path | None = None) -> Path:
    """The freedesktop home trash where there is one, else `app_trash` (a folder the app owns)."""
    if sys.platform not in ("win32", "darwin"):
        data_home = os.environ.get("XDG_DATA_HOME", "")
        if not os.path.isabs(data_home):  # the specification says to ignore a relative value
            data_home = os.path.join(os.path.expanduser("~"), ".local", "share")
        return Path(data_home) / "Trash"
    if app_trash is None:
        raise SorterError("no system trash on this platform: give an app trash folder")
    return app_trash


def info_path(trashed: Path) -> Path:
    """`<trash>/info/<name>.trashinfo` for a file at `<trash>/files/<name>`."""
    return trashed.parent.parent / "info" / (trashed.name + INFO_SUFFIX)


def write_info(trashed: Path, original: Path, when: float | None = None) -> None:
    """Reserve `trashed`'s name and record `original`; FileExistsError if the name is taken."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(when))
    text = f"[Trash Info]\nPath={urllib.parse.quote(os.fsencode(original))}\nDeletionDate={stamp}\n"
    fd = os.open(info_path(trashed), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    except OSError:
        os.close(fd)
        os.unlink(info_path(trashed))
        raise
    os.close(fd)


def read_info(trashed: Path) -> Path | None:
    """The original path an info file records, or None if there is none or it is unreadable."""
    try:
        lines = info_path(trashed).read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for line in lines:
        if line.startswith("Path="):
            return Path(os.fsdecode(urllib.parse.unquote_to_bytes(line[len("Path=") :])))
    return None


def remove_info(trashed: Path, original: Path) -> None:
    """Drop the info file of a file taken out of the trash, if it is ours (names `original`)."""
    if read_info(trashed) == original:
        info_path(trashed).unlink(missing_ok=True)
