"""An advisory lock on a file, so that two programs writing one data folder take turns.

The window and `sorter index` may update the same data folder at once; whatever must not
interleave (replacing an index file and its manifest, say) runs under `exclusive_lock`. The lock is
`flock` on a small lock file that is never deleted (deleting it would let a second process lock a
new inode while the first still holds the old one). The kernel drops the lock when its holder dies,
so a killed writer never leaves the folder locked. Windows has no `flock`: there `msvcrt.locking`
locks the file's first byte, retrying until it is free.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

if sys.platform == "win32":  # pragma: no cover - Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                return
            except OSError:
                time.sleep(0.05)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) for the `with` block; waits for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _lock(fd)
        yield
    finally:
        os.close(fd)  # releases the lock too
