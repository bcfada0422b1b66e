"""A folder's full vectors copied into flat files, read a few rows at a time: what re-scoring reads.

`similar` re-scores its best compact candidates with full vectors, and duplicates and seed groups
need exact cosines wherever a threshold is close. Read from SQLite, each vector is two B-tree
descents and an overflow page (a 5 KB blob on 4 KB pages): about 60 µs a row on this machine, so the
75 rows of one `similar` query cost 5 ms — half the budget. The same rows gathered from a flat
file cost a few µs each. The copies are float32, bit for bit the catalog's: a
similarity shown, or compared with a threshold, is the one the catalog's vectors give (float16
copies would halve the disk, 2.5 GB at a million images instead of 5, but move cosines by ~1e-4:
enough to swap near-tied neighbours).

Rows are gathered through a memory map that lives for one batch of rows, not one kept open: a
duplicates run re-scores up to every row of a million-image folder, and the mapped pages it touched
would count against the process (5 GB at a million) where the page cache does not.

The store is append-only: segment files, each written once (`<name>-full-<id>.npy`), and `rows`, the
segment row of each structure row. Images added to a folder get a new segment; gone ones just stop
being referenced, until their share makes `compacted` write the live rows into one segment again.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from io import FileIO
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .atomic import atomic_path
from .vector_index import IndexWriteError

FULL_DTYPE = np.dtype("<f4")
GARBAGE_SHARE = 0.25  # rewrite the store when this share of its rows belongs to images that are gone
MAX_SEGMENTS = 8  # ... or when it has this many files
_COPY_CHUNK = 8192
GATHER_ROWS = 2048  # rows gathered through one memory map (see FullStore.read)
FEW_ROWS = 1024  # at most this many: asked for all at once, then a seek and a read each


@dataclass(frozen=True)
class FullStore:
    directory: Path
    segments: tuple[str, ...]  # file names, in order
    lengths: tuple[int, ...]  # rows in each
    offsets: tuple[int, ...]  # where each segment's data starts in its file (after the .npy header)
    dim: int
    rows: NDArray[np.int64]  # (n,): structure row i is row rows[i] of the segments, concatenated

    @property
    def stored(self) -> int:
        return sum(self.lengths)

    def needs_compacting(self) -> bool:
        garbage = self.stored - len(self.rows)
        return len(self.segments) > MAX_SEGMENTS or garbage > GARBAGE_SHARE * max(self.stored, 1)

    def read(self, rows: Sequence[int] | NDArray[np.integer]) -> NDArray[np.float32]:
        """float32 copies of the full vectors of structure `rows`, in that order.

        A few rows (`similar`'s 75) are read with a seek and a read each. More are gathered through
        a memory map of the segment, GATHER_ROWS rows per mapping, each mapping closed before the
        next: the copy loop runs in numpy (a duplicates run at a million images gathers ~17 million
        scattered rows; a seek and a read each from Python took 17 µs a row, the gather 8), and the
        pages a gather maps (64 KB around each row, the kernel's fault-around) leave the process
        with its mapping, so a read adds at most ~130 MB to it, whatever its size. A run of
        consecutive rows (a block that duplicates re-scores whole) is one plain read.
        """
        wanted = self.rows[np.asarray(rows, dtype=np.int64)]
        out = np.empty((len(wanted), self.dim), dtype=np.float32)
        starts = np.cumsum((0, *self.lengths))
        segment_of = np.searchsorted(starts, wanted, side="right") - 1
        row_bytes = self.dim * FULL_DTYPE.itemsize
        for s in np.unique(segment_of).tolist():
            picks = np.flatnonzero(segment_of == s)
            local = wanted[picks] - starts[s]
            order = np.argsort(local, kind="stable")  # one pass forward through the file
            picks, local = picks[order], local[order]
            shape = (self.lengths[s], self.dim)
            with (self.directory / self.segments[s]).open("rb", buffering=0) as fh:
                if len(local) > FEW_ROWS and bool(np.all(np.diff(local) == 1)):  # a run: one read
                    in_order = bool(np.all(np.diff(picks) == 1))  # then read straight into `out`
                    run = (
                        out[picks[0] : picks[0] + len(picks)]
                        if in_order
                        else np.empty((len(local), self.dim), np.float32)
                    )
                    fh.seek(self.offsets[s] + int(local[0]) * row_bytes)
                    _read_into(fh, run, self.segments[s])
                    if not in_order:
                        out[picks] = run
                    continue
                if len(local) <= FEW_ROWS:  # a `similar` query: a mapping per read costs more
                    read_each(fh, self.offsets[s], local, out, picks)
                    continue
                for first in range(0, len(local), GATHER_ROWS):
                    part = slice(first, first + GATHER_ROWS)
                    try:
                        mapped = np.memmap(
                            fh, dtype=FULL_DTYPE, mode="r", offset=self.offsets[s], shape=shape
                        )
                    except ValueError as exc:  # numpy's word for a file shorter than the map
                        raise OSError(f"{self.segments[s]} is shorter than its header says") from exc
                    out[picks[part]] = mapped[local[part]]
                    del mapped  # unmapped: its pages leave this process's resident memory
        return out

    def kept(self, kept_rows: NDArray[np.int64]) -> FullStore:
        """The store of a structure that kept `kept_rows` of this one's (in that order)."""
        return FullStore(
            self.directory, self.segments, self.lengths, self.offsets, self.dim, self.rows[kept_rows]
        )

    def appended(self, name: str, chunks: Iterable[NDArray[np.floating]], count: int) -> FullStore:
        """This store with `count` more rows (new structure rows at the end) in a new segment."""
        if count == 0:
            return self
        segment, offset = write_segment(self.directory, name, chunks, count, self.dim)
        first = self.stored
        rows = np.concatenate([self.rows, np.arange(first, first + count, dtype=np.int64)])
        return FullStore(
            self.directory,
            (*self.segments, segment),
            (*self.lengths, count),
            (*self.offsets, offset),
            self.dim,
            rows,
        )

    def compacted(self, name: str) -> FullStore:
        """The live rows, in structure order, copied into one new segment."""
        chunks = (
            self.read(np.arange(start, min(start + _COPY_CHUNK, len(self.rows))))
            for start in range(0, len(self.rows), _COPY_CHUNK)
        )
        return new_store(self.directory, name, chunks, len(self.rows), self.dim)


def read_each(
    fh: FileIO, offset: int, rows: NDArray[np.int64], out: NDArray[Any], at: NDArray[np.int64] | None = None
) -> None:
    """Rows `rows` of a flat array stored from `offset` of the file, each read on its own
    (`os.pread`, after one prefetch of all), into `out[at]` (`out` itself when `at` is None). No
    mapping: a memory map keeps the 64 KB the kernel maps around each row resident in this
    process. 300 rows of 512 bytes: 0.36 ms with pread, 0.83 with a seek and a readinto each."""
    row_bytes = out[0].nbytes if len(out) else 0
    offsets, fd = offset + rows * row_bytes, fh.fileno()
    _prefetch(fd, offsets, row_bytes)
    data = b"".join([os.pread(fd, row_bytes, at_byte) for at_byte in offsets.tolist()])
    if len(data) != len(rows) * row_bytes:
        raise OSError(f"{fh.name} is shorter than its header says")
    read = np.frombuffer(data, dtype=out.dtype).reshape(len(rows), *out.shape[1:])
    if at is None:
        out[:] = read
    else:
        out[at] = read


def _read_into(fh: FileIO, out: NDArray[np.float32], name: str) -> None:
    """Fill `out` from the file's position on: a read may return less than asked (Linux stops one
    at 2 GB), and fewer bytes than asked at the end means the segment was cut."""
    view, filled = out.data.cast("B"), 0
    while filled < len(view):
        got = fh.readinto(view[filled:])
        if not got:
            raise OSError(f"{name} is shorter than its header says")
        filled += got


def _prefetch(fd: int, offsets: NDArray[np.int64], length: int) -> None:
    """Ask the kernel for every row before touching the first: the disk then serves them together
    instead of one fault's wait after another (75 rows of a 5-GB store at a million images that
    the page cache does not hold). Where the system has no posix_fadvise, reads just wait."""
    if len(offsets) < 2 or not hasattr(os, "posix_fadvise"):
        return
    for offset in offsets.tolist():
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_WILLNEED)


def new_store(
    directory: Path, name: str, chunks: Iterable[NDArray[np.floating]], count: int, dim: int
) -> FullStore:
    """A store of one segment holding `count` rows, written from `chunks` of full vectors."""
    segment, offset = write_segment(directory, name, chunks, count, dim)
    return FullStore(directory, (segment,), (count,), (offset,), dim, np.arange(count, dtype=np.int64))


def write_segment(
    directory: Path, name: str, chunks: Iterable[NDArray[np.floating]], count: int, dim: int
) -> tuple[str, int]:
    """Write a segment file from `chunks` (never holding more than one); its name and data offset."""
    segment = f"{name}-full-{uuid.uuid4().hex[:12]}.npy"
    written = 0
    try:
        with atomic_path(directory / segment) as tmp, tmp.open("wb") as fh:
            header = {"descr": FULL_DTYPE.str, "fortran_order": False, "shape": (count, dim)}
            np.lib.format.write_array_header_1_0(fh, header)
            offset = fh.tell()
            for chunk in chunks:
                fh.write(np.ascontiguousarray(chunk, dtype=FULL_DTYPE).tobytes())
                written += len(chunk)
    except OSError as exc:  # a full disk: the CLI says so in one line; the old structure stays
        raise IndexWriteError.of(directory, exc) from None
    if written != count:
        (directory / segment).unlink(missing_ok=True)
        raise ValueError(f"segment of {count} rows was given {written}")
    return segment, offset


def open_store(
    directory: Path, segments: Sequence[str], rows: NDArray[np.int64], dim: int
) -> FullStore | None:
    """The store the manifest names, or None if a segment is missing, of another shape, or
    `rows` point outside it (it is rebuilt then)."""
    lengths, offsets = [], []
    for segment in segments:
        try:
            array = np.load(directory / segment, mmap_mode="r")
        except (OSError, ValueError):
            return None
        if array.dtype != FULL_DTYPE or array.ndim != 2 or array.shape[1] != dim:
            return None
        lengths.append(int(array.shape[0]))
        offsets.append(int(array.offset))
        del array  # only its shape was wanted: rows are read with seek and read
    total = sum(lengths)
    if rows.size and (int(rows.min()) < 0 or int(rows.max()) >= total):
        return None
    return FullStore(directory, tuple(segments), tuple(lengths), tuple(offsets), dim, rows)


def chunked(
    keys: Sequence[str], read: Callable[[Sequence[str]], NDArray[np.float32]], chunk: int
) -> Iterable[NDArray[np.float32]]:
    """Full vectors of `keys`, `chunk` at a time, as read from the catalog."""
    for start in range(0, len(keys), chunk):
        yield read(keys[start : start + chunk])
