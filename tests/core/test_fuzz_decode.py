"""Fuzzing the decode path with damaged real files: the run always finishes, within bounds.

Real encoders (Pillow, pillow-heif) write a JPEG, PNG, TIFF, WebP, GIF and HEIC; each is then
truncated, bit-flipped and overwritten in seeded random ways, and the whole folder is indexed in a
child process (tests/index_child.py, as `sorter index` runs), which must exit 0 with every file
either indexed or listed with a one-line reason, its decode workers' memory bounded and no file
taking more than a few seconds.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sorter_app.core import formats
from tests import builders, index_child

VARIANTS_PER_FORMAT = 50


def _originals() -> dict[str, bytes]:
    scene = builders.scene(11, (640, 480))
    exif = Image.Exif()
    exif[0x0112] = 6

    def encoded(fmt: str, image: Image.Image = scene, **options: object) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        return buffer.getvalue()

    frames = [builders.scene(s, (320, 240)).convert("P", palette=Image.Palette.ADAPTIVE) for s in (1, 2, 3)]
    assert formats.installed(formats.HEIF)
    return {
        ".jpg": encoded("JPEG", quality=85, progressive=True, exif=exif.tobytes()),
        ".png": encoded("PNG", scene.convert("RGBA")),
        ".tif": encoded("TIFF", compression="tiff_lzw", save_all=True, append_images=[builders.scene(12)]),
        ".webp": encoded("WEBP", quality=80),
        ".gif": encoded("GIF", frames[0], save_all=True, append_images=frames[1:], loop=0),
        ".heic": encoded("HEIF", quality=80),
    }


def _damaged(data: bytes, rng: np.random.Generator) -> bytes:
    """One random kind of damage: a cut, flipped bits, or a run of bytes overwritten."""
    out = bytearray(data)
    kind = rng.integers(4)
    if kind == 0:
        return bytes(out[: int(rng.integers(1, len(out)))])
    if kind == 1:  # a few flipped bits, anywhere
        for at in rng.integers(0, len(out), int(rng.integers(1, 16))):
            out[at] ^= 1 << int(rng.integers(8))
    elif kind == 2:  # the header: where sizes, offsets and counts live
        for at in rng.integers(0, min(len(out), 512), int(rng.integers(1, 8))):
            out[at] = int(rng.integers(256))
    else:  # a run of random bytes
        start = int(rng.integers(0, len(out)))
        run = rng.integers(0, 256, int(rng.integers(1, 2048)), dtype=np.uint8).tobytes()
        out[start : start + len(run)] = run
    return bytes(out)


@pytest.mark.slow  # ~300 damaged files through the real decode workers and model: ~20 s on 2 cores
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak memory is read from /proc")
def test_damaged_files_never_stop_a_run(tmp_path: Path) -> None:
    folder = tmp_path / "fuzz"
    folder.mkdir()
    rng = np.random.default_rng(20261205)
    for ext, data in _originals().items():
        (folder / f"original{ext}").write_bytes(data)
        for i in range(VARIANTS_PER_FORMAT):
            (folder / f"damaged{i:03d}{ext}").write_bytes(_damaged(data, rng))
    names = sorted(p.name for p in folder.iterdir())
    result = index_child.run(folder, tmp_path)
    assert sorted(result["seconds"]) == names  # every file was tried
    skipped = result["skipped"]
    assert result["indexed"] + result["reused"] + len(skipped) == len(names)
    assert not {f"original{ext}" for ext in (".jpg", ".png", ".tif", ".webp", ".gif", ".heic")} & set(skipped)
    assert all(reason.strip() and "\n" not in reason for reason in skipped.values())
    assert 0 < len(skipped) < len(names)
    assert result["peak_worker_mb"] < 600
    assert result["maxrss_mb"] < 1000
    slowest = max(result["seconds"], key=result["seconds"].get)
    assert result["seconds"][slowest] < 5, slowest
