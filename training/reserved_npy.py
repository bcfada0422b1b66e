"""`.npy` files written through a memory map, with their disk blocks reserved first.

`np.lib.format.open_memmap(mode="w+")` makes a sparse file: the blocks are only claimed when a
page is first written. On a full disk (or a full tmpfs) that write cannot be backed and the kernel
kills the whole process with SIGBUS, a "Fatal Python error: Bus error" with no exception to catch,
no message for the user and a half-written run left behind. Reserving every block up front with
`posix_fallocate` turns the same condition into an `OSError` (ENOSPC) at open time, before any
work is done, where the caller's usual error handling can report it.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import numpy as np


def reserved_npy(path: Path, dtype: Any, shape: tuple[int, ...]) -> np.memmap[Any, Any]:
    """Create `path` as a zero-filled `.npy` of `shape`, its blocks reserved, and map it for writing."""
    dtype = np.dtype(dtype)
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    try:
        with path.open("wb") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            size = fh.tell() + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            fh.flush()
            _reserve(fh.fileno(), size)
    except OSError:
        path.unlink(missing_ok=True)
        raise
    return np.lib.format.open_memmap(path, mode="r+")


def _reserve(fd: int, size: int) -> None:
    if size == 0:
        return
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as error:
        if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise
        os.ftruncate(fd, size)  # a file system without fallocate: the sparse file is the best it has
