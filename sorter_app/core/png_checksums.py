"""A PNG whose ancillary chunk has a wrong checksum is read as libpng reads it: without that chunk.

A PNG stores a checksum after every chunk. Pillow refuses the whole file when the checksum of any
chunk before the image data is wrong, unless its process-wide `LOAD_TRUNCATED_IMAGES` is set (which
would also let truncated files through, in every decode thread of the window at once). libpng, and
so browsers and most viewers, only warn about a wrong checksum on an *ancillary* chunk (a text
comment, a colour profile, a time stamp: first letter lower case, which a reader may skip) and drop
that chunk; a photo whose comment an editor garbled is otherwise intact. A wrong checksum on a
critical chunk (IHDR, PLTE) still refuses the file, as libpng does. Checksums of the image data
and of chunks after it are Pillow's business (it does not check them).
"""

from __future__ import annotations

import io
import struct
import zlib
from itertools import islice
from typing import IO

from .png_chunks import chunks

# Read at most this much to mend a file in memory; a bigger one stays refused, as before.
_MAX_MENDED_BYTES = 256 * 1024 * 1024
_MAX_CHUNKS_BEFORE_DATA = 10_000  # a real file has a dozen


def bad_ancillary_chunks(fp: IO[bytes], nbytes: int) -> list[tuple[int, int]]:
    """Byte ranges (start, end) of the ancillary chunks before the image data whose checksum is
    wrong. Stops at the first IDAT, at a critical chunk with a wrong checksum (that is Pillow's to
    refuse), or where the file is cut short."""
    bad: list[tuple[int, int]] = []
    try:
        for position, length, kind in islice(chunks(fp), _MAX_CHUNKS_BEFORE_DATA):
            end = position + 12 + length
            if kind in (b"IDAT", b"IEND") or end > nbytes:
                break
            data = fp.read(length)
            stored = fp.read(4)
            if len(data) < length or len(stored) < 4:
                break
            if zlib.crc32(data, zlib.crc32(kind)) != struct.unpack(">I", stored)[0]:
                if not kind[0] & 0x20:  # a critical chunk: the file is refused
                    return []
                bad.append((position, end))
    finally:
        fp.seek(0)
    return bad


def without_bad_ancillary_chunks(fp: IO[bytes], nbytes: int) -> IO[bytes]:
    """`fp` itself, or, when ancillary chunks before the image data have wrong checksums, an
    in-memory copy of the file without them (files over 256 MB are left as they are)."""
    if nbytes > _MAX_MENDED_BYTES:
        return fp
    bad = bad_ancillary_chunks(fp, nbytes)
    if not bad:
        return fp
    mended = io.BytesIO()
    kept_from = 0
    for start, end in bad:
        fp.seek(kept_from)
        mended.write(fp.read(start - kept_from))
        kept_from = end
    fp.seek(kept_from)
    mended.write(fp.read())
    fp.seek(0)
    mended.seek(0)
    return mended
