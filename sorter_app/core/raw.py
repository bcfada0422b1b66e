"""Camera RAW files (.dng .cr2 .cr3 .nef .arw .raf .rw2 .orf …) through LibRaw (rawpy).

Almost every camera stores a full-size or large JPEG preview in its RAW files; decoding that
costs what a JPEG costs (draft mode included), where demosaicing the sensor data costs seconds.
So the preview is used when it is big enough for the model, and only files without one are
demosaiced (at half size — 2×2 binning, no interpolation — unless that is smaller than needed). The
camera's orientation record (LibRaw's `flip`) is applied to the preview, and the catalog records
the sensor's image size, not the preview's.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from . import formats
from .errors import ImageError
from .images import (
    LoadedImage,
    check_claimed_size,
    check_decoded_size,
    decode_with_pillow,
    describe,
    finish_decoded,
)

# LibRaw's `flip` → the EXIF orientation that means the same turn.
_EXIF_ORIENTATION_FOR_FLIP = {0: 1, 3: 3, 5: 8, 6: 6}


class NotRawError(ImageError):
    """LibRaw does not know the file: it may be another kind of image under a RAW name."""


def load_raw(path: str, nbytes: int, min_side: int | None) -> LoadedImage:
    """The image of a RAW file `nbytes` long: its embedded preview when big enough, else its
    sensor data demosaiced."""
    if not formats.installed(formats.RAW):
        raise ImageError(formats.RAW.missing_reason)
    import rawpy

    try:
        with rawpy.imread(path) as raw:
            return _decode(raw, nbytes, min_side)
    except ImageError:
        raise
    except MemoryError:
        raise ImageError("not enough memory to decode this RAW file") from None
    except rawpy.LibRawFileUnsupportedError:
        raise NotRawError("not a RAW file this version of LibRaw can read") from None
    except rawpy.LibRawIOError:  # LibRaw's "Input/output error" reads like a failing disk
        raise ImageError(
            "truncated or corrupt RAW file: its data ends early or points outside the file"
        ) from None
    except Exception as exc:
        raise ImageError(f"truncated or corrupt RAW file: {describe(exc)}") from None


def _decode(raw: Any, nbytes: int, min_side: int | None) -> LoadedImage:
    sizes = raw.sizes
    orientation = _EXIF_ORIENTATION_FOR_FLIP.get(int(sizes.flip), 1)
    width, height = int(sizes.width), int(sizes.height)
    if orientation in (6, 8):
        width, height = height, width
    image = _preview(raw, min_side, orientation)
    if image is None:
        sensor = int(sizes.raw_width), int(sizes.raw_height)
        check_claimed_size("RAW", *sensor, nbytes)  # LibRaw decodes missing data as noise
        check_decoded_size(sensor, (width, height))
        half = min_side is None or min(sizes.width, sizes.height) // 2 >= min_side
        rgb = raw.postprocess(half_size=half, use_camera_wb=True, output_bps=8)  # applies flip
        image = finish_decoded(_as_image(rgb), 1, min_side)
    return LoadedImage(image=image, width=width, height=height, format="RAW", frames=1)


def _preview(raw: Any, min_side: int | None, orientation: int) -> Image.Image | None:
    """The embedded preview as oriented RGB, or None when there is none big enough."""
    import rawpy

    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        data = bytes(thumb.data)
        try:
            image = decode_with_pillow(io.BytesIO(data), len(data), "", min_side, orientation).image
        except ImageError:
            return None  # a broken preview: the sensor data may still be fine
    else:
        image = finish_decoded(_as_image(thumb.data), orientation, min_side)
    if min_side is not None and min(image.size) < min_side:
        return None
    return image


def _as_image(pixels: Any) -> Image.Image:
    """LibRaw's pixels as an image: a monochrome camera's come as one channel, [H, W, 1], which
    Pillow cannot take ("Cannot handle this data type: (1, 1, 1)"); they are grey."""
    array = np.ascontiguousarray(pixels)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return Image.fromarray(array)
