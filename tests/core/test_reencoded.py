"""reencoded.py on files that are not what a re-save test needs: it answers None, never raises."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from sorter_app.core import reencoded
from tests import builders


def _jpeg(path: Path, quality: int = 80, mode: str = "RGB") -> Path:
    builders.scene(5, (160, 120)).convert(mode).save(path, "JPEG", quality=quality)
    return path


def test_a_jpeg_reads_as_its_luminance_and_table(tmp_path: Path) -> None:
    found = reencoded.read_quantised(_jpeg(tmp_path / "a.jpg"), (160, 120))
    assert found is not None and found.luma.shape == (120, 160) and found.steps.shape == (64,)
    # Its own coefficients sit on its own lattice (the table is in natural order, as the DCT is).
    coefficients = reencoded.dct_blocks(found.luma) / found.steps
    assert np.mean(np.abs(coefficients - np.round(coefficients))) < 0.05
    grey = reencoded.read_quantised(_jpeg(tmp_path / "g.jpg", mode="L"), (160, 120))
    assert grey is not None and grey.luma.shape == (120, 160)
    # EXIF rotation swaps the sizes the catalog holds; the stored pixels are what is compared.
    assert reencoded.read_quantised(tmp_path / "a.jpg", (120, 160)) is not None


def test_what_cannot_be_compared_is_none(tmp_path: Path) -> None:
    builders.scene(5, (160, 120)).save(tmp_path / "p.png")
    _jpeg(tmp_path / "cmyk.jpg", mode="CMYK")
    data = _jpeg(tmp_path / "whole.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    (tmp_path / "header.jpg").write_bytes(data[:20])
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert reencoded.read_quantised(tmp_path / "p.png", (160, 120)) is None
    assert reencoded.luminance_steps(tmp_path / "p.png", (160, 120)) is None
    assert reencoded.read_quantised(tmp_path / "cmyk.jpg", (160, 120)) is None
    assert reencoded.read_quantised(tmp_path / "whole.jpg", (80, 60)) is None  # changed since indexed
    assert reencoded.read_quantised(tmp_path / "missing.jpg", (160, 120)) is None
    for name in ("header.jpg", "empty.jpg"):
        assert reencoded.luminance_steps(tmp_path / name, (160, 120)) is None
        assert reencoded.read_quantised(tmp_path / name, (160, 120)) is None
    # A truncated file: no exception, whatever Pillow makes of it.
    cut = reencoded.read_quantised(tmp_path / "cut.jpg", (160, 120))
    assert cut is None or cut.luma.shape == (120, 160)


def test_too_small_to_tell_is_not_a_re_save(tmp_path: Path) -> None:
    """A 16 × 16 picture has too few coefficients to tell by: never a verdict."""
    builders.scene(5, (16, 16)).save(tmp_path / "a.jpg", "JPEG", quality=60)
    with Image.open(tmp_path / "a.jpg") as img:
        img.save(tmp_path / "b.jpg", "JPEG", quality=98)
    finer = reencoded.read_quantised(tmp_path / "b.jpg", (16, 16))
    coarser = reencoded.read_quantised(tmp_path / "a.jpg", (16, 16))
    assert finer is not None and coarser is not None
    assert reencoded.lattice_score(finer, coarser) is None
    assert not reencoded.resaved_from(finer, coarser)
