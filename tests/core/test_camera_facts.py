"""The camera's EXIF as the detail pane shows it: real files written by Pillow, damaged EXIF too."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from sorter_app.core.camera_facts import camera_facts, camera_name
from tests import builders


def test_a_camera_jpeg_says_when_with_what_and_how(tmp_path: Path) -> None:
    photo = builders.write_camera_jpeg(tmp_path / "IMG_0001.jpg")
    assert camera_facts(photo) == {
        "Taken": "2019-07-14 18:03",
        "Camera": "Canon EOS 80D",
        "Lens": "EF-S18-135mm f/3.5-5.6 IS USM",
        "Exposure": "f/2.8 · 1/125 s · ISO 200 · 35 mm",
    }


@pytest.mark.parametrize(
    ("make", "model", "shown"),
    [
        ("Canon", "Canon EOS 5D Mark II", "Canon EOS 5D Mark II"),  # the make is not said twice
        ("NIKON CORPORATION", "NIKON D750", "NIKON D750"),
        ("Apple", "iPhone 12", "Apple iPhone 12"),
        ("", "iPhone 12", "iPhone 12"),
        ("Apple\x00\x00", "", "Apple"),
        ("", "", None),
    ],
)
def test_camera_name(make: str, model: str, shown: str | None) -> None:
    assert camera_name({0x010F: make, 0x0110: model}) == shown


def _jpeg_with(tmp_path: Path, **details: object) -> Path:
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    tags = {"taken": 0x9003, "shutter": 0x829A, "aperture": 0x829D, "iso": 0x8827, "focal": 0x920A}
    for name, value in details.items():
        ifd[tags[name]] = value
    path = tmp_path / "x.jpg"
    builders.scene(1, (64, 48)).save(path, "JPEG", exif=exif.tobytes())
    return path


@pytest.mark.parametrize(
    ("details", "facts"),
    [
        ({"shutter": IFDRational(2, 1), "iso": 3200}, {"Exposure": "2 s · ISO 3200"}),
        ({"aperture": IFDRational(56, 10), "focal": IFDRational(3620, 1)}, {"Exposure": "f/5.6 · 3620 mm"}),
        ({"shutter": IFDRational(1, 3), "focal": IFDRational(425, 100)}, {"Exposure": "1/3 s · 4.25 mm"}),
        ({"shutter": IFDRational(2, 5)}, {"Exposure": "0.4 s"}),  # not "1/2 s" (round(2.5) is 2)
        ({"aperture": IFDRational(0, 0), "shutter": IFDRational(0, 0)}, {}),  # 0/0: unknown, not f/nan
        ({"aperture": "f/2.8", "iso": "lots"}, {}),  # the wrong types
        ({"aperture": IFDRational(10**6, 1), "iso": -5}, {}),  # no lens has f/1000000
        ({"taken": "0000:00:00 00:00:00"}, {}),  # a camera whose clock was never set
        ({"taken": "    :  :     :  :  "}, {}),
        ({"taken": "2019:07:14"}, {}),  # no time: malformed
    ],
)
def test_damaged_or_odd_exif_gives_fewer_facts_never_an_error(
    tmp_path: Path, details: dict[str, object], facts: dict[str, str]
) -> None:
    assert camera_facts(_jpeg_with(tmp_path, **details)) == facts


def test_long_text_is_cut_to_a_line_and_files_without_exif_have_no_facts(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0110] = "X" * 5000 + "\nsecond line"
    long = tmp_path / "long.jpg"
    builders.scene(1, (64, 48)).save(long, "JPEG", exif=exif.tobytes())
    camera = camera_facts(long)["Camera"]
    assert len(camera) == 80 and camera.endswith("…") and "\n" not in camera
    assert camera_facts(builders.write_jpeg(tmp_path / "plain.jpg", 1)) == {}
    assert camera_facts(builders.write_not_an_image(tmp_path / "notes.jpg")) == {}
    assert camera_facts(builders.write_truncated_jpeg(tmp_path / "cut.jpg")) == {}
    assert camera_facts(tmp_path / "gone.jpg") == {}
