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
reduction and trashing its original would. keeper.py asks only over a camera-format copy (a lossy
reduction keeps the noise that tells an original).

An enlargement saved as a JPEG carries that JPEG's own noise, which alone put `up_error` over the
line for about half of those saved at quality 90. So for a JPEG big copy each enlargement of the
small one is also saved with the big one's luminance table, on its 8×8 grid, and the closer of the
two counts: an enlargement made as Pillow makes one then reproduces the big one exactly, and
one made by another program (ImageMagick's filters) comes closer. Saving with a coarse table also
takes some fine detail out of an enlargement of an original's reduction, which brings originals
closer too, so the line is stricter there (`JPEG_RATIO`), and a JPEG only 15–20 % larger than the
other copy is not tested (`MIN_JPEG_SCALE`: there an original has least detail its reduction
lacks, and the two that came under the line in stop 36's calibration were such pairs). Calibrated
on 8,820 originals (JPEG q30–98, sharp and blurred 0.7–3 px, skies) against their JPEG
reductions to 50–80 % by Pillow and ImageMagick at q85–100: none called an enlargement, the lowest
score 0.188. JPEG enlargements caught: 87–95 % of Pillow's bicubic, bilinear and Lanczos ones
(about a quarter of its nearest-neighbour ones), 7–83 % of ImageMagick's by filter (stop 36's
note, benchmarks/RESULTS.md).
"""

from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray
from PIL import Image

RATIO = 0.3
JPEG_RATIO = 0.12  # a JPEG big copy, scored with its own table's noise simulated
MIN_DETAIL = 8.0  # the small copy's fine detail (`fine_detail`) needed to tell at all
MIN_SCALE = 1.15  # a copy less than 15 % larger on a side is not tested (resampling noise)
MIN_JPEG_SCALE = 1.2  # the same for a JPEG big copy
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
Steps = NDArray[np.float32]  # a JPEG's 64 luminance quantisation steps, natural order
_DOWN = (Image.Resampling.BOX, Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS)


def worth_testing(big: tuple[int, int], small: tuple[int, int], min_scale: float = MIN_SCALE) -> bool:
    """Same shape (within 2 %), at least `min_scale` larger on each side, neither too big to decode."""
    (bw, bh), (sw, sh) = big, small
    if min(bw, bh, sw, sh) < 8 or sw * sh > MAX_SMALL_PIXELS or bw * bh > MAX_BIG_PIXELS:
        return False
    same_shape = abs((bw / bh) / (sw / sh) - 1) <= 0.02
    return same_shape and bw >= min_scale * sw and bh >= min_scale * sh


def enlarged_from(big: Image.Image, small: Image.Image, big_steps: Steps | None = None) -> bool:
    """True when `big` is `small` scaled up (both whole, at their own resolution). False when it
    cannot be told: a small picture with little fine detail (a clear sky, a blurred photo) is as
    sharp as its own reduction, so its original would pass for an enlargement. `big_steps`: the
    big one's JPEG luminance table (natural order), when it is a JPEG."""
    ratio = RATIO if big_steps is None else JPEG_RATIO
    try:
        return fine_detail(small) >= MIN_DETAIL and enlargement_score(big, small, big_steps) < ratio
    except (ValueError, MemoryError, OSError):  # sizes that leave nothing to compare
        return False


def fine_detail(img: Image.Image) -> float:
    """What a picture loses when halved and enlarged again, in grey levels squared: its finest
    octave. Sharp photos at their own size: 14 and up (median 80); blurred ones and skies: under 8."""
    grey = img.convert("L")
    halved = grey.resize((max(1, grey.width // 2), max(1, grey.height // 2)), Image.Resampling.BOX)
    return _mse(_grey(grey), _grey(halved.resize(grey.size, Image.Resampling.BICUBIC)))


def enlargement_score(big: Image.Image, small: Image.Image, big_steps: Steps | None = None) -> float:
    """`up_error / (down_error + 1)`, in grey levels squared, over the big one's central window
    and the small one's matching part: low for an enlargement. With `big_steps`, each enlargement
    also counts as saved with that table (the window lies on the big one's 8×8 grid)."""
    b, s = big.convert("L"), small.convert("L")
    sx, sy = s.width / b.width, s.height / b.height
    ww, wh = _on_grid(min(WINDOW, b.width)), _on_grid(min(WINDOW, b.height))
    left, top = _on_grid((b.width - ww) // 2), _on_grid((b.height - wh) // 2)
    big_window = (left, top, left + ww, top + wh)  # in big pixels, and the same place in small ones:
    small_box = (left * sx, top * sy, (left + ww) * sx, (top + wh) * sy)
    sl, st = round(small_box[0]), round(small_box[1])  # whole small pixels, and their place in big ones:
    sr, sb = max(sl + 1, round(small_box[2])), max(st + 1, round(small_box[3]))
    big_of_small = (sl / sx, st / sy, sr / sx, sb / sy)
    big_pixels = _grey(b.crop(big_window))
    small_pixels = _grey(s.crop((sl, st, sr, sb)))
    small_size = (sr - sl, sb - st)
    ups = [s.resize((ww, wh), m, box=small_box) for m in _UP]
    if big_steps is not None:  # enlarged in colour, as an editor does: rounding decides what the table keeps
        colour = small.convert("RGB")
        ups += [_saved_with(colour.resize((ww, wh), m, box=small_box).convert("L"), big_steps) for m in _UP]
    up_error = min(_mse(big_pixels, _grey(up)) for up in ups)
    down_error = min(_mse(small_pixels, _grey(b.resize(small_size, m, box=big_of_small))) for m in _DOWN)
    return up_error / (down_error + 1.0)


def _on_grid(n: int) -> int:
    """`n` down to a multiple of 8 (a JPEG block; `worth_testing` saw to sides of at least 8)."""
    return n - n % 8


def _saved_with(img: Image.Image, steps: Steps) -> Image.Image:
    """`img` (grey) saved as a JPEG with the luminance table `steps` and decoded again."""
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", qtables=[[int(q) for q in steps]])
    buffer.seek(0)
    with Image.open(buffer) as saved:
        return saved.convert("L")


def _grey(img: Image.Image) -> NDArray[np.float32]:
    return np.asarray(img, dtype=np.float32)


def _mse(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    return float(np.mean((a - b) ** 2))
