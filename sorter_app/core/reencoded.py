"""Is one JPEG another one saved again at a finer quality? (keeper.py asks, for copies of one size,
before "larger file" would keep the re-save.)

A JPEG stores each 8×8 block's DCT coefficients rounded to multiples of its quantisation table's
steps. Decode it and save it again with finer steps (a higher quality: an editor's "save", an app
that re-encodes at 90–95), and the new file's coefficients are the old multiples plus an error
smaller than half a fine step: they still sit on the coarser file's lattice. A copy of another
origin — the original itself, saved finer than a copy made from it — sits on that lattice only by
chance. Measured with `lattice_score`, the mean of cos(2π·c/q) over the finer copy's luminance
coefficients c that are not zero on the coarser lattice, q being the coarser step: near 1 when the
finer copy was made from the coarser one, near 0 (or below) when not. Only steps the finer table
halves or better are used: there a re-save's error keeps the mean above ~0.46 (benchmarks/
bench_keeper.py, RESULTS.md), and a coarse step below 4 is too fine to tell by.

Only luminance, read without colour conversion (Pillow's YCbCr draft), and only stored pixels, so
only files of the same stored size: a crop, a resize or a rotation moves the 8×8 grid and the
score drops to noise, which reads "not made from" — the safe answer, as "larger file" then decides
as before.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

MADE_FROM = 0.3  # lattice_score at or above: the finer copy was made from the coarser one
MIN_COEFFICIENTS = 500  # fewer usable coefficients: cannot be told
MIN_STEP = 4  # a coarser step below this is too fine to tell a re-save by
MAX_PIXELS = 25_000_000  # each file is decoded whole; bigger ones are not compared
WINDOW = 1024  # the central window compared, at most this many pixels on a side (a multiple of 8)

_K = np.arange(8)
_DCT = np.sqrt(2 / 8) * np.cos(np.pi * (2 * _K[None, :] + 1) * _K[:, None] / 16)  # JPEG's FDCT rows
_DCT[0] /= np.sqrt(2)


@dataclass(frozen=True)
class Quantised:
    """A JPEG's luminance as decoded, and the step of each of its 64 DCT coefficients (natural order)."""

    luma: NDArray[np.float32]
    steps: NDArray[np.float32]


def _open_jpeg(img: Image.Image, size: tuple[int, int]) -> NDArray[np.float32] | None:
    """The luminance table of an opened JPEG of the stored `size` (either way round: an EXIF
    rotation swaps them), or None."""
    tables = getattr(img, "quantization", None)
    if img.format != "JPEG" or sorted(img.size) != sorted(size) or not tables or 0 not in tables:
        return None
    if size[0] * size[1] > MAX_PIXELS:
        return None
    steps = np.asarray(tables[0], np.float32)
    return steps if steps.shape == (64,) and np.all(steps > 0) else None


def luminance_steps(path: Path, size: tuple[int, int]) -> NDArray[np.float32] | None:
    """The luminance quantisation steps from the file's header (nothing decoded), or None: not a
    JPEG, not of `size` (changed since it was indexed), too big to compare, or unreadable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                return _open_jpeg(img, size)
    except Exception:  # a hostile or vanished file: the rule simply does not apply
        return None


def read_quantised(path: Path, size: tuple[int, int]) -> Quantised | None:
    """The file decoded to its luminance plane (no colour conversion: Pillow's YCbCr draft) with its
    luminance table, or None as for `luminance_steps`, or when it is not YCbCr or grey."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                steps = _open_jpeg(img, size)
                if steps is None:
                    return None
                img.draft("YCbCr", img.size)  # the decoder's own planes
                if img.mode not in ("YCbCr", "L"):
                    return None
                return Quantised(np.asarray(img.getchannel(0), np.float32), steps)
    except Exception:  # a hostile or vanished file: the rule simply does not apply
        return None


def can_tell(finer: NDArray[np.float32], coarser: NDArray[np.float32]) -> bool:
    """Whether the tables leave any step to tell a re-save by: one the finer table halves or better,
    of at least MIN_STEP."""
    return bool(np.any(_usable(finer, coarser)))


_AC = np.arange(64) > 0


def _usable(finer: NDArray[np.float32], coarser: NDArray[np.float32]) -> NDArray[np.bool_]:
    """The AC coefficients only: a flat block decodes exactly, and its DC, 8·(level − 128), sits on
    any lattice whose step divides 8 (quality 75's is 8), so a screenshot or a blown-out sky saved
    finer looked made from its own coarser copy (a review found 26 of 42 screenshots)."""
    return _AC & (coarser >= MIN_STEP) & (finer <= coarser / 2)


def _window(luma: NDArray[np.float32]) -> NDArray[np.float32]:
    """The central part, on the file's 8×8 grid, at most WINDOW on a side."""
    h, w = (min(n, WINDOW) // 8 * 8 for n in luma.shape)
    top, left = ((n - m) // 2 // 8 * 8 for n, m in zip(luma.shape, (h, w), strict=True))
    return luma[top : top + h, left : left + w]


def dct_blocks(luma: NDArray[np.float32]) -> NDArray[np.float64]:
    """Each 8×8 block's DCT coefficients as JPEG computes them, [blocks, 64] in natural order."""
    h, w = luma.shape[0] // 8 * 8, luma.shape[1] // 8 * 8
    blocks = (luma[:h, :w].astype(np.float64) - 128).reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3)
    return np.asarray(_DCT @ blocks @ _DCT.T, np.float64).reshape(-1, 64)


def lattice_score(finer: Quantised, coarser: Quantised) -> float | None:
    """How closely `finer`'s coefficients sit on `coarser`'s lattice (see the module's docstring);
    None when too few coefficients can tell."""
    usable = _usable(finer.steps, coarser.steps)
    if not usable.any():
        return None
    coefficients = dct_blocks(_window(finer.luma))[:, usable]
    steps = np.broadcast_to(coarser.steps[usable], coefficients.shape)
    telling = np.abs(coefficients) >= steps / 2  # zero on the coarse lattice: on every lattice
    if telling.sum() < MIN_COEFFICIENTS:
        return None
    return float(np.mean(np.cos(2 * np.pi * coefficients[telling] / steps[telling])))


def resaved_from(finer: Quantised, coarser: Quantised) -> bool:
    """True when `finer` is `coarser` decoded and saved again at a finer quality. False when it is
    not, or cannot be told (pixels stored the other way round, no step to tell by, too few
    coefficients)."""
    if finer.luma.shape != coarser.luma.shape:
        return False
    score = lattice_score(finer, coarser)
    return score is not None and score >= MADE_FROM
