"""Files of their full size whose image data is zeros: what disk recovery, downloaders that
preallocate (torrent clients, some sync tools) and interrupted copies leave behind.

Such a file opens and often decodes: libheif, libavif and libwebp conceal the damage as flat
colour or smears, and in a JPEG with the standard Huffman tables (the ones cameras and phones
write) zero bits are valid codes, so the rows after the damage come out flat brown. A fuzz round
found every one of them indexed as a picture. Told from the bytes, where a valid file cannot have
them:

- HEIF, AVIF, lossless WebP, and JPEG 2000 and JPEG XL in their box containers: the file ends in
  at least TAIL_RUN bytes of zeros that begin inside the image data its container declares (its
  boxes but a trailing `free` or `skip` box, its image chunks). HEVC escapes every 00 00 00, and
  the others' entropy coders do not write such runs. Zeros after that are padding after a whole
  picture (a carving recovery tool overshooting the end, a free box), which is kept; a bare
  codestream, which declares no extent, is left to its decoder. Lossy WebP is not judged: its
  coder writes kilobytes of zeros for a large black area (a review: an 8000 × 6000 black picture
  ends in 4.6 KB of them).
- JPEG, sequential and Huffman-coded, whose first scan uses an AC table that gives the all-zeros
  code to a symbol other than end-of-block (the standard luminance table does): at least SCAN_RUN
  zero bytes in that scan's data. There a run of zeros could only mean 63 coefficients of −1 in
  block after block. Where a table gives the all-zeros code to end-of-block (an optimised table,
  or the standard chrominance table: a flat area encodes as zeros) zeros are valid data, so only
  the first scan is searched, and nothing is said when its tables allow zeros. A JPEG whose
  colours come in scans of their own (`cjpeg -scans`) keeps its flat colour there.
- JPEG of any kind: at least SCAN_RUN zero bytes where its next header segment should be, and no
  scan anywhere after them (only the first blocks of the file were written).
- Zeros that begin within 64 KB after an EXIF block are not judged: they may be its padding tag.
- A contrived picture whose every AC coefficient is −1, saved at quality 100, would be refused;
  no photo is (0 of the 16,758 shared photos, 0 of ~2,000 encoder outputs in a review).

Uncompressed formats are not judged: their zeros are black pixels, which a photo may have.
"""

from __future__ import annotations

import io
import mmap
import re
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from .jpeg_segments import DHT, SOF_KINDS, SOI, SOS, segments

TAIL_RUN = 4096
SCAN_RUN = 1024
TAIL_FORMATS = frozenset({"HEIF", "AVIF", "WEBP", "JPEG2000", "JXL"})
_CHUNK = 1 << 20
_ZEROS = bytes(_CHUNK)
_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")  # in scan data: a marker, not stuffing or a restart
_PADDING_BOXES = frozenset({b"free", b"skip"})
_EXIF_MAX = 1 << 16
_EXIF_HEADERS = (b"Exif\x00\x00", b"II*\x00\x08\x00\x00\x00", b"MM\x00*\x00\x00\x00\x08")
_WEBP_IMAGE_CHUNKS = frozenset({b"VP8L", b"ALPH", b"ANMF"})
_SEQUENTIAL_HUFFMAN = frozenset({0xC0, 0xC1})  # baseline and extended sequential
_EOB = 0x00


def zero_filled(fp: IO[bytes], nbytes: int, fmt: str) -> str | None:
    """Why a file that decoded is damaged by zero fill, or None."""
    if fmt in TAIL_FORMATS:
        return _judged(_zero_tail, fp, nbytes)
    if fmt in ("JPEG", "MPO"):
        return _judged(_zeros_in_jpeg_scan, fp, nbytes)
    return None


def zeros_before_jpeg_scan(fp: IO[bytes], nbytes: int) -> str | None:
    """Why a JPEG is damaged when it has zeros where its next header segment should be and no scan
    anywhere after them, or None (also for any other file): a file of which only the first blocks
    were written (a sparse or preallocated download). Asked before the file is opened: Pillow's
    header parser reads such a file a byte at a time looking for a marker (3.7 s of CPU for 50 MB;
    a 400-MB one ran into the decode deadline), and then "cannot load this image"."""
    return _judged(_zeros_before_jpeg_scan, fp, nbytes)


def _judged(rule: Callable[[IO[bytes], int], str | None], fp: IO[bytes], nbytes: int) -> str | None:
    """`rule`'s verdict, with `fp` rewound after; None for a file too odd to read that way (its
    decoder judges it)."""
    try:
        return rule(fp, nbytes)
    except (OSError, ValueError, struct.error):
        return None
    finally:
        fp.seek(0)


def _zero_tail(fp: IO[bytes], nbytes: int) -> str | None:
    if nbytes < TAIL_RUN:
        return None
    fp.seek(nbytes - TAIL_RUN)
    if fp.read(TAIL_RUN).count(0) != TAIL_RUN:
        return None
    zeros = nbytes - TAIL_RUN  # walk back to where the zeros begin
    while zeros > 0:
        start = max(0, zeros - _CHUNK)
        fp.seek(start)
        chunk = fp.read(zeros - start)
        if chunk != _ZEROS[: len(chunk)]:  # (see _zeros_end: only this chunk is stripped)
            zeros = start + len(chunk.rstrip(b"\x00"))
            break
        zeros = start
    declared = _declared_end(fp, nbytes)
    if declared is None or declared - zeros < TAIL_RUN:  # no extent to tell by, or padding after it
        return None
    if _exif_just_before(fp, zeros):  # the zeros may be EXIF's own padding (a review's HEIC)
        return None
    return _reason(nbytes - zeros)


def _exif_just_before(fp: IO[bytes], zeros: int) -> bool:
    """Whether an EXIF block (its TIFF header) starts within EXIF's largest size before `zeros`:
    pillow-heif writes a HEIC's EXIF last in its data box, and EXIF may end in a padding tag of
    zeros (Windows adds one). Saying nothing there can miss damage; it cannot refuse a photo."""
    start = max(0, zeros - _EXIF_MAX)
    fp.seek(start)
    before = fp.read(zeros - start)
    return any(header in before for header in _EXIF_HEADERS)


def _declared_end(fp: IO[bytes], nbytes: int) -> int | None:
    """Where the image data a container declares ends: a lossless WebP's last image chunk, or the
    last top-level box but trailing padding boxes of an ISO media (HEIF, AVIF), JPEG 2000 or JPEG
    XL box file; None for a lossy WebP or a bare codestream."""
    fp.seek(0)
    head = fp.read(12)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _webp_image_end(fp, min(nbytes, 8 + int(struct.unpack("<I", head[4:8])[0])))
    if not _is_box_type(head[4:8]):
        return None
    at, data_end = 0, 0
    for _ in range(100_000):  # a box header each
        fp.seek(at)
        header = fp.read(16)
        if len(header) < 8 or not _is_box_type(header[4:8]):
            break  # what follows is not a box: the structure ends here
        size = int(struct.unpack(">I", header[:4])[0])
        if size == 1 and len(header) == 16:
            size = int(struct.unpack(">Q", header[8:16])[0])
        elif size == 0:  # "to the end of the file"
            size = nbytes - at
        if size < 8:
            break
        at += size
        if header[4:8] not in _PADDING_BOXES:
            data_end = at
        if at >= nbytes:
            break
    return data_end


def _webp_image_end(fp: IO[bytes], riff_end: int) -> int | None:
    """The end of a WebP's last lossless image chunk (an animation's frames walked into); None
    where a lossy VP8 bitstream is anywhere: zeros can be its valid data."""
    image_end, at, ends = 0, 12, [riff_end]
    for _ in range(100_000):  # a chunk header each
        if at + 8 > ends[-1]:
            if len(ends) == 1:
                break
            at = ends.pop()  # out of an animation frame
            continue
        fp.seek(at)
        header = fp.read(8)
        kind, size = header[:4], int(struct.unpack("<I", header[4:8])[0])
        end = at + 8 + size + (size & 1)
        if kind == b"VP8 ":
            return None
        if kind in _WEBP_IMAGE_CHUNKS:
            image_end = max(image_end, min(end, riff_end))
        if kind == b"ANMF":  # its frame data is sub-chunks after a 16-byte frame header
            ends.append(end)
            at += 8 + 16
            continue
        at = end
    return image_end


def _is_box_type(kind: bytes) -> bool:
    return len(kind) == 4 and all(32 <= c < 127 for c in kind)


def _zeros_before_jpeg_scan(fp: IO[bytes], nbytes: int) -> str | None:
    fp.seek(0)
    if fp.read(len(SOI)) != SOI:
        return None
    end = len(SOI)
    for kind, _body in segments(fp):
        if kind == SOS:
            return None
        end = fp.tell()
    if nbytes - end < SCAN_RUN:
        return None
    with _view(fp, nbytes) as data:
        if data[end : end + SCAN_RUN] != _ZEROS[:SCAN_RUN]:
            return None
        zeros = _zeros_end(data, end, nbytes)
        if data.find(bytes([0xFF, SOS]), zeros) >= 0:
            return None  # a scan after them: the decoder's to judge
        return _reason(zeros - end)


def _zeros_in_jpeg_scan(fp: IO[bytes], nbytes: int) -> str | None:
    scan = _scan_start_if_zeros_invalid(fp)
    if scan is None or nbytes - scan < SCAN_RUN:
        return None
    with _view(fp, nbytes) as data:
        run = data.find(_ZEROS[:SCAN_RUN], scan)  # fast, and for almost every file the end
        # Inside the first scan, which ends at the next marker (EOI, SOS, DHT…)? Zeros after it are
        # padding some cameras add, or a later scan's valid data.
        if run < 0 or _MARKER.search(data, scan, run) is not None:
            return None
        return _reason(_zeros_end(data, run, nbytes) - run)


def _scan_start_if_zeros_invalid(fp: IO[bytes]) -> int | None:
    """Where a sequential Huffman JPEG's scan data begins, if a run of zeros cannot be valid there:
    one AC table the scan uses codes something other than end-of-block as zeros (in an interleaved
    scan every MCU has a block of each component, so that table's blocks would all be 63
    coefficients of −1). The standard luminance table does; its chrominance one does not. None
    otherwise, or for another kind of JPEG."""
    frame: int | None = None
    zero_symbols: dict[int, int] = {}
    for kind, body in segments(fp):
        if kind in SOF_KINDS:
            frame = kind
        elif kind == DHT:
            zero_symbols |= _ac_zero_symbols(body)
        elif kind == SOS and body:
            used = {zero_symbols.get(body[2 + 2 * i] & 0x0F) for i in range(body[0]) if 2 + 2 * i < len(body)}
            if frame in _SEQUENTIAL_HUFFMAN and used - {None, _EOB}:
                return fp.tell()
    return None


def _ac_zero_symbols(body: bytes) -> dict[int, int]:
    """{table id: the symbol it codes as all zeros (the first one listed)} of a DHT segment's AC
    tables."""
    found = {}
    at = 0
    while at + 17 <= len(body):
        table_class, table_id, counts = body[at] >> 4, body[at] & 0x0F, body[at + 1 : at + 17]
        symbols = body[at + 17 : at + 17 + sum(counts)]
        if table_class == 1 and symbols:
            found[table_id] = symbols[0]
        at += 17 + sum(counts)
    return found


def _zeros_end(data: bytes | mmap.mmap, start: int, nbytes: int) -> int:
    """Where the run of zeros at `start` ends (`nbytes` if it reaches the end of the file): a chunk
    at a time compared with zeros (0.1 s for 400 MB, where a regular expression or `lstrip` took
    2–3 s), then the first chunk that is not all zeros stripped."""
    while start < nbytes:
        chunk = data[start : start + _CHUNK]
        if chunk != _ZEROS[: len(chunk)]:
            return start + len(chunk) - len(chunk.lstrip(b"\x00"))
        start += len(chunk)
    return nbytes


@contextmanager
def _view(fp: IO[bytes], nbytes: int) -> Iterator[bytes | mmap.mmap]:
    """The file's bytes without copying them when it is a real file (mmap), else its contents."""
    try:
        mapped = mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_READ)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):  # BytesIO, or no mmap
        fp.seek(0)
        yield fp.read(nbytes)
        return
    with mapped:
        yield mapped


def _reason(zeros: int) -> str:
    size = f"{zeros / 1e6:.1f} MB" if zeros >= 1_000_000 else f"{max(1, round(zeros / 1000))} KB"
    return (
        f"damaged: {size} of zeros where image data should be (as disk recovery or a cut download leave it)"
    )
