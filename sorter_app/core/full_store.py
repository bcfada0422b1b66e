"""A folder's full vectors copied into flat files, read a few rows at a time: what re-scoring reads.

`similar` re-scores its best compact candidates with full vectors, and duplicates and seed groups
need exact cosines wherever a threshold is close. Read from SQLite, each vector is two B-tree
descents and an overflow page (a 5 KB blob on 4 KB pages): about 60 µs a row on this machine, so the
75 rows of one `similar` query cost 5 ms — half the budget. The same rows read from a flat file
cost a seek and a read each (a few µs). The copies are float32, bit for bit the catalog's: a
similarity shown, or compared with a threshold, is the one the catalog's vectors give (float16
copies would halve the disk, 2.5 GB at a million images instead of 5, but move cosines by ~1e-4:
enough to swap near-tied neighbours).

Rows are read with seek and read, not through a memory map: a duplicates run re-scores up to
every row of a million-image folder, and mapped pages it touched would count against the process
(5 GB at a million) where the page cache does not.

The store is append-only: segment files, each written once (`<name>-full-<id>.npy`), and `rows`, the
segment row of each structure row. Images added to a folder get a new segment; gone ones just stop
being referenced, until their share makes `compacted` write the live rows into one segment again.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .atomic import atomic_path
from .vector_index import IndexWriteError

FULL_DTYPE = np.dtype("<f4")
GARBAGE_SHARE = 0.25  # rewrite the store when this share of its rows belongs to images that are gone
MAX_SEGMENTS = 8  # ... or when it has this many files
_COPY_CHUNK = 8192
# Reads: rows up to this far apart (80 KB at 1,280 dimensions) are read with the rows between
# them rather than with a seek; one read holds at most SPAN_ROWS rows (10 MB).
READ_THROUGH_ROWS = 16
SPAN_ROWS = 2048


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

        Rows close together in a segment are read in one go, the rows between them read and
        dropped: a duplicates run wants most rows of a folder, and one seek and read per row made
        1.2 million reads (and as many prefetch calls) at 100,000 images. `similar`'s 75 rows,
        scattered over a big store, are still a read each.
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
            spans = _spans(local)
            with (self.directory / self.segments[s]).open("rb", buffering=0) as fh:
                first_rows = local[spans[:-1]]
                lengths = local[spans[1:] - 1] - first_rows + 1
                _prefetch(fh.fileno(), self.offsets[s] + first_rows * row_bytes, lengths * row_bytes)
                ends = spans[1:].tolist()
                reads = zip(spans[:-1].tolist(), ends, first_rows.tolist(), lengths.tolist(), strict=True)
                for a, b, first, count in reads:
                    block = np.empty((count, self.dim), dtype=FULL_DTYPE)
                    fh.seek(self.offsets[s] + first * row_bytes)
                    if fh.readinto(block.data.cast("B")) != count * row_bytes:
                        raise OSError(f"{self.segments[s]} is shorter than its header says")
                    out[picks[a:b]] = block[local[a:b] - first]
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


def _spans(local: NDArray[np.int64]) -> NDArray[np.int64]:
    """Where each read starts in sorted rows `local`, and len(local) last: a new read where the gap
    to the row before passes READ_THROUGH_ROWS, or the read would pass SPAN_ROWS."""
    if len(local) == 0:
        return np.zeros(1, dtype=np.int64)
    gap = np.diff(local) > READ_THROUGH_ROWS
    block = (local - local[0]) // SPAN_ROWS
    breaks = np.flatnonzero(gap | (np.diff(block) != 0)) + 1
    return np.concatenate([[0], breaks, [len(local)]]).astype(np.int64)


def _prefetch(fd: int, offsets: NDArray[np.int64], lengths: NDArray[np.int64]) -> None:
    """Ask the kernel for every read before making the first: the disk then serves them together
    instead of one read's wait after another (75 rows of a 5-GB store at a million images that
    the page cache does not hold). Where the system has no posix_fadvise, reads just wait."""
    if len(offsets) < 2 or not hasattr(os, "posix_fadvise"):
        return
    for offset, length in zip(offsets.tolist(), lengths.tolist(), strict=True):
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
