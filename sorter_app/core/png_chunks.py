"""A PNG's chunk headers, walked with bounded effort: what the decoder checks before Pillow reads
a claimed length (images.py: a chunk longer than the file) and the checksum mend
(png_checksums.py: optional chunks with a wrong checksum) both read from them."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import IO

from .icon_sizes import PNG_MAGIC

MAX_CHUNKS = 100_000  # walked at most; a real file has a few dozen (or one per APNG frame)


def chunks(fp: IO[bytes]) -> Iterator[tuple[int, int, bytes]]:
    """(position, claimed data length, kind) of each chunk after the signature, up to and
    including IEND; stops, without an error, where a header is cut short. After each is yielded
    `fp` stands at the chunk's data (position + 8)."""
    position = len(PNG_MAGIC)
    for _ in range(MAX_CHUNKS):
        fp.seek(position)
        header = fp.read(8)
        if len(header) < 8:
            return
        length, kind = struct.unpack(">I4s", header)
        yield position, length, kind
        if kind == b"IEND":
            return
        position += 12 + length
