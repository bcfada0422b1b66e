"""Files of their full size whose image data is zeros (disk recovery, preallocating downloads): real
files written by their encoders, then damaged as those tools leave them."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from sorter_app.core import formats
from sorter_app.core.errors import ImageError
from sorter_app.core.images import load_image_file
from sorter_app.core.zero_fill import zero_filled
from tests import builders

DAMAGED = r"^damaged: [\d.]+ [KM]B of zeros where image data should be \(as disk recovery or a cut download"


def _encoded(fmt: str, image: Image.Image | None = None, /, **options: Any) -> bytes:
    buffer = io.BytesIO()
    (image or builders.scene(4, (800, 600))).save(buffer, fmt, **options)
    return buffer.getvalue()


def _zero_tail(data: bytes, kept: float) -> bytes:
    """The file's size, its first `kept` share real, the rest zeros."""
    cut = int(len(data) * kept)
    return data[:cut] + bytes(len(data) - cut)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("kept", "options"), [(0.3, {"quality": 95, "subsampling": 0}), (0.9, {"quality": 90})]
)
def test_a_camera_jpeg_filled_up_with_zeros_is_damaged_not_a_flat_picture(
    tmp_path: Path, kept: float, options: dict[str, object]
) -> None:
    """Pillow writes the standard Huffman tables, as cameras and phones do: zero bits are valid codes
    there, so libjpeg decoded the zeros of a detailed photo saved finely (the first case) as flat
    rows without a complaint, and the file was indexed as a picture; a coarser one ran out of data
    and was refused as "truncated"."""
    data = _encoded("JPEG", builders.scene(4, (512, 512)), **options)
    with pytest.raises(ImageError, match=DAMAGED):
        load_image_file(_write(tmp_path, "IMG_0001.jpg", _zero_tail(data, kept)), min_side=224)


def test_a_jpeg_with_a_block_of_zeros_inside_its_image_data_is_damaged(tmp_path: Path) -> None:
    data = bytearray(_encoded("JPEG", quality=90))
    middle = len(data) // 2
    data[middle : middle + 4096] = bytes(4096)
    with pytest.raises(ImageError, match=DAMAGED):
        load_image_file(_write(tmp_path, "IMG_0002.jpg", bytes(data)), min_side=224)


@pytest.mark.parametrize("options", [{"quality": 90}, {"quality": 90, "progressive": True}])
def test_a_jpeg_of_which_only_the_header_was_written_is_damaged_at_once(
    tmp_path: Path, options: dict[str, object]
) -> None:
    """Only the first blocks of a sparse or preallocated download written: the header, then zeros
    where its next segment and the scan should be. Pillow's header parser read it a byte at a time
    looking for a marker (3.7 s of CPU for 50 MB; a 400-MB one ran into the decode deadline), then
    "cannot load this image". Now it is judged before it is opened."""
    data = _encoded("JPEG", **options)
    path = _write(tmp_path, "IMG_0003.jpg", data[: data.index(b"\xff\xda")])
    with path.open("r+b") as fh:
        fh.truncate(50_000_000)
    with pytest.raises(ImageError, match=DAMAGED):
        load_image_file(path, min_side=224)
    assert load_image_file(_write(tmp_path, "whole.jpg", data + bytes(5000)), min_side=224).width == 800


@pytest.mark.parametrize(
    "options",
    [{"quality": 90}, {"quality": 90, "optimize": True}, {"quality": 95, "progressive": True}],
    ids=["standard tables", "optimised tables", "progressive"],
)
def test_flat_pictures_and_zeros_after_the_image_are_not_damage(
    tmp_path: Path, options: dict[str, object]
) -> None:
    """A white page or a clear sky: with optimised tables it may be coded as zero bytes, which is
    valid data; and some cameras pad the file with zeros after its end-of-image marker."""
    white = Image.new("RGB", (4000, 3000), (255, 255, 255))
    for name, data in (
        ("white.jpg", _encoded("JPEG", white, **options)),
        ("grey.jpg", _encoded("JPEG", white.convert("L").point(lambda _: 128), **options)),
        ("padded.jpg", _encoded("JPEG", **options) + bytes(64_000)),
    ):
        assert load_image_file(_write(tmp_path, name, data), min_side=224).format == "JPEG"


def test_a_real_photo_filled_up_with_zeros_is_damaged(tmp_path: Path, datasets: Path) -> None:
    photo = sorted((datasets / "sun8_scenes").rglob("*.jpg"))[0]
    load_image_file(photo, min_side=224)
    with pytest.raises(ImageError, match=DAMAGED):
        load_image_file(_write(tmp_path, photo.name, _zero_tail(photo.read_bytes(), 0.5)), min_side=224)


@pytest.mark.parametrize("fmt", ["WEBP", "HEIF", "AVIF"])
def test_containers_that_conceal_the_damage_are_refused_when_they_end_in_zeros(
    tmp_path: Path, fmt: str
) -> None:
    """libwebp, libheif and libavif decoded these as smears and magenta blocks."""
    if fmt == "HEIF":
        assert formats.installed(formats.HEIF)
    data = _encoded(fmt, quality=90, lossless=fmt == "WEBP")
    assert load_image_file(_write(tmp_path, f"whole.{fmt.lower()}", data), min_side=224).format == fmt
    padded = _write(tmp_path, f"padded.{fmt.lower()}", data + bytes(1 << 20))  # zeros after its last box
    assert load_image_file(padded, min_side=224).format == fmt  # a whole picture: kept
    for name, damaged in (
        ("cut", _zero_tail(data, 0.3)),
        ("empty", data[:4096] + bytes(4 << 20)),  # its header, then megabytes of zeros
    ):
        with pytest.raises(ImageError, match=DAMAGED):
            load_image_file(_write(tmp_path, f"{name}.{fmt.lower()}", damaged), min_side=224)


def _free_box(size: int) -> bytes:
    return struct.pack(">I4s", size, b"free") + bytes(size - 8)


def test_zeros_that_are_valid_data_or_padding_are_not_damage(tmp_path: Path) -> None:
    """A review's finds: lossy WebP writes kilobytes of zeros for a large black area; a `free` box
    of zeros after an AVIF's boxes is padding the format allows; a HEIC's EXIF, written last, may
    end in a padding tag of zeros."""
    black = _encoded("WEBP", Image.new("RGB", (8000, 6000)), quality=80)
    assert load_image_file(_write(tmp_path, "night.webp", black), min_side=224).format == "WEBP"
    avif = _encoded("AVIF", quality=90) + _free_box(8192)
    assert load_image_file(_write(tmp_path, "padded.avif", avif), min_side=224).format == "AVIF"
    exif = Image.Exif()  # a camera's EXIF ending in Windows' padding tag: pillow-heif writes it last
    exif[0x010F], exif[0x0110], exif[0xEA1C] = "Canon", "EOS R5", bytes(10_000)
    heic = _encoded("HEIF", quality=80, exif=exif.tobytes())
    assert heic.endswith(bytes(4096))
    assert load_image_file(_write(tmp_path, "padded-exif.heic", heic), min_side=224).format == "HEIF"


def test_only_the_first_scan_of_a_jpeg_is_searched() -> None:
    """A JPEG whose colours come in scans of their own (cjpeg -scans) codes a flat colour as zeros
    with the standard chrominance table, which the first (luma) scan's table forbids: a review found
    such valid files refused. Here a second scan of zeros follows a real first one."""
    data = _encoded("JPEG", builders.scene(4, (512, 512)), quality=90)
    second_scan = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x02\x11" + b"\x00\x3f\x00"
    damaged_first = data[:-2]
    cut = len(damaged_first) // 2
    assert zero_filled(io.BytesIO(damaged_first[:cut] + bytes(4096) + b"\xff\xd9"), cut + 4098, "JPEG")
    multiscan = damaged_first + second_scan + bytes(8192) + b"\xff\xd9"
    assert zero_filled(io.BytesIO(multiscan), len(multiscan), "JPEG") is None


def test_a_scan_header_shorter_than_it_says_is_left_to_the_decoder(tmp_path: Path) -> None:
    """A scan header claiming three components in one byte raised IndexError out of the zero-fill
    check (a reading of the change): now the decoder reports the damage, as an ImageError."""
    data = _encoded("JPEG", quality=90)
    scan = data.find(b"\xff\xda")
    damaged = data[:scan] + b"\xff\xda\x00\x03\x03" + data[scan + 14 :]
    assert zero_filled(io.BytesIO(damaged), len(damaged), "JPEG") is None
    with pytest.raises(ImageError, match=r"^truncated or corrupt image"):
        load_image_file(_write(tmp_path, "short-scan.jpg", damaged), min_side=224)
