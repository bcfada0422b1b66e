"""Turn untrusted bytes into an RGB image, or into a one-line reason why not.

Everything a folder of real photos throws at us is handled here: decompression bombs and huge
panoramas are refused or decoded at reduced scale before any pixel is allocated; EXIF orientation
is applied; CMYK, 16-bit, palette, alpha and animated images all come out as plain RGB.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError

# Extensions the scanner treats as "looks like an image"; a file with one of these that cannot be
# decoded is reported, any other file is silently ignored.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".dib", ".tif", ".tiff", ".webp"}
)
# Decoders we trust with untrusted input. Pillow knows many more (EPS runs Ghostscript, etc.).
ALLOWED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "GIF", "BMP", "DIB", "TIFF", "WEBP"})

# Most pixels we agree to decode (after JPEG draft scaling): 120 MP is ~360 MB of RGB. Larger
# images are decompression bombs or panoramas too big to decode safely in several threads at once.
MAX_DECODED_PIXELS = 120_000_000

# We check sizes ourselves, before decoding and after draft scaling; Pillow's own guard would
# reject a 300-MP JPEG panorama that draft mode decodes at 1/8 scale in a few megabytes.
Image.MAX_IMAGE_PIXELS = None

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_HIGH_BIT_DEPTH_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_ORIENTATIONS_THAT_SWAP_AXES = frozenset({5, 6, 7, 8})
_EXIF_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class LoadedImage:
    """An RGB image ready for preprocessing, plus what the catalog records about the original."""

    image: Image.Image
    width: int
    height: int
    format: str
    frames: int


def load_image(data: bytes, min_side: int | None = None) -> LoadedImage:
    """Decode `data` to RGB with EXIF orientation applied.

    With `min_side`, JPEGs decode in draft mode at the smallest scale (1/2, 1/4, 1/8) whose shorter
    side still has at least `min_side` pixels: a 12-MP photo costs a 1/8-scale decode.
    Raises ImageError with a reason a user can read.
    """
    if not data:
        raise ImageError("empty file (0 bytes)")
    try:
        img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError("not an image: the content is not a recognised image format") from None
    except Exception as exc:
        raise ImageError(f"unreadable image header: {_describe(exc)}") from exc
    # No `with img:` — closing a Pillow image destroys its pixels, and the source is in memory.
    fmt = img.format or "unknown"
    if fmt not in ALLOWED_FORMATS:
        raise ImageError(f"unsupported image format {fmt}")
    width, height = _oriented_size(img)
    frames = int(getattr(img, "n_frames", 1))
    if min_side is not None and fmt in ("JPEG", "MPO"):
        img.draft("RGB", (min_side, min_side))
    decoded_pixels = img.size[0] * img.size[1]
    if decoded_pixels > MAX_DECODED_PIXELS:
        raise ImageError(
            f"image too large to decode safely ({width}×{height} = {width * height / 1e6:.0f} MP, "
            f"limit {MAX_DECODED_PIXELS / 1e6:.0f} MP): possible decompression bomb"
        )
    try:
        img.load()
        oriented = _apply_exif_orientation(img)
        rgb = _to_rgb(oriented)
    except ImageError:
        raise
    except Exception as exc:
        raise ImageError(f"truncated or corrupt image: {_describe(exc)}") from exc
    return LoadedImage(image=rgb, width=width, height=height, format=fmt, frames=frames)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(_EXIF_ORIENTATION_TAG, 1))
    except Exception:
        return 1


def _oriented_size(img: Image.Image) -> tuple[int, int]:
    width, height = img.size
    if _orientation(img) in _ORIENTATIONS_THAT_SWAP_AXES:
        return height, width
    return width, height


def _apply_exif_orientation(img: Image.Image) -> Image.Image:
    """Rotate/flip as the camera recorded; a broken EXIF block leaves the pixels as stored."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception:
        return img


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any mode → 8-bit RGB; transparency is composited on white, as viewers show it."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in _HIGH_BIT_DEPTH_MODES:
        return _high_bit_depth_to_rgb(img)
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in _ALPHA_MODES:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _high_bit_depth_to_rgb(img: Image.Image) -> Image.Image:
    """16-bit and float greyscale: scale to the full 8-bit range instead of clipping at 255."""
    values = np.asarray(img, dtype=np.float64)
    if img.mode == "F":
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        scale = 255.0 / (high - low) if high > low else 0.0
        values = (np.nan_to_num(values, nan=low) - low) * scale
    elif values.max(initial=0) > 255:
        values = values * (255.0 / 65535.0)
    grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")
