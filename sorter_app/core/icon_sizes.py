"""The sizes the PNG images inside an ICO, CUR or ICNS file claim, read from their headers.

Pillow's ICO and ICNS plugins decode an embedded PNG while the file is being *opened*, before any
caller can look at its size: a 130-byte icon whose PNG header claims 30,000 × 30,000 took a decode
worker to 1.2 GB (a fuzz campaign's find; only the worker's memory cap stopped it). images.py
checks these claims first, as it checks every other format's header.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import IO

ICON_MAGICS = (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00", b"icns")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_MAX_ENTRIES = 256  # an ICO directory counts entries in 16 bits; real icons hold a handful


def embedded_png_sizes(fp: IO[bytes], nbytes: int) -> Iterator[tuple[int, int, int]]:
    """(width, height, bytes stored) of each embedded PNG whose header can be read; entries that
    point outside the file or hold no PNG are left to Pillow."""
    head = fp.read(8)
    if head[:4] == b"icns":
        yield from _icns(fp, nbytes)
    elif head[:4] in ICON_MAGICS:
        (count,) = struct.unpack("<H", head[4:6])
        fp.seek(6)  # the directory follows the 6-byte header: 16 bytes an entry
        directory = fp.read(16 * min(count, _MAX_ENTRIES))
        for i in range(len(directory) // 16):
            size, offset = struct.unpack("<II", directory[16 * i + 8 : 16 * i + 16])
            found = _png_at(fp, offset, min(size, max(0, nbytes - offset)), nbytes)
            if found is not None:
                yield found


def _icns(fp: IO[bytes], nbytes: int) -> Iterator[tuple[int, int, int]]:
    """ICNS: after the 8-byte header, elements of a 4-byte type and a 4-byte length (with header)."""
    offset = 8
    for _ in range(_MAX_ENTRIES):
        fp.seek(offset)
        element = fp.read(8)
        if len(element) < 8:
            return
        (length,) = struct.unpack(">I", element[4:])
        if length < 8:
            return
        found = _png_at(fp, offset + 8, min(length - 8, max(0, nbytes - offset - 8)), nbytes)
        if found is not None:
            yield found
        offset += length


def _png_at(fp: IO[bytes], offset: int, stored: int, nbytes: int) -> tuple[int, int, int] | None:
    if offset + 24 > nbytes:
        return None
    fp.seek(offset)
    header = fp.read(24)  # magic, IHDR length and type, width, height
    if not header.startswith(PNG_MAGIC) or header[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", header[16:24])
    return width, height, stored
