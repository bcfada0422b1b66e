"""A JPEG's marker segments up to its first scan, walked with bounded effort: what the decoder
checks (images.py: the frame header's variant) and the zero-fill check (zero_fill.py: Huffman
tables and where the scan data begins) both read from them, without decoding anything."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import IO

SOF_KINDS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # frame headers (not DHT, JPG, DAC)
DHT, SOS = 0xC4, 0xDA
SOI = b"\xff\xd8"  # start of image: the file's first two bytes
_MAX_SEGMENTS = 256  # before the first scan: APPn, DQT, DHT, SOF, COM … a real file has a dozen


def segments(fp: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """(marker, body) of each segment from the start of `fp` to its first scan's header (SOS,
    yielded last: `fp` then stands where the scan data begins). Stops early, without an error, at
    anything that is not a segment: damage is the decoder's to report."""
    fp.seek(0)
    if fp.read(2) != SOI:
        return
    for _ in range(_MAX_SEGMENTS):
        header = fp.read(4)
        if len(header) < 4 or header[0] != 0xFF:
            return
        kind, length = header[1], struct.unpack(">H", header[2:])[0]
        if length < 2:  # (a length under its own two bytes: reading `length - 2` would read all)
            return
        yield kind, fp.read(length - 2)
        if kind == SOS:
            return
