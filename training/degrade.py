"""Low-resolution, compressed copies of model pixels: the cure for the "blurry means outdoor" shortcut.

In the shared datasets most outdoor photos are small (Intel 100 px, MiniPlaces 128 px) and most
indoor ones are sharp (256–600 px), so after the app's upscaling to 224 px, blur alone separates
the classes. Showing the model every class at every sharpness (downscale to a random side, JPEG
re-encode, upscale back as the app would) takes that cue away. The same function, with fixed
settings, is the evaluation probe that measures whether the cue is still used.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

_DOWN = (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.BOX, Image.Resampling.LANCZOS)


@dataclass(frozen=True)
class Degradation:
    side: int
    quality: int
    down: Image.Resampling = Image.Resampling.BILINEAR


# What the evaluation probe applies: Intel-like 100 px, a typical web JPEG quality.
PROBE = Degradation(side=100, quality=75)


def degrade(pixels: NDArray[np.uint8], how: Degradation) -> NDArray[np.uint8]:
    """(S, S, 3) → (S, S, 3): shrink the square to `side`, JPEG at `quality`, bilinear back to S.

    Bilinear upscaling is what `sorter_app.core.preprocess` does to a small photo.
    """
    size = pixels.shape[0]
    small = Image.fromarray(pixels, "RGB").resize((how.side, how.side), how.down)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=how.quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        back = decoded.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(back, dtype=np.uint8)


def random_degradation(
    rng: np.random.Generator, min_px: int, max_px: int, quality: tuple[int, int]
) -> Degradation:
    return Degradation(
        side=int(rng.integers(min_px, max_px + 1)),
        quality=int(rng.integers(quality[0], quality[1] + 1)),
        down=_DOWN[int(rng.integers(len(_DOWN)))],
    )


def degrade_batch(
    pixels: NDArray[np.uint8], rng: np.random.Generator, min_px: int, max_px: int, quality: tuple[int, int]
) -> NDArray[np.uint8]:
    out = np.empty_like(pixels)
    for i in range(pixels.shape[0]):
        out[i] = degrade(pixels[i], random_degradation(rng, min_px, max_px, quality))
    return out


def probe_batch(pixels: NDArray[np.uint8], how: Degradation = PROBE) -> NDArray[np.uint8]:
    out = np.empty_like(pixels)
    for i in range(pixels.shape[0]):
        out[i] = degrade(pixels[i], how)
    return out
