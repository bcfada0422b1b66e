"""What the pixel check of a near-duplicate needs, stored per image at index time (catalog `images.layout`).

Embeddings say two photos show the same kind of thing; different skies or empty rooms can be as
close as a re-encoded copy. Whether one picture is an edited copy of the other is decided on a small
grey thumbnail (copy_check.py): it survives re-encodes, resizes, brightness changes and watermarks,
and it can be searched for one picture inside the other (crops, borders). Uniform margins — the
borders an editor or a messenger adds, letterboxing — are trimmed before the thumbnail is taken,
so a bordered copy and its original hold the same content.

Two formats, told apart by length:

- version 1 (catalogs indexed before the containment check): 256 bytes, the whole image as 16×16
  grey. Still read: pairs involving one are judged by the old whole-image correlation rule.
- version 2: a 16-byte header (version, decoded size, the content box left after trimming, the
  margins' grey level) and the trimmed content as a 32×32 grey thumbnail: 1,040 bytes per image.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

LEGACY_SIDE = 16
LEGACY_LENGTH = LEGACY_SIDE * LEGACY_SIDE
_BLANK = bytes(LEGACY_LENGTH)  # stands in for a missing signature: it correlates with nothing
THUMB_SIDE = 32
VERSION = 2
_HEADER = struct.Struct("<BBHHHHHHH")  # version, margin grey, decoded w, h, content box l, t, r, b, spare
THUMB_OFFSET = _HEADER.size  # where the thumbnail starts in a version-2 signature
_MAX_STORED = 2**16 - 1  # the largest size or box coordinate a header field holds
LENGTH = THUMB_OFFSET + THUMB_SIDE * THUMB_SIDE

# Trimming: a line belongs to a margin when nearly all of it is within TOLERANCE grey levels of the
# outermost line (JPEG noise and ringing stay inside that); at most MAX_MARGIN of a side is trimmed,
# and nothing is when less than MIN_CONTENT of the image would be left (a nearly blank picture).
TOLERANCE = 10.0
UNIFORM_FRACTION = 0.97
MAX_MARGIN = 0.3
MIN_CONTENT = 0.4


@dataclass(frozen=True)
class Layout:
    """A parsed version-2 signature."""

    thumb: NDArray[np.uint8]  # THUMB_SIDE × THUMB_SIDE grey of the trimmed content
    size: tuple[int, int]  # the decoded image (width, height)
    box: tuple[int, int, int, int]  # the content left after trimming margins: left, top, right, bottom
    margin_grey: int  # grey level of the trimmed margins (0 when none were trimmed)

    @property
    def content_size(self) -> tuple[int, int]:
        return self.box[2] - self.box[0], self.box[3] - self.box[1]

    @property
    def aspect(self) -> float:
        """Width / height of the trimmed content, in the decoded image's pixels."""
        width, height = self.content_size
        return width / height

    @property
    def trimmed(self) -> bool:
        return self.box != (0, 0, *self.size)


def layout_signature(img: Image.Image) -> bytes:
    """The version-2 signature of a decoded image (any mode; EXIF orientation already applied)."""
    grey = img.convert("L")
    pixels = np.asarray(grey, dtype=np.float32)
    left, top, right, bottom = content_box(pixels)
    margin_grey = 0
    if (left, top, right, bottom) != (0, 0, grey.width, grey.height):
        margin = np.ones(pixels.shape, dtype=bool)
        margin[top:bottom, left:right] = False
        margin_grey = round(float(np.median(pixels[margin])))
    thumb = grey.crop((left, top, right, bottom)).resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX)
    width, height, left, top, right, bottom = _as_stored(grey.width, grey.height, left, top, right, bottom)
    header = _HEADER.pack(VERSION, margin_grey, width, height, left, top, right, bottom, 0)
    return header + np.asarray(thumb, dtype=np.uint8).tobytes()


def _as_stored(width: int, height: int, *box: int) -> tuple[int, ...]:
    """The size and content box as the header's 16-bit fields hold them: an image over 65,535
    pixels on a side (a 70,000 × 300 panorama is 21 MP) is scaled down whole, so that its shape,
    all the near-duplicate rule reads from them, is kept."""
    longest = max(width, height)
    if longest <= _MAX_STORED:
        return (width, height, *box)
    return tuple(min(_MAX_STORED, round(v * _MAX_STORED / longest)) for v in (width, height, *box))


def content_box(grey: NDArray[np.float32]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of what is left when uniform margins are trimmed from each side.

    Margins may be nested (a coloured border around a white letterbox): trimming repeats, each
    time against the new outermost colour, a few times at most.
    """
    height, width = grey.shape
    left, top, right, bottom = 0, 0, width, height
    for _ in range(3):
        box = (left, top, right, bottom)
        top += _margin(grey[top : min(bottom, int(height * MAX_MARGIN)), left:right])
        bottom -= _margin(grey[max(top, height - int(height * MAX_MARGIN)) : bottom, left:right][::-1])
        left += _margin(grey[top:bottom, left : min(right, int(width * MAX_MARGIN))].T)
        right -= _margin(grey[top:bottom, max(left, width - int(width * MAX_MARGIN)) : right][:, ::-1].T)
        if (left, top, right, bottom) == box:
            break
    if right - left <= MIN_CONTENT * width or bottom - top <= MIN_CONTENT * height:
        return 0, 0, width, height
    return left, top, right, bottom


def _margin(lines: NDArray[np.float32]) -> int:
    """How many of `lines` (the outermost first) are uniform and of the outermost line's grey."""
    if len(lines) == 0:
        return 0
    reference = float(np.median(lines[0]))
    uniform = (np.abs(lines - reference) <= TOLERANCE).mean(axis=1) >= UNIFORM_FRACTION
    return len(uniform) if uniform.all() else int(np.argmin(uniform))


def is_legacy(signature: bytes) -> bool:
    return len(signature) == LEGACY_LENGTH


def parse_layout(signature: bytes) -> Layout | None:
    """The version-2 layout, or None for a version-1, unknown or damaged signature."""
    if len(signature) != LENGTH or signature[0] != VERSION:
        return None
    _, grey, width, height, left, top, right, bottom, _ = _HEADER.unpack_from(signature)
    if not (0 <= left < right <= width and 0 <= top < bottom <= height):
        return None
    thumb = np.frombuffer(signature, dtype=np.uint8, offset=_HEADER.size).reshape(THUMB_SIDE, THUMB_SIDE)
    return Layout(thumb, (width, height), (left, top, right, bottom), grey)


def legacy_layout(signature: bytes) -> bytes | None:
    """The version-1 signature (whole image, 16×16 grey) of either format, for the old rule.

    A version-2 signature is turned back into the whole image by putting its margins around the
    content thumbnail, so an old catalog's images can be compared with newly indexed ones.
    """
    if is_legacy(signature):
        return signature
    layout = parse_layout(signature)
    if layout is None:
        return None
    canvas = Image.new("L", layout.size, layout.margin_grey)
    content = Image.fromarray(layout.thumb).resize(layout.content_size, Image.Resampling.BILINEAR)
    canvas.paste(content, layout.box[:2])
    whole = canvas.resize((LEGACY_SIDE, LEGACY_SIDE), Image.Resampling.BOX)
    return np.asarray(whole, dtype=np.uint8).tobytes()


def _normalised(signatures: Sequence[bytes | None]) -> NDArray[np.float32]:
    """(m, 16, 16): each version-1 signature centred and scaled to unit length; zeros for None
    and for a flat image, which correlate with nothing."""
    joined = b"".join(_BLANK if s is None else s for s in signatures)
    values = np.frombuffer(joined, dtype=np.uint8).reshape(-1, LEGACY_SIDE, LEGACY_SIDE).astype(np.float32)
    values -= values.mean(axis=(1, 2), keepdims=True)
    norms = np.sqrt(np.einsum("mij,mij->m", values, values))[:, None, None]
    unit: NDArray[np.float32] = np.divide(values, norms, out=np.zeros_like(values), where=norms > 1e-6)
    return unit


def layout_similarity(a: bytes, b: bytes) -> float:
    """The old rule's whole-image correlation (or with the mirror image, whichever is higher).

    Either argument may be of either format; 0.0 when one cannot be read.
    """
    return float(layout_similarities([a], [b])[0])


def layout_similarities(a: Sequence[bytes | None], b: Sequence[bytes | None]) -> NDArray[np.float32]:
    """`layout_similarity` of many pairs in a few array operations (0.0 where a signature is
    missing): an old catalog's candidate pairs all take this path, millions at a million images.
    The sums run in another order than the one-pair code's before stop 21: scores differ by up to
    ~1e-6, so a pair within that of a threshold (0.90, 0.70) may be decided the other way."""
    x = _normalised([None if s is None else legacy_layout(s) for s in a])
    y = _normalised([None if s is None else legacy_layout(s) for s in b])
    straight = np.einsum("mij,mij->m", x, y)
    mirrored = np.einsum("mij,mij->m", x, y[:, :, ::-1])
    best: NDArray[np.float32] = np.maximum(straight, mirrored)
    return best
