"""Every hostile case of issue #12 by name: none stops a run, each gets a true one-line reason.

The cases are built byte by byte in tests/hostile.py. The last test indexes all of them at once in
a child process (tests/index_child.py), as `sorter index` would, and bounds its memory and time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from sorter_app.core.errors import ImageError
from sorter_app.core.images import MAX_FILE_BYTES, load_image_file
from tests import builders, hostile, index_child

# name → what must come of it: a reason containing these words, or None for "decoded".
EXPECTED: dict[str, str | None] = {
    "tiff zero rows per strip": "truncated or corrupt",
    "tiff missing strip tags": "corrupt TIFF",
    "tiff zero tile size": "truncated or corrupt",
    "tiff missing dimensions": "corrupt TIFF",
    "tiff broken second page": None,  # its first page is fine: counting pages raised TypeError
    "tiff page loop": None,
    "4-bit grey tiff with alpha": "unsupported TIFF variant (4-bit grey with alpha)",
    "32-bit unsigned grey tiff, big-endian": "unsupported TIFF variant (32-bit grey)",
    "png bomb with trailing exif": "possible decompression bomb",
    "png corrupt data": "truncated or corrupt",
    "apng corrupt data": "truncated or corrupt",
    "jpeg claiming 65500x65500": "the header claims 65500×65500",
    "12-bit jpeg": "12-bit JPEGs cannot be decoded here",
    "damaged arithmetic jpeg": "corrupt JPEG file",
    "palette png without its palette": "corrupt PNG: a palette image without its palette",
    "16-bit psd": "unsupported Photoshop variant (16-bit RGB): only 8-bit PSD files are read here",
    "damaged heif named by a compatible brand": "corrupt HEIF or AVIF file",
    "ico with a png claiming 30000x30000": "the header claims 30000×30000",
    "icns with a png claiming 30000x30000": "the header claims 30000×30000",
    "jpeg filled up with zeros": "damaged: 8.4 MB of zeros where image data should be",
    "lossless webp filled up with zeros": "damaged: 8.4 MB of zeros where image data should be",
}


def test_every_named_case_is_expected() -> None:
    assert set(EXPECTED) == set(hostile.NAMED_CASES)


@pytest.mark.parametrize("name", sorted(hostile.NAMED_CASES))
def test_named_case(tmp_path: Path, name: str) -> None:
    build, file_name = hostile.NAMED_CASES[name]
    path = build(tmp_path / file_name)
    expected = EXPECTED[name]
    if expected is None:
        loaded = load_image_file(path, min_side=224)
        assert loaded.image.mode == "RGB" and loaded.frames == 2
        return
    with pytest.raises(ImageError) as caught:
        load_image_file(path, min_side=224)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_float_tiff_with_inf_keeps_its_picture(tmp_path: Path) -> None:
    pixels = np.asarray(load_image_file(hostile.write_float_tiff_with_inf(tmp_path / "f.tif")).image)
    assert pixels[:, :, 0].mean() == pytest.approx(127.5, abs=3)  # the [0, 1] ramp, not black
    assert pixels[0, 0, 0] == 255 and pixels[1, 1, 0] == 0  # +inf white, NaN black


def test_int32_tiff_is_scaled_not_saturated(tmp_path: Path) -> None:
    pixels = np.asarray(load_image_file(hostile.write_int32_tiff(tmp_path / "i.tif")).image)
    assert pixels.min() == 0 and pixels.max() == 255
    assert pixels.mean() == pytest.approx(127.5, abs=3)


def test_a_100000_page_tiff_is_not_walked(tmp_path: Path) -> None:
    loaded = load_image_file(hostile.write_tiff_many_pages(tmp_path / "pages.tif"), min_side=16)
    assert (loaded.width, loaded.height, loaded.frames) == (16, 16, 2)


def test_a_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    if not hostile.sparse_file_supported(tmp_path):
        pytest.skip("this file system has no sparse files")
    path = hostile.write_oversized_file(tmp_path / "huge.jpg", MAX_FILE_BYTES + 1)
    with pytest.raises(ImageError, match="file too large"):
        load_image_file(path)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak memory is read from /proc")
def test_one_run_over_every_case_finishes_within_bounds(tmp_path: Path) -> None:
    """Indexing all the cases at once: no exception, every file used or listed, small and quick."""
    folder = tmp_path / "hostile"
    folder.mkdir()
    for build, file_name in hostile.NAMED_CASES.values():
        build(folder / file_name)
    hostile.write_tiff_many_pages(folder / "pages.tif")
    hostile.write_float_tiff_with_inf(folder / "float.tif")
    hostile.write_int32_tiff(folder / "int32.tif")
    builders.write_png_bomb(folder / "bomb60000.png")
    if hostile.sparse_file_supported(tmp_path):
        hostile.write_oversized_file(folder / "two-gigabytes.jpg", 2 * 1024**3)
    for seed in range(3):
        builders.write_jpeg(folder / f"good{seed}.jpg", seed)
    names = sorted(p.name for p in folder.iterdir())
    result = index_child.run(folder, tmp_path)
    decoded = {"page2.tif", "loop.tif", "pages.tif", "float.tif", "int32.tif", "good0.jpg", "good1.jpg",
               "good2.jpg"}  # fmt: skip
    assert result["indexed"] == len(decoded)
    assert sorted(result["skipped"]) == sorted(set(names) - decoded)
    assert all(reason and "\n" not in reason for reason in result["skipped"].values())
    assert sorted(result["seconds"]) == names
    # Before: the 900-MP PNG cost 900 MB and the 2-GB file 2.2 GB, the 100,000 pages a minute.
    assert result["peak_worker_mb"] < 400
    assert result["maxrss_mb"] < 1000  # the model runtime and the catalog live here
    slowest = max(result["seconds"], key=result["seconds"].get)
    assert result["seconds"][slowest] < 5, slowest
