"""Is the bigger of two copies only the smaller one scaled up? (keeper.py asks, before it keeps "the
largest resolution".)

An upscaled copy — an editor's "image size 200 %", an app that saves at a fixed size — has more
pixels than its original and no detail the original lacks. Told from pixels, by two hypotheses:

- *up*: the big one is the small one enlarged (by nearest, bilinear, bicubic or Lanczos). Then
  enlarging the small one again lands close to it: `up_error` is only the noise of its re-encode.
- *down*: the small one is the big one reduced. Then reducing the big one lands close to the small
  one: `down_error` is only the small one's re-encode noise — and, for a genuine original,
  enlarging the small one misses the fine detail the big one has, so `up_error` is far larger.

The verdict is `up_error / (down_error + 1) < RATIO` (the 1, in grey levels squared, stands for
the noise of two different JPEG decoders), and only where the small copy has fine detail to tell
by (`MIN_DETAIL`): a clear sky or a blurred photo is as sharp as its own reduction, so reducing it
losslessly leaves a pair that looks exactly like an enlargement and its source. Calibrated by
benchmarks/bench_keeper.py on real photos of four sources (figures in benchmarks/RESULTS.md).
Both thresholds lean to "not an enlargement": keeping an enlargement loses nothing, keeping a
reduction and trashing its original would. keeper.py asks only of a re-encode format (PNG, WebP…)
over a camera-format copy: a lossy reduction keeps the noise that tells an original.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image

RATIO = 0.3
MIN_DETAIL = 8.0  # the small copy's fine detail (`fine_detail`) needed to tell at all
MIN_SCALE = 1.15  # a copy less than 15 % larger on a side is not tested (resampling noise)
# Both copies are compared at their own resolution: an enlargement is told by how exactly a
# standard interpolation of the small one reproduces it, which a reduction of either would blur.
# So both are decoded whole, which bounds the sizes worth it: a big one up to 8.4 MP (4K) and a small
# one up to 2.1 MP (1920 × 1080) cost at most ~0.1 s per group of copies (RESULTS.md); enlargements
# are mostly made from small pictures (web images, thumbnails, old phones).
MAX_BIG_PIXELS = 8_400_000
MAX_SMALL_PIXELS = 2_100_000
WINDOW = 768  # the big copy's pixels compared: its central window at most this many on a side
_UP = (
    Image.Resampling.NEAREST,
    Image.Resampling.BILINEAR,
    Image.Resampling.BICUBIC,
    Image.Resampling.LANCZOS,
)
_DOWN = (Image.Resampling.BOX, Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS)


def worth_testing(big: tuple[int, int], small: tuple[int, int]) -> bool:
    """Same shape (within 2 %), at least MIN_SCALE larger on each side, neither too big to decode."""
    (bw, bh), (sw, sh) = big, small
    if min(bw, bh, sw, sh) < 8 or sw * sh > MAX_SMALL_PIXELS or bw * bh > MAX_BIG_PIXELS:
        return False
    same_shape = abs((bw / bh) / (sw / sh) - 1) <= 0.02
    return same_shape and bw >= MIN_SCALE * sw and bh >= MIN_SCALE * sh


def enlarged_from(big: Image.Image, small: Image.Image) -> bool:
    """True when `big` is `small` scaled up (both whole, at their own resolution). False when it
    cannot be told: a small picture with little fine detail (a clear sky, a blurred photo) is as
    sharp as its own reduction, so its original would pass for an enlargement."""
    try:
        return fine_detail(small) >= MIN_DETAIL and enlargement_score(big, small) < RATIO
    except (ValueError, MemoryError):  # sizes that leave nothing to compare
        return False


def fine_detail(img: Image.Image) -> float:
    """What a picture loses when halved and enlarged again, in grey levels squared: its finest
    octave. Sharp photos at their own size: 14 and up (median 80); blurred ones and skies: under 8."""
    grey = img.convert("L")
    halved = grey.resize((max(1, grey.width // 2), max(1, grey.height // 2)), Image.Resampling.BOX)
    return _mse(_grey(grey), _grey(halved.resize(grey.size, Image.Resampling.BICUBIC)))


def enlargement_score(big: Image.Image, small: Image.Image) -> float:
    """`up_error / (down_error + 1)`, in grey levels squared, over the big one's central window
    and the small one's matching part: low for an enlargement."""
    b, s = big.convert("L"), small.convert("L")
    sx, sy = s.width / b.width, s.height / b.height
    ww, wh = min(WINDOW, b.width), min(WINDOW, b.height)
    left, top = (b.width - ww) // 2, (b.height - wh) // 2
    big_window = (left, top, left + ww, top + wh)  # in big pixels, and the same place in small ones:
    small_box = (left * sx, top * sy, (left + ww) * sx, (top + wh) * sy)
    sl, st = round(small_box[0]), round(small_box[1])  # whole small pixels, and their place in big ones:
    sr, sb = max(sl + 1, round(small_box[2])), max(st + 1, round(small_box[3]))
    big_of_small = (sl / sx, st / sy, sr / sx, sb / sy)
    big_pixels = _grey(b.crop(big_window))
    small_pixels = _grey(s.crop((sl, st, sr, sb)))
    small_size = (sr - sl, sb - st)
    up_error = min(_mse(big_pixels, _grey(s.resize((ww, wh), m, box=small_box))) for m in _UP)
    down_error = min(_mse(small_pixels, _grey(b.resize(small_size, m, box=big_of_small))) for m in _DOWN)
    return up_error / (down_error + 1.0)


def _grey(img: Image.Image) -> NDArray[np.float32]:
    return np.asarray(img, dtype=np.float32)


def _mse(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    return float(np.mean((a - b) ** 2))
