"""Hostile and unusual image files, built byte by byte: every case of issue #12 by name.

Used by tests/core/test_hostile_files.py and by benchmarks/hostile_corpus.py (which adds them to
a corpus of real malformed files). Each builder writes one file and returns its path.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from tests import builders

# --- TIFF, written by hand so that any tag can be missing, zero or wrong -------------------------

_SHORT, _LONG, _RATIONAL, _SRATIONAL, _BYTE, _ASCII = 3, 4, 5, 10, 1, 2
_TYPE_SIZE = {_BYTE: 1, _ASCII: 1, _SHORT: 2, _LONG: 4, _RATIONAL: 8, _SRATIONAL: 8}
Entry = tuple[int, int, list[int] | bytes]  # tag, type, values (ints, or raw bytes for BYTE/ASCII)


def _entry_bytes(entry: Entry, order: str) -> tuple[bytes, int]:
    _, kind, values = entry
    if isinstance(values, bytes):
        payload, count = values, len(values)
    elif kind in (_RATIONAL, _SRATIONAL):
        fmt = order + ("i" if kind == _SRATIONAL else "I")
        payload = b"".join(struct.pack(fmt, v) for v in values)
        count = len(values) // 2
    else:
        payload = b"".join(struct.pack(order + {_SHORT: "H", _LONG: "I"}[kind], v) for v in values)
        count = len(values)
    return payload, count


def tiff_bytes(
    ifds: list[list[Entry]], data: bytes = b"", *, chain_to: int | None = None, order: str = "<"
) -> bytes:
    """A TIFF, little-endian unless `order` is ">": `data` right after the header, then each IFD
    with its values (`data` is written as given, whatever the byte order).

    Offsets in entries are relative to the file start, so `data` sits at offset 8. `chain_to`
    makes the last IFD point back to an earlier IFD's offset (a loop).
    """
    signature = b"II*\x00" if order == "<" else b"MM\x00*"
    out = bytearray(signature + b"\x00\x00\x00\x00" + data)
    offsets: list[int] = []
    patch_next: int | None = None
    for entries in ifds:
        if len(out) % 2:
            out += b"\x00"
        ifd_at = len(out)
        offsets.append(ifd_at)
        if patch_next is None:
            struct.pack_into(order + "I", out, 4, ifd_at)
        else:
            struct.pack_into(order + "I", out, patch_next, ifd_at)
        entries = sorted(entries, key=lambda e: e[0])
        table_end = ifd_at + 2 + 12 * len(entries) + 4
        extra = bytearray()
        table = bytearray(struct.pack(order + "H", len(entries)))
        for entry in entries:
            payload, count = _entry_bytes(entry, order)
            if len(payload) <= 4:
                table += struct.pack(order + "HHI", entry[0], entry[1], count) + payload.ljust(4, b"\x00")
            else:
                table += struct.pack(order + "HHII", entry[0], entry[1], count, table_end + len(extra))
                extra += payload + (b"\x00" if len(payload) % 2 else b"")
        patch_next = ifd_at + len(table)
        table += b"\x00\x00\x00\x00"
        out += table + extra
    if chain_to is not None and patch_next is not None:
        struct.pack_into(order + "I", out, patch_next, offsets[chain_to])
    return bytes(out)


def _grey_strip_ifd(width: int, height: int, /, **override: list[int] | None) -> list[Entry]:
    """A valid 8-bit greyscale single-strip IFD whose pixels start at offset 8; tags overridable."""
    tags: dict[str, Entry] = {
        "width": (256, _LONG, [width]),
        "height": (257, _LONG, [height]),
        "bits": (258, _SHORT, [8]),
        "compression": (259, _SHORT, [1]),
        "photometric": (262, _SHORT, [1]),
        "strip_offsets": (273, _LONG, [8]),
        "samples": (277, _SHORT, [1]),
        "rows_per_strip": (278, _LONG, [height]),
        "strip_byte_counts": (279, _LONG, [width * height]),
    }
    entries = []
    for key, entry in tags.items():
        if key in override:
            value = override[key]
            if value is None:
                continue  # the tag is missing
            entry = (entry[0], entry[1], value)
        entries.append(entry)
    return entries


def _grey_pixels(width: int, height: int) -> bytes:
    return bytes((x * 255 // max(width - 1, 1)) for _ in range(height) for x in range(width))


def write_tiff_grey_with_alpha_4bit(path: Path, width: int = 64, height: int = 48) -> Path:
    """A valid 4-bit grey TIFF with an alpha sample (GraphicsMagick's test set has one): Pillow
    reads grey with alpha at 8 bits only, and the file was called corrupt."""
    # two 4-bit samples a pixel: a row is `width` bytes, as for 8-bit grey
    ifd = [*_grey_strip_ifd(width, height, bits=[4, 4], samples=[2]), (338, _SHORT, [2])]
    path.write_bytes(tiff_bytes([ifd], _grey_pixels(width, height)))
    return path


def write_tiff_unsigned_grey_32bit_big_endian(path: Path, width: int = 32, height: int = 24) -> Path:
    """A valid big-endian 32-bit unsigned grey TIFF (GraphicsMagick's test set has one): Pillow
    reads unsigned 32-bit grey little-endian only, and the file was called corrupt."""
    ifd = _grey_strip_ifd(width, height, bits=[32], strip_byte_counts=[4 * width * height])
    path.write_bytes(tiff_bytes([ifd], bytes(4 * width * height), order=">"))
    return path


def write_tiff_zero_rows_per_strip(path: Path) -> Path:
    path.write_bytes(tiff_bytes([_grey_strip_ifd(64, 48, rows_per_strip=[0])], _grey_pixels(64, 48)))
    return path


def write_tiff_missing_strip_tags(path: Path) -> Path:
    ifd = _grey_strip_ifd(64, 48, strip_offsets=None, strip_byte_counts=None, rows_per_strip=None)
    path.write_bytes(tiff_bytes([ifd], _grey_pixels(64, 48)))
    return path


def write_tiff_zero_tile_size(path: Path) -> Path:
    ifd = _grey_strip_ifd(64, 48, strip_offsets=None, strip_byte_counts=None, rows_per_strip=None)
    ifd += [(322, _LONG, [0]), (323, _LONG, [0]), (324, _LONG, [8]), (325, _LONG, [64 * 48])]
    path.write_bytes(tiff_bytes([ifd], _grey_pixels(64, 48)))
    return path


def write_tiff_missing_dimensions(path: Path) -> Path:
    path.write_bytes(tiff_bytes([_grey_strip_ifd(64, 48, width=None, height=None)], _grey_pixels(64, 48)))
    return path


def write_tiff_broken_second_page(path: Path) -> Path:
    """Page 1 is fine, page 2 has no size: counting pages raised TypeError outside any handler."""
    ifds = [_grey_strip_ifd(64, 48), _grey_strip_ifd(64, 48, width=None, height=None)]
    path.write_bytes(tiff_bytes(ifds, _grey_pixels(64, 48)))
    return path


def write_tiff_ifd_loop(path: Path) -> Path:
    ifds = [_grey_strip_ifd(64, 48), _grey_strip_ifd(64, 48)]
    path.write_bytes(tiff_bytes(ifds, _grey_pixels(64, 48), chain_to=0))
    return path


def write_tiff_many_pages(path: Path, pages: int = 100_000) -> Path:
    """`pages` IFDs sharing one strip: 100,000 pages are ~12 MB, and counting them cost a minute."""
    one = tiff_bytes([_grey_strip_ifd(16, 16)], _grey_pixels(16, 16))
    ifd = one[8 + 256 :]  # the IFD as written after the 256 pixel bytes; its 'next' is patched below
    n_entries = struct.unpack_from("<H", ifd)[0]
    next_at = 2 + 12 * n_entries
    out = bytearray(one[: 8 + 256])
    for page in range(pages):
        start = len(out)
        block = bytearray(ifd)
        nxt = start + len(block) if page < pages - 1 else 0
        struct.pack_into("<I", block, next_at, nxt)
        out += block
    path.write_bytes(bytes(out))
    return path


def write_float_tiff_with_inf(path: Path) -> Path:
    ramp = np.linspace(0.0, 1.0, 64 * 48, dtype=np.float32).reshape(48, 64)
    ramp[0, 0] = np.inf
    ramp[1, 1] = np.nan
    Image.fromarray(ramp, "F").save(path, "TIFF")
    return path


def write_int32_tiff(path: Path) -> Path:
    ramp = np.linspace(0, 2_000_000, 64 * 48).astype(np.int32).reshape(48, 64)
    Image.fromarray(ramp, "I").save(path, "TIFF")
    return path


# --- PNG ------------------------------------------------------------------------------------------


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def write_png_bomb_with_trailing_exif(path: Path, side: int = 30_000) -> Path:
    """A real deflate stream of side² 1-bit pixels (~110 KB for 30,000²: 900 MP) with EXIF after it.

    Reading the EXIF orientation of such a PNG decoded the whole image first (≥ 900 MB).
    """
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    exif = Image.Exif()
    exif[0x0112] = 6
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    body = _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
    body += _png_chunk(b"eXIf", exif.tobytes()) + _png_chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def write_icon_claiming_huge_png(path: Path, icns: bool = False) -> Path:
    """An ICO (or ICNS) holding a tiny PNG whose header claims 30,000 × 30,000: Pillow decodes an
    icon's PNG while opening the file, and took a worker to 1.2 GB on such 130 bytes."""
    pixels = zlib.compress(b"\x00" * 8)
    png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 30_000, 30_000, 8, 6, 0, 0, 0))
    png += _png_chunk(b"IDAT", pixels) + _png_chunk(b"IEND", b"")
    if icns:
        element = b"ic10" + struct.pack(">I", 8 + len(png)) + png
        path.write_bytes(b"icns" + struct.pack(">I", 8 + len(element)) + element)
    else:
        entry = struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png), 6 + 16)
        path.write_bytes(struct.pack("<HHH", 0, 1, 1) + entry + png)
    return path


def write_png_corrupt_data(path: Path, animated: bool = False) -> Path:
    """A PNG (or APNG) whose first image's data is damaged half-way, with EXIF after the pixels.

    Reading that EXIF decoded the image, inside an error handler that swallowed the damage: the
    file was then indexed from its partial pixels.
    """
    frames = [builders.scene(seed) for seed in (1, 2)]
    buffer = io.BytesIO()
    if animated:
        frames[0].save(buffer, "PNG", save_all=True, append_images=frames[1:])
    else:
        frames[0].save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    at = data.index(b"IDAT") + 4
    length = struct.unpack(">I", data[at - 8 : at - 4])[0]
    for i in range(at + length // 2, at + length // 2 + 64):
        data[i] ^= 0x5A
    exif = Image.Exif()
    exif[0x0112] = 1
    iend = data.rindex(b"IEND") - 4
    data[iend:iend] = _png_chunk(b"eXIf", exif.tobytes())
    path.write_bytes(bytes(data))
    return path


def write_palette_png_without_palette(path: Path) -> Path:
    """A palette PNG whose PLTE chunk is gone (libspng's crasher): Pillow decoded the indexes as an
    all-black picture, which was indexed; libpng and browsers refuse the file."""
    buffer = io.BytesIO()
    builders.scene(5, (32, 32)).convert("P").save(buffer, "PNG")
    data = buffer.getvalue()
    at = data.index(b"PLTE") - 4
    length = struct.unpack(">I", data[at : at + 4])[0]
    path.write_bytes(data[:at] + data[at + 12 + length :])
    return path


# --- other formats --------------------------------------------------------------------------------


def write_16bit_psd(path: Path, width: int = 8, height: int = 6) -> Path:
    """A valid raw 16-bit RGB Photoshop file, which Pillow's PSD reader (8-bit only) does not open."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 16, 3)
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, image resources, layers: empty
    pixels = struct.pack(">H", 0) + bytes(range(256)) * (3 * width * height * 2 // 256 + 1)
    path.write_bytes(header + sections + pixels[: 2 + 3 * width * height * 2])
    return path


def write_damaged_heif_named_by_compatible_brand(path: Path) -> Path:
    """An ISO media file whose ftyp names HEIF only among its compatible brands (as 15 files of
    libheif's fuzz corpus do), damaged after it: it was called a video."""
    ftyp = b"ftyp" + b"isom" + struct.pack(">I", 0) + b"mif1heic"
    path.write_bytes(struct.pack(">I", 4 + len(ftyp)) + ftyp + b"\x00\x00\x00\x08junk" + bytes(64))
    return path


# --- JPEG -----------------------------------------------------------------------------------------


def _small_jpeg() -> bytes:
    buffer = io.BytesIO()
    builders.scene(3, (16, 16)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def write_jpeg_claiming_huge_size(path: Path, side: int = 65_500) -> Path:
    """A 16×16 JPEG whose frame header says side × side."""
    data = bytearray(_small_jpeg())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, side, side)
    path.write_bytes(bytes(data))
    return path


def write_damaged_arithmetic_jpeg(path: Path) -> Path:
    """A progressive arithmetic-coded frame header (SOF10) followed by a marker no JPEG has: damage,
    not a variant (libjpeg-turbo decodes arithmetic coding), though it was called one."""
    sof = struct.pack(">HBHHB", 11, 8, 16, 16, 1) + bytes([1, 0x11, 0])
    path.write_bytes(b"\xff\xd8\xff\xca" + sof + b"\xff\x80\x00\x04\x00\x00" + bytes(32) + b"\xff\xd9")
    return path


def write_12bit_jpeg(path: Path) -> Path:
    """A valid extended-sequential (SOF1) JPEG with 12-bit samples: an 8-bit Huffman stream is one."""
    buffer = io.BytesIO()
    builders.scene(4, (64, 48)).save(buffer, "JPEG", quality=90)
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 1] = 0xC1
    data[sof + 4] = 12
    path.write_bytes(bytes(data))
    return path


# --- size -----------------------------------------------------------------------------------------


def write_oversized_file(path: Path, size: int) -> Path:
    """A sparse file of `size` bytes that starts like a JPEG: costs no disk, and no reading it."""
    with open(path, "wb") as fh:
        fh.write(_small_jpeg())
        fh.truncate(size)
    return path


# Every named case, for the runner and the parametrised test: name → (builder, file name).
def write_zero_filled(path: Path, fmt: str = "JPEG", size: int = 8 << 20) -> Path:
    """A photo as disk recovery or a preallocating download leaves it: `size` bytes, of which only
    the first 4 KB are the real file's and the rest zeros."""
    buffer = io.BytesIO()
    builders.scene(6, (1024, 768)).save(buffer, fmt, quality=95, lossless=fmt == "WEBP")
    path.write_bytes(buffer.getvalue()[:4096] + bytes(size - 4096))
    return path


NAMED_CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "tiff zero rows per strip": (write_tiff_zero_rows_per_strip, "rows0.tif"),
    "tiff missing strip tags": (write_tiff_missing_strip_tags, "nostrips.tif"),
    "tiff zero tile size": (write_tiff_zero_tile_size, "tile0.tif"),
    "tiff missing dimensions": (write_tiff_missing_dimensions, "nodims.tif"),
    "tiff broken second page": (write_tiff_broken_second_page, "page2.tif"),
    "tiff page loop": (write_tiff_ifd_loop, "loop.tif"),
    "4-bit grey tiff with alpha": (write_tiff_grey_with_alpha_4bit, "grey4alpha.tif"),
    "32-bit unsigned grey tiff, big-endian": (write_tiff_unsigned_grey_32bit_big_endian, "grey32.tif"),
    "png bomb with trailing exif": (write_png_bomb_with_trailing_exif, "bomb.png"),
    "png corrupt data": (write_png_corrupt_data, "corrupt.png"),
    "apng corrupt data": (lambda p: write_png_corrupt_data(p, animated=True), "corrupt.apng"),
    "jpeg claiming 65500x65500": (write_jpeg_claiming_huge_size, "huge.jpg"),
    "12-bit jpeg": (write_12bit_jpeg, "twelve.jpg"),
    "damaged arithmetic jpeg": (write_damaged_arithmetic_jpeg, "arithmetic.jpg"),
    "palette png without its palette": (write_palette_png_without_palette, "noplte.png"),
    "16-bit psd": (write_16bit_psd, "deep.psd"),
    "damaged heif named by a compatible brand": (write_damaged_heif_named_by_compatible_brand, "broken.heic"),
    "ico with a png claiming 30000x30000": (write_icon_claiming_huge_png, "huge.ico"),
    "icns with a png claiming 30000x30000": (
        lambda p: write_icon_claiming_huge_png(p, icns=True),
        "huge.icns",
    ),
    "jpeg filled up with zeros": (write_zero_filled, "recovered.jpg"),
    "lossless webp filled up with zeros": (lambda p: write_zero_filled(p, "WEBP"), "recovered.webp"),
}


def sparse_file_supported(folder: Path) -> bool:
    probe = folder / ".sparse-probe"
    try:
        with open(probe, "wb") as fh:
            fh.truncate(1 << 30)
        return os.stat(probe).st_blocks * 512 < 1 << 20
    finally:
        probe.unlink(missing_ok=True)
