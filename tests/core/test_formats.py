"""Formats people have (issue #12, item 9): each decodes, or is listed with the reason it cannot be."""

from __future__ import annotations

import dataclasses
import os
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sorter_app.core import formats
from sorter_app.core.catalog import Catalog
from sorter_app.core.embedder import Embedder
from sorter_app.core.errors import ImageError
from sorter_app.core.images import load_image_file
from sorter_app.core.indexer import index_folder
from sorter_app.core.layout import layout_signature, layout_similarity
from tests import builders
from tests.format_builders import WRITERS, write_dng, write_heic


def _likeness(image: object, seed: int, turn: int = 0) -> float:
    reference = builders.scene(seed).rotate(turn, expand=True)
    return layout_similarity(layout_signature(image), layout_signature(reference))  # type: ignore[arg-type]


@pytest.mark.parametrize("ext", sorted(WRITERS))
def test_every_promised_format_decodes(tmp_path: Path, ext: str) -> None:
    assert ext in formats.IMAGE_EXTENSIONS
    path = WRITERS[ext](tmp_path / f"photo{ext}", 5)
    loaded = load_image_file(path, min_side=224)
    assert loaded.image.mode == "RGB"
    if ext == ".dng":  # the camera said "turn 90° clockwise"; LibRaw's colour pipeline is its own
        assert (loaded.width, loaded.height) == (240, 320)
        assert _likeness(loaded.image, 5, -90) > max(_likeness(loaded.image, s, -90) for s in (6, 7, 8))
    else:
        assert _likeness(loaded.image, 5) > 0.95


def test_raw_preview_is_used_when_big_enough_and_turned_as_the_camera_says(tmp_path: Path) -> None:
    path = write_dng(tmp_path / "camera.dng", 5, preview_seed=9)
    loaded = load_image_file(path, min_side=224)
    assert (loaded.format, loaded.width, loaded.height) == ("RAW", 240, 320)
    assert _likeness(loaded.image, 9, -90) > 0.98  # the preview's scene, not the sensor's


def test_a_monochrome_camera_raw_is_read_as_grey(tmp_path: Path) -> None:
    """LibRaw gives a monochrome camera's pixels as one channel, [H, W, 1]: it was refused as
    "truncated or corrupt RAW file: Cannot handle this data type: (1, 1, 1), |u1" (a fuzz round)."""
    path = write_dng(tmp_path / "mono.dng", 5, mono=True)
    loaded = load_image_file(path, min_side=224)
    assert (loaded.format, loaded.width, loaded.height, loaded.image.mode) == ("RAW", 240, 320, "RGB")
    pixels = np.asarray(loaded.image, np.int16)
    assert np.array_equal(pixels[..., 0], pixels[..., 1]) and pixels.std() > 10  # grey, not blank


def _set_dng_tags(path: Path, values: dict[int, int]) -> bytearray:
    """The DNG at `path` with these one-value tags of its (only) directory set, written back."""
    data = bytearray(path.read_bytes())
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
        tag, kind = struct.unpack_from("<HH", data, entry)
        if tag in values:
            struct.pack_into("<H" if kind == 3 else "<I", data, entry + 8, values[tag])
    path.write_bytes(bytes(data))
    return data


def test_a_raw_whose_data_lies_past_its_end_says_so_not_input_output_error(tmp_path: Path) -> None:
    """LibRaw's "Input/output error" read like a failing disk (a fuzz round)."""
    path = write_dng(tmp_path / "cut.dng", 3)
    _set_dng_tags(path, {273: path.stat().st_size + 10_000})  # StripOffsets: past the end
    with pytest.raises(ImageError) as caught:
        load_image_file(path, min_side=224)
    assert (
        str(caught.value) == "truncated or corrupt RAW file: its data ends early or points outside the file"
    )


def test_a_raw_cut_short_before_its_directory_says_so_not_an_unknown_camera(tmp_path: Path) -> None:
    """A DNG with its directory at the end, cut at 90 %, was "not a RAW file this version of LibRaw
    can read", which reads as a camera too new for the app (a fuzz round)."""
    path = write_dng(tmp_path / "cut.dng", 3)
    data = path.read_bytes()
    assert struct.unpack_from("<I", data, 4)[0] > len(data) * 0.9  # the directory is at the end
    path.write_bytes(data[: int(len(data) * 0.9)])
    with pytest.raises(ImageError) as caught:
        load_image_file(path, min_side=224)
    assert (
        str(caught.value) == "truncated or corrupt RAW file: it ends before the directory that describes it"
    )


def test_a_raw_header_claiming_more_pixels_than_its_file_can_hold_is_refused(tmp_path: Path) -> None:
    """A lossless-JPEG strip of 3,000 random bytes under a header saying 10000 × 10000 was decoded by
    LibRaw, without a complaint, as a 100-MP picture of noise and indexed (a fuzz round)."""
    path = write_dng(tmp_path / "forged.dng", 3)
    # Width, height, Compression = 7 (lossless JPEG), StripByteCounts; then the strip is garbage.
    data = _set_dng_tags(path, {256: 10_000, 257: 10_000, 259: 7, 279: 3_000})
    data[8 : 8 + 3_000] = np.random.default_rng(0).integers(0, 256, 3_000, np.uint8).tobytes()
    path.write_bytes(bytes(data))
    with pytest.raises(ImageError, match=r"the header claims 10000×10000 but the file holds only"):
        load_image_file(path, min_side=224)


def test_a_huge_progressive_jpeg_is_refused_before_it_is_decoded(tmp_path: Path) -> None:
    """libjpeg keeps a progressive JPEG's coefficients at full size whatever the draft scale: a
    valid 20000 × 20000 one took 2.3 GB and failed as "broken data stream". Now refused from its
    header with the reason; a baseline one of the same size is decoded reduced."""
    flat = Image.new("RGB", (12000, 11000), (90, 140, 200))
    flat.save(tmp_path / "progressive.jpg", "JPEG", quality=60, progressive=True)
    flat.save(tmp_path / "baseline.jpg", "JPEG", quality=60)
    with pytest.raises(
        ImageError, match=r"^progressive JPEG too large to decode safely \(12000×11000 = 132 MP"
    ):
        load_image_file(tmp_path / "progressive.jpg", min_side=224)
    assert load_image_file(tmp_path / "baseline.jpg", min_side=224).width == 12000


def test_heic_named_jpg_is_read_by_its_content(tmp_path: Path) -> None:
    path = write_heic(tmp_path / "IMG_0001.heic", 3).rename(tmp_path / "IMG_0001.jpg")
    assert load_image_file(path, min_side=224).format == "HEIF"


@pytest.mark.parametrize("name", ["IMG_0002.jpg", "IMG_0002.tif"])
def test_dng_under_another_name_is_read_as_raw(tmp_path: Path, name: str) -> None:
    """A DNG is a TIFF that Pillow cannot read: under a name that is not a RAW one it was refused
    as "corrupt TIFF file: its header could not be read" (a fuzz round); its DNGVersion tag now
    sends it to LibRaw."""
    path = write_dng(tmp_path / "IMG_0002.dng", 5).rename(tmp_path / name)
    loaded = load_image_file(path, min_side=224)
    assert (loaded.format, loaded.width, loaded.height) == ("RAW", 240, 320)
    assert _likeness(loaded.image, 5, -90) > max(_likeness(loaded.image, s, -90) for s in (6, 7, 8))


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[formats.Support]]:
    """Pretend some optional format packages are not installed (in this process only)."""
    missing: set[formats.Support] = set()
    real = formats.installed

    def installed(support: formats.Support) -> bool:
        return support not in missing and real(support)

    monkeypatch.setattr(formats, "installed", installed)
    yield missing


def test_missing_support_is_a_reason_not_silence(tmp_path: Path, without: set[formats.Support]) -> None:
    heic = write_heic(tmp_path / "a.heic", 1)
    disguised = shutil.copy(heic, tmp_path / "b.jpg")
    dng = write_dng(tmp_path / "c.dng", 2)
    without |= {formats.HEIF, formats.RAW}
    for path, support in ((heic, formats.HEIF), (Path(disguised), formats.HEIF), (dng, formats.RAW)):
        with pytest.raises(ImageError) as caught:
            load_image_file(path, min_side=224)
        assert str(caught.value) == support.missing_reason
    assert formats.HEIF.missing_reason == "HEIC/HEIF support not installed (the pillow-heif package)"


def test_skips_are_remembered_and_only_a_missing_support_is_retried(
    tmp_path: Path, embedder: Embedder
) -> None:
    """An unchanged file is not read again, usable or not; a skip for want of a package is retried
    once the package is there (here: the row says HEIC support was missing, and it is installed)."""
    folder = tmp_path / "photos"
    builders.write_jpeg(folder / "good.jpg", 1)
    write_heic(folder / "phone.heic", 2)
    builders.write_truncated_jpeg(folder / "cut.jpg")
    with Catalog(tmp_path / "data" / "catalog.sqlite") as catalog:
        first = index_folder(folder, catalog, embedder, tmp_path / "data" / "indexes")
        assert (first.indexed, [p.relpath for p in first.skipped]) == (2, ["cut.jpg"])
        root_id = catalog.root_id(folder.resolve())
        assert root_id is not None
        rows = catalog.file_rows(root_id)
        stale = {"good.jpg": "truncated or corrupt image: made up", "phone.heic": formats.HEIF.missing_reason}
        with catalog.transaction():
            catalog.upsert_files(root_id, [dataclasses.replace(rows[p], error=e) for p, e in stale.items()])
        again = index_folder(folder, catalog, embedder, tmp_path / "data" / "indexes")
        reasons = {p.relpath: p.reason for p in again.skipped}
        assert reasons == {"cut.jpg": rows["cut.jpg"].error, "good.jpg": stale["good.jpg"]}  # not re-read
        assert again.reused == 1  # phone.heic: retried, its content known, no decode needed
        os.utime(folder / "good.jpg", ns=(1, 1_000_000_000))  # a changed file is read again
        changed = index_folder(folder, catalog, embedder, tmp_path / "data" / "indexes")
        assert [p.relpath for p in changed.skipped] == ["cut.jpg"]


def test_a_folder_of_every_format_indexes_without_a_skip(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    for seed, (ext, write) in enumerate(sorted(WRITERS.items())):
        write(folder / f"photo{ext}", seed)
    with Catalog(tmp_path / "data" / "catalog.sqlite") as catalog:
        report = index_folder(folder, catalog, embedder, tmp_path / "data" / "indexes")
    assert report.skipped == []
    assert report.indexed == len(WRITERS)


def test_heic_orientation_is_applied_once(tmp_path: Path) -> None:
    """pillow-heif applies the turn itself and clears the EXIF orientation: not turned twice."""
    assert formats.installed(formats.HEIF)
    source = builders.write_exif_rotated_jpeg(tmp_path / "rotated.jpg", orientation=6)
    with Image.open(source) as img:
        img.save(tmp_path / "rotated.heic", "HEIF", exif=img.info["exif"], quality=90)
    loaded = load_image_file(tmp_path / "rotated.heic", min_side=100)
    assert (loaded.width, loaded.height) == loaded.image.size == (200, 300)
    top = loaded.image.getpixel((100, 10))
    assert isinstance(top, tuple) and top[0] > 200 and top[2] < 60  # red on top, as the camera meant
