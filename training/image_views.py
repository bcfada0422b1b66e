"""The views of one image that training and the test-time measurements look at, all 224×224 uint8.

- `centre`: exactly what the app feeds the model (shorter side → 224, centre crop); its embedding is
  the catalog's vector.
- `flip`: the centre view mirrored, for flip averaging at test time and as a training view.
- `letterbox`: the whole image, longer side → 224, padded with the normalisation mean (grey 127,
  which normalises to ~0), so nothing is cropped away.
- `crop_start` / `crop_end`: the two ends of the longer side (with `centre`, a 3-crop that covers a
  non-square image); identical to `centre` for a square image.
- `small128` (any `small<side>`): the centre view shrunk to a side of that many pixels, saved as a
  JPEG at quality 90 and enlarged back, as the app enlarges a small photo: one photo at the
  sharpness of a 128-px dataset (miniplaces), so that a head can be shown every class at both
  sharpnesses (training/setting_head.py).
- `aug0`, `aug1`, …: random training views: a random resized crop of the whole image (25–100 % of
  its area), a random flip, colour jitter, and with probability `DEGRADE_PROB` the resolution/JPEG
  degradation of `training/degrade.py` (the "blurry means outdoor" cure). Each is seeded by the
  image's content hash and the view's number, so a cache can be rebuilt identically.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageEnhance

from sorter_app.core.model_spec import Preprocess
from sorter_app.core.preprocess import resized_size, to_model_pixels

from .degrade import Degradation, degrade, random_degradation

PAD_GREY = 127
DEGRADE_PROB = 0.35
DEGRADE_MIN_PX, DEGRADE_MAX_PX, DEGRADE_QUALITY = 64, 160, (30, 90)
CROP_SCALE = (0.25, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)
SMALL_QUALITY = 90  # the `small<side>` views' JPEG quality
JITTER = 0.3  # brightness, contrast and saturation factors drawn from [1 − JITTER, 1 + JITTER]

Pixels = NDArray[np.uint8]
FIXED_VIEWS = ("centre", "flip", "letterbox", "crop_start", "crop_end")


def augmented_view_names(count: int) -> tuple[str, ...]:
    return tuple(f"aug{i}" for i in range(count))


def view_rng(content_hash: str, view: str) -> np.random.Generator:
    digest = hashlib.blake2b(f"{content_hash}/{view}".encode(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


def centre(img: Image.Image, pre: Preprocess) -> Pixels:
    return to_model_pixels(img, pre)


def letterbox(img: Image.Image, size: int) -> Pixels:
    scale = size / max(img.width, img.height)
    w, h = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    canvas = Image.new("RGB", (size, size), (PAD_GREY,) * 3)
    canvas.paste(img.resize((w, h), Image.Resampling.BILINEAR), ((size - w) // 2, (size - h) // 2))
    return np.asarray(canvas, dtype=np.uint8)


def end_crop(img: Image.Image, size: int, end: bool) -> Pixels:
    """Shorter side → `size`, then the first (`end=False`) or last `size` pixels of the longer side."""
    w, h = resized_size(img.width, img.height, size)
    scaled = img.resize((w, h), Image.Resampling.BILINEAR) if (w, h) != img.size else img
    left = (w - size) if end and w > size else 0
    top = (h - size) if end and h > size else 0
    return np.asarray(scaled.crop((left, top, left + size, top + size)), dtype=np.uint8)


def augmented(img: Image.Image, size: int, rng: np.random.Generator) -> Pixels:
    area = img.width * img.height
    for _ in range(10):
        target = area * rng.uniform(*CROP_SCALE)
        ratio = float(np.exp(rng.uniform(np.log(CROP_RATIO[0]), np.log(CROP_RATIO[1]))))
        w, h = round(np.sqrt(target * ratio)), round(np.sqrt(target / ratio))
        if 0 < w <= img.width and 0 < h <= img.height:
            break
    else:
        w = h = min(img.width, img.height)
    left, top = int(rng.integers(0, img.width - w + 1)), int(rng.integers(0, img.height - h + 1))
    out = img.crop((left, top, left + w, top + h)).resize((size, size), Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        out = enhancer(out).enhance(float(rng.uniform(1 - JITTER, 1 + JITTER)))
    pixels = np.asarray(out, dtype=np.uint8)
    if rng.random() < DEGRADE_PROB:
        how = random_degradation(rng, DEGRADE_MIN_PX, DEGRADE_MAX_PX, DEGRADE_QUALITY)
        pixels = degrade(pixels, how)
    return pixels


def view_maker(name: str, pre: Preprocess) -> Callable[[Image.Image, str], Pixels]:
    """(decoded RGB image, content hash) → the named view's pixels."""
    size = pre.size
    if name == "centre":
        return lambda img, _h: centre(img, pre)
    if name == "flip":
        return lambda img, _h: np.ascontiguousarray(centre(img, pre)[:, ::-1])
    if name == "letterbox":
        return lambda img, _h: letterbox(img, size)
    if name in ("crop_start", "crop_end"):
        end = name == "crop_end"
        return lambda img, _h: end_crop(img, size, end)
    if name.startswith("small") and name[5:].isdigit():
        shrunk = Degradation(side=int(name[5:]), quality=SMALL_QUALITY)
        return lambda img, _h: degrade(centre(img, pre), shrunk)
    if name.startswith("aug") and name[3:].isdigit():
        return lambda img, content_hash: augmented(img, size, view_rng(content_hash, name))
    raise ValueError(f"unknown view {name!r}")
