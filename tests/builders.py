"""Build real image files, good and bad, for tests. Every case the indexer must survive is here."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational


def scene(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A distinct, photo-like (smooth + textured) RGB image per seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    channels = []
    for _ in range(3):
        fx, fy, phase = rng.uniform(0.5, 6.0), rng.uniform(0.5, 6.0), rng.uniform(0, 6.3)
        base = np.sin(x / w * fx * 6.28 + phase) * np.cos(y / h * fy * 6.28)
        channels.append(base * 90 + rng.uniform(60, 190))
    img = np.stack(channels, axis=-1) + rng.normal(0, 12, (h, w, 3))
    for _ in range(4):  # a few solid blobs so images differ in layout, not only colour
        cx, cy, r = rng.integers(0, w), rng.integers(0, h), rng.integers(h // 10, h // 3)
        mask = (x - cx) ** 2 + (y - cy) ** 2 < r * r
        img[mask] = rng.uniform(0, 255, 3)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def write_jpeg(path: Path, seed: int, size: tuple[int, int] = (320, 240), quality: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    scene(seed, size).save(path, "JPEG", quality=quality)
    return path


def write_camera_jpeg(path: Path, seed: int = 3, size: tuple[int, int] = (400, 300)) -> Path:
    """A JPEG as a camera writes it: EXIF with the make and model, and in its Exif directory when
    it was taken, the lens and the exposure (f/2.8, 1/125 s, ISO 200, 35 mm)."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "EOS 80D"
    details = exif.get_ifd(0x8769)
    details[0x9003] = "2019:07:14 18:03:22"  # DateTimeOriginal
    details[0x829A], details[0x829D] = IFDRational(1, 125), IFDRational(28, 10)  # ExposureTime, FNumber
    details[0x8827], details[0x920A] = 200, IFDRational(35, 1)  # ISO, FocalLength
    details[0xA434] = "EF-S18-135mm f/3.5-5.6 IS USM"  # LensModel
    path.parent.mkdir(parents=True, exist_ok=True)
    scene(seed, size).save(path, "JPEG", quality=85, exif=exif.tobytes())
    return path


def write_truncated_jpeg(path: Path, seed: int = 1) -> Path:
    write_jpeg(path, seed, (640, 480))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def write_zero_bytes(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def write_not_an_image(path: Path) -> Path:
    path.write_text("these are holiday notes, not a photo\n" * 20)
    return path


def write_png_bomb(path: Path, width: int = 60_000, height: int = 60_000) -> Path:
    """A valid PNG header claiming 3.6 gigapixels over a few bytes of data: a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def write_cmyk_jpeg(path: Path, seed: int) -> Path:
    scene(seed).convert("CMYK").save(path, "JPEG", quality=90)
    return path


def write_16bit_png(path: Path) -> Path:
    ramp = np.linspace(0, 65535, 256 * 192, dtype=np.float64).reshape(192, 256).astype(np.uint16)
    Image.fromarray(ramp).save(path, "PNG")  # uint16 → a 16-bit greyscale PNG
    return path


def write_palette_alpha_png(path: Path, seed: int) -> Path:
    img = scene(seed).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    img.info["transparency"] = 0
    img.save(path, "PNG", transparency=0)
    return path


def write_rgba_png(path: Path, seed: int) -> Path:
    img = scene(seed).convert("RGBA")
    alpha = np.full((img.height, img.width), 255, dtype=np.uint8)
    alpha[:, : img.width // 4] = 0
    img.putalpha(Image.fromarray(alpha, "L"))
    img.save(path, "PNG")
    return path


def write_premultiplied_grey_tiff(path: Path, seed: int) -> Path:
    """Grey with associated (premultiplied) alpha, which Pillow opens as mode "La": Pillow writes
    LA with unassociated alpha (ExtraSamples 2), so the tag is set to 1 in the file."""
    img = scene(seed).convert("LA")
    img.save(path, "TIFF")
    data = bytearray(path.read_bytes())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for k in range(struct.unpack_from("<H", data, ifd)[0]):
        entry = ifd + 2 + 12 * k
        if struct.unpack_from("<H", data, entry)[0] == 338:  # ExtraSamples
            struct.pack_into("<H", data, entry + 8, 1)  # associated alpha
    path.write_bytes(bytes(data))
    assert Image.open(path).mode == "La"
    return path


def write_raw_tiff(
    path: Path, bits: int, samples: int, photometric: int, *, planar: int = 1, sample_format: int = 1
) -> Path:
    """A valid uncompressed 40×30 little-endian TIFF of any layout, written field by field: Pillow
    writes only the layouts it reads, and the point is the ones it does not (12-bit RGB, float
    RGB, planar 16-bit grey …). The pixels are noise."""
    width, height = 40, 30
    planes = samples if planar == 2 else 1
    plane = (width * (samples // planes) * bits + 7) // 8 * height
    pixels = np.random.default_rng(0).integers(0, 256, plane * planes, dtype=np.uint8).tobytes()
    tags = [  # (tag, type: 3 short / 4 long, values), in tag order
        (256, 4, [width]),
        (257, 4, [height]),
        (258, 3, [bits] * samples),
        (259, 3, [1]),
        (262, 3, [photometric]),
        (273, 4, [8 + k * plane for k in range(planes)]),
        (277, 3, [samples]),
        (278, 4, [height]),
        (279, 4, [plane] * planes),
        (284, 3, [planar]),
        (339, 3, [sample_format] * samples),
    ]
    directory_at = 8 + len(pixels)
    values_at = directory_at + 2 + 12 * len(tags) + 4
    entries, values = b"", b""
    for tag, kind, numbers in tags:
        packed = struct.pack(f"<{len(numbers)}{'H' if kind == 3 else 'I'}", *numbers)
        if len(packed) <= 4:
            field = packed.ljust(4, b"\0")
        else:
            field = struct.pack("<I", values_at + len(values))
            values += packed
        entries += struct.pack("<HHI", tag, kind, len(numbers)) + field
    directory = struct.pack("<H", len(tags)) + entries + struct.pack("<I", 0)
    path.write_bytes(b"II*\0" + struct.pack("<I", directory_at) + pixels + directory + values)
    return path


def write_animated_gif(path: Path, seed: int, frames: int = 3) -> Path:
    images = [scene(seed + i).convert("P", palette=Image.Palette.ADAPTIVE) for i in range(frames)]
    images[0].save(path, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return path


def write_exif_rotated_jpeg(path: Path, orientation: int = 6) -> Path:
    """Stored 300×200 with a red left half; EXIF orientation 6 means "rotate 90° clockwise to view"."""
    img = Image.new("RGB", (300, 200), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 150, 200))
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(path, "JPEG", quality=95, exif=exif.tobytes())
    return path


# --- edited copies of a photo, as a photo collection gathers them (duplicates, seed groups) -------

EDITS = ("copy", "jpeg q90", "jpeg q70", "jpeg q50", "resize 50%", "crop 90%", "flip")


def _displayed(original: Path) -> Image.Image:
    """The photo as a viewer shows it (EXIF orientation applied, RGB): what an editor re-saves."""
    from PIL import ImageOps

    with Image.open(original) as img:
        return ImageOps.exif_transpose(img).convert("RGB")


def _centre_crop(img: Image.Image, fraction: float) -> Image.Image:
    w, h = img.size
    cw, ch = int(w * fraction), int(h * fraction)
    left, top = (w - cw) // 2, (h - ch) // 2
    return img.crop((left, top, left + cw, top + ch))


def write_edited_copies(original: Path, folder: Path, stem: str) -> dict[str, Path]:
    """`stem`.jpg (the original's bytes) and one file per kind of edit in EDITS, keyed by the edit.

    Re-encodes keep the resolution; the resize, crop and flip are saved as JPEG quality 90, as an
    editor would. Returns {"original": path, "copy": path, "jpeg q90": path, ...}.
    """
    import shutil

    from PIL import ImageOps

    folder.mkdir(parents=True, exist_ok=True)
    files = {"original": folder / f"{stem}.jpg"}
    shutil.copyfile(original, files["original"])
    files["copy"] = folder / f"{stem} copy.jpg"
    shutil.copyfile(original, files["copy"])
    img = _displayed(original)
    edited = {
        "jpeg q90": (img, 90),
        "jpeg q70": (img, 70),
        "jpeg q50": (img, 50),
        "resize 50%": (img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS), 90),
        "crop 90%": (_centre_crop(img, 0.9), 90),
        "flip": (ImageOps.mirror(img), 90),
    }
    for edit, (pixels, quality) in edited.items():
        files[edit] = folder / f"{stem} {edit.replace('%', 'pc')}.jpg"
        pixels.save(files[edit], "JPEG", quality=quality)
    return files


HARD_EDITS = ("crop 75%", "border 5%", "rotate 3°")


def write_hard_edits(original: Path, folder: Path, stem: str) -> dict[str, Path]:
    """The edits a whole-image comparison misses, one file each, keyed by the edit: a 75 % crop off
    centre, a 5 % black border, a 3° turn (black corners), each saved as JPEG quality 90."""
    from PIL import ImageOps

    img = _displayed(original)
    w, h = img.size
    cw, ch = round(w * 0.75), round(h * 0.75)
    edited = {
        "crop 75%": img.crop((w - cw, (h - ch) // 3, w, (h - ch) // 3 + ch)),
        "border 5%": ImageOps.expand(img, (w // 20, h // 20), fill=(0, 0, 0)),
        "rotate 3°": img.rotate(3, Image.Resampling.BICUBIC),
    }
    files = {}
    for edit, pixels in edited.items():
        files[edit] = folder / f"{stem} {edit.replace('%', 'pc').replace('°', 'deg')}.jpg"
        pixels.save(files[edit], "JPEG", quality=90)
    return files


def write_frame(path: Path, seed: int, frame: int, size: tuple[int, int] = (320, 240)) -> Path:
    """Frame `frame` of a "time-lapse" of scene(seed): the same view, a little noise and light change."""
    rng = np.random.default_rng(10_000 * seed + frame)
    pixels = np.asarray(scene(seed, size), dtype=np.float64)
    varied = pixels * rng.uniform(0.92, 1.08) + rng.normal(0, 4, pixels.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(varied, 0, 255).astype(np.uint8), "RGB").save(path, "JPEG", quality=90)
    return path


# Three different cloudy skies of sun8_scenes that the bundled model puts very close (cosine ≥ 0.93):
# look-alikes, never duplicates.
LOOK_ALIKE_SKIES = ("sun_adkuczkjaifxtlop.jpg", "sun_atovhmdabzmhzhcq.jpg", "sun_aymfzlaxcseqnqni.jpg")


def copy_look_alike_skies(datasets: Path, folder: Path) -> list[str]:
    """LOOK_ALIKE_SKIES copied into `folder` (made); their names. Skips the test without them."""
    sources = [datasets / "sun8_scenes/outdoor/sky" / name for name in LOOK_ALIKE_SKIES]
    if not all(p.is_file() for p in sources):
        pytest.skip("these sun8 skies are not in this copy of the datasets")
    folder.mkdir(parents=True, exist_ok=True)
    for p in sources:
        (folder / p.name).write_bytes(p.read_bytes())
    return list(LOOK_ALIKE_SKIES)
