"""One real file per format people have: each written by its own encoder, or byte by byte."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from sorter_app.core import formats
from tests import builders
from tests.hostile import Entry, tiff_bytes

SIZE = (320, 240)
_SHORT, _LONG, _RATIONAL, _SRATIONAL, _BYTE, _ASCII = 3, 4, 5, 10, 1, 2


def _save(fmt: str, mode: str = "RGB", **options: object) -> Callable[[Path, int], Path]:
    def write(path: Path, seed: int) -> Path:
        builders.scene(seed, SIZE).convert(mode).save(path, fmt, **options)
        return path

    return write


def write_heic(path: Path, seed: int) -> Path:
    assert formats.installed(formats.HEIF)
    builders.scene(seed, SIZE).save(path, "HEIF", quality=90)
    return path


def write_jxl(path: Path, seed: int) -> Path:
    assert formats.installed(formats.JXL)
    builders.scene(seed, SIZE).save(path, "JXL", quality=90)
    return path


def write_mpo(path: Path, seed: int) -> Path:
    frames = [builders.scene(seed, SIZE), builders.scene(seed + 1, SIZE)]
    frames[0].save(path, "MPO", save_all=True, append_images=frames[1:])
    return path


def write_psd(path: Path, seed: int) -> Path:
    """A flat 8-bit RGB Photoshop file: header, empty sections, raw planar channels."""
    pixels = np.asarray(builders.scene(seed, SIZE))
    height, width = pixels.shape[:2]
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    planes = b"".join(pixels[:, :, c].tobytes() for c in range(3))
    path.write_bytes(header + struct.pack(">III", 0, 0, 0) + struct.pack(">H", 0) + planes)
    return path


def write_dng(path: Path, seed: int, *, preview_seed: int | None = None, mono: bool = False) -> Path:
    """A camera-RAW DNG that LibRaw reads: 12-bit Bayer (RGGB) data in one IFD, camera orientation
    6 (turn 90° clockwise), and with `preview_seed`, an embedded JPEG preview of that scene first
    (so a test can tell which of the two was decoded). `mono`: a monochrome camera's, one channel
    of linear data (LinearRaw, no colour filter)."""
    width, height = SIZE
    rgb = np.asarray(builders.scene(seed, SIZE), dtype=np.uint16)
    cfa = np.empty((height, width), np.uint16)
    cfa[0::2, 0::2], cfa[0::2, 1::2] = rgb[0::2, 0::2, 0], rgb[0::2, 1::2, 1]
    cfa[1::2, 0::2], cfa[1::2, 1::2] = rgb[1::2, 0::2, 1], rgb[1::2, 1::2, 2]
    if mono:
        cfa = rgb.sum(axis=2, dtype=np.uint16) // 3
    raw = (cfa * 16).astype("<u2").tobytes()
    identity = [1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1]
    camera: list[Entry] = [
        (271, _ASCII, b"Test\x00"),
        (272, _ASCII, b"Synthetic\x00"),
        (274, _SHORT, [6]),
        (50706, _BYTE, bytes([1, 4, 0, 0])),
        (50708, _ASCII, b"Test Synthetic\x00"),
        (50721, _SRATIONAL, identity),
        (50778, _SHORT, [21]),
        (50728, _RATIONAL, [1, 1, 1, 1, 1, 1]),
    ]
    sensor: list[Entry] = [
        (254, _LONG, [0]),
        (256, _LONG, [width]),
        (257, _LONG, [height]),
        (258, _SHORT, [16]),
        (259, _SHORT, [1]),
        (262, _SHORT, [32803]),
        (273, _LONG, [8]),
        (277, _SHORT, [1]),
        (278, _LONG, [height]),
        (279, _LONG, [len(raw)]),
        (33421, _SHORT, [2, 2]),
        (33422, _BYTE, bytes([0, 1, 1, 2])),
        (50717, _LONG, [4095]),
    ]
    if mono:
        sensor = [(262, _SHORT, [34892]) if tag == 262 else (tag, kind, value) for tag, kind, value in sensor]
        sensor = [entry for entry in sensor if entry[0] not in (33421, 33422)]
    if preview_seed is None:
        path.write_bytes(tiff_bytes([sensor + camera], raw))
        return path
    buffer = io.BytesIO()
    builders.scene(preview_seed, SIZE).save(buffer, "JPEG", quality=90)
    jpeg = buffer.getvalue()
    preview: list[Entry] = [
        (254, _LONG, [1]),
        (256, _LONG, [width]),
        (257, _LONG, [height]),
        (258, _SHORT, [8, 8, 8]),
        (259, _SHORT, [7]),
        (262, _SHORT, [6]),
        (273, _LONG, [8 + len(raw)]),
        (277, _SHORT, [3]),
        (278, _LONG, [height]),
        (279, _LONG, [len(jpeg)]),
    ]
    path.write_bytes(tiff_bytes([preview + camera, sensor], raw + jpeg))
    return path


# extension → writer. Every format formats.IMAGE_EXTENSIONS promises, one file each.
WRITERS: dict[str, Callable[[Path, int], Path]] = {
    ".jpg": _save("JPEG", quality=90),
    ".png": _save("PNG"),
    ".gif": _save("GIF"),
    ".bmp": _save("BMP"),
    ".tif": _save("TIFF"),
    ".webp": _save("WEBP", quality=90),
    ".avif": _save("AVIF", quality=90),
    ".heic": write_heic,
    ".jxl": write_jxl,
    ".mpo": write_mpo,
    ".jp2": _save("JPEG2000"),
    ".tga": _save("TGA"),
    ".ppm": _save("PPM"),
    ".pgm": _save("PPM", "L"),
    ".pbm": _save("PPM", "1"),
    ".ico": lambda path, seed: _save("ICO", sizes=[(240, 240)])(path, seed),
    ".psd": write_psd,
    ".pcx": _save("PCX"),
    ".qoi": _save("QOI"),
    ".sgi": _save("SGI"),
    ".dng": write_dng,
}


def as_bytes(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()
