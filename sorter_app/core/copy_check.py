"""Is one picture an edited copy of the other? The pixel check behind near-duplicates.

The embedding proposes a pair; this decides it from the two stored layouts (layout.py: the
trimmed content as 32×32 grey). It looks for one picture inside the other — the same picture
(re-encoded, resized, brightened, watermarked), its mirror image, or a part of it spanning 70–100 %
of its larger side anywhere (a crop; seen from the other side, a border) — turned by up to 3°.

Two stages, each vectorised over many pairs at once (no per-pair Python loop):

1. Coarse: grey correlation on 16×16 thumbnails, for the whole picture, its mirror image, and
   every part size on a 1/16 ladder at every whole-pixel offset, both ways round.
2. Fine: the best coarse placement (and the whole picture) refined by small steps of angle, offset
   and scale, scored on 32-px thumbnails *band-passed* and sampled on a 24×24 grid. The band-pass
   removes the smooth gradients (skies, sunsets, plain walls) that make any two such pictures
   correlate in plain grey, and its contrast is evened out locally so that one strong edge (a
   horizon, a road) cannot carry the score: what is left — edges and textures in the same places
   everywhere — is what a copy shares with its original and a look-alike does not. The final
   score leaves out the tenth of the grid where the two disagree most (a watermark, the black
   corners of a turned copy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from .layout import THUMB_SIDE

COARSE = 16
GRID = 24  # the fine comparison samples GRID × GRID points of the contained picture
MIN_SCALE = 0.7  # a part spans at least this much of the other picture's larger side...
MIN_SIDE = 0.5  # ... and at least this much of its other side (a crop may change the aspect ratio)
LADDER = range(math.ceil(COARSE * MIN_SCALE), COARSE + 1)  # coarse part sizes, in 16ths
BAND = (0.7, 2.0)  # band-pass: difference of Gaussians of these widths, in 32-px thumbnail pixels
SCALES = (0.75, 1.0)  # the contained picture's band-pass is precomputed for parts of these sizes
ANGLES = tuple(math.radians(a) for a in (-3.0, -1.5, 1.5, 3.0))
GATE = 0.6  # coarse grey correlation a placement needs to be refined at all
# Contrast evened out over neighbourhoods this wide (32-px thumbnail pixels), so that a few strong
# edges (a horizon, a road) do not outweigh everything else; a region flatter than CONTRAST_FLOOR
# of the picture's mean band-pass energy is not raised to it.
CONTRAST_WIDTH = 3.0
CONTRAST_FLOOR = 0.05
DISAGREE = 0.1  # the final score leaves out this share of the grid, where the two disagree most
# Band-pass correlation a placement must have reached after each step of the climb to be refined
# further: a copy starts high and climbs a little; a look-alike that is still low will not get
# there (traced on the calibration pairs: no copy that ends accepted is dropped).
GIVE_UP = (0.4, 0.5, 0.6, 0.65, 0.7)
SETTLED = 0.97  # ... and at or above which it needs no refining

F32 = np.float32
Floats = NDArray[np.float32]
Ints = NDArray[np.int64]
Bools = NDArray[np.bool_]

# How the two pictures of a pair relate (`Matches.how`).
SAME, MIRROR, A_CONTAINS_B, B_CONTAINS_A = 0, 1, 2, 3
HOW_NAMES = ("same", "mirror", "a contains b", "b contains a")


@dataclass(frozen=True)
class Matches:
    """One entry per pair: the best placement found, and how well the pictures agree there."""

    score: Floats  # band-pass correlation, −1 … 1, over the grid less the points of most disagreement
    # (black corners of a turned copy, a watermark); −1: no placement was worth refining
    how: Ints  # SAME, MIRROR, A_CONTAINS_B, B_CONTAINS_A
    area: Floats  # the share of the container's area the contained picture covers (1: all of it)
    angle: Floats  # degrees


@dataclass(frozen=True)
class Thumbs:
    """Per-picture arrays for the coarse stage (cheap), and the thumbnails to refine from."""

    raw: NDArray[np.uint8]  # (n, 32, 32) grey
    coarse: Floats  # (n, 16, 16) grey
    sums: NDArray[np.float64]  # (n, 2, 17, 17) integral images of the coarse grey and of its square
    aspect: Floats  # (n,) content width / height

    @classmethod
    def of(cls, thumbs: NDArray[np.uint8], aspect: Floats) -> Thumbs:
        n = len(thumbs)
        coarse = thumbs.reshape(n, COARSE, 2, COARSE, 2).mean(axis=(2, 4), dtype=F32)
        sums = np.zeros((n, 2, COARSE + 1, COARSE + 1))
        sums[:, 0, 1:, 1:] = coarse.cumsum(axis=1).cumsum(axis=2)
        sums[:, 1, 1:, 1:] = (coarse.astype(np.float64) ** 2).cumsum(axis=1).cumsum(axis=2)
        return cls(thumbs, coarse, sums, aspect.astype(F32))


@dataclass(frozen=True)
class _Fine:
    """The fine-stage arrays, made only for the pictures some pair needs refined (most need none)."""

    band: Floats  # (m, 32, 32) band-passed, contrast evened: the picture as a container
    grid: Floats  # (m, len(SCALES), GRID, GRID) the same for a part of each size, sampled
    row: Ints  # (n,) picture → its row here (−1: not made)

    @classmethod
    def of(cls, thumbs: Thumbs, needed: Ints) -> _Fine:
        raw = thumbs.raw[needed].astype(F32)
        band = _even_contrast(_band_pass(raw, 1.0, THUMB_SIDE), CONTRAST_WIDTH)
        grid = np.stack(
            [
                _even_contrast(_band_pass(raw, scale, GRID), CONTRAST_WIDTH * GRID / THUMB_SIDE / scale)
                for scale in SCALES
            ],
            axis=1,
        )
        row = np.full(len(thumbs.raw), -1, dtype=np.int64)
        row[needed] = np.arange(len(needed))
        return cls(band, grid, row)


def match(thumbs: Thumbs, a: Ints, b: Ints, parts: Bools) -> Matches:
    """The best placement for each pair (a[i], b[i]); parts[i]: also look for one inside the other."""
    p = len(a)
    ca, cb = _normalise(thumbs.coarse[a]), _normalise(thumbs.coarse[b])
    starts = {
        SAME: _Placement.whole((ca * cb).sum(axis=(1, 2))),
        MIRROR: _Placement.whole((ca * cb[:, :, ::-1]).sum(axis=(1, 2))),
    }
    searched = np.flatnonzero(parts)
    for how, (container, contained) in ((A_CONTAINS_B, (a, b)), (B_CONTAINS_A, (b, a))):
        found = _Placement.nowhere(p)
        if len(searched):
            found = found.put(searched, _best_part(thumbs, container[searched], contained[searched]))
        starts[how] = found
    # Refine the whole picture (which a rotation needs) and the best other placement of each pair.
    coarse_best = np.stack([starts[h].score for h in (MIRROR, A_CONTAINS_B, B_CONTAINS_A)]).argmax(axis=0) + 1
    chosen_rows = {
        how: np.flatnonzero((start.score >= GATE) & ((coarse_best == how) | (how == SAME)))
        for how, start in starts.items()
    }
    best = Matches(np.full(p, -1.0, F32), np.zeros(p, np.int64), np.ones(p, F32), np.zeros(p, F32))
    needed = np.unique(np.concatenate([np.concatenate([a[r], b[r]]) for r in chosen_rows.values()]))
    if len(needed) == 0:
        return best
    fine = _Fine.of(thumbs, needed)
    for how, rows in chosen_rows.items():
        if len(rows) == 0:
            continue
        found = _refine(fine, thumbs.aspect, a[rows], b[rows], how, starts[how].take(rows))
        better = found.score > best.score[rows]
        chosen = rows[better]
        best.score[chosen] = found.score[better]
        best.how[chosen] = how
        best.area[chosen] = (np.minimum(found.sx, 1.0) * np.minimum(found.sy, 1.0))[better]
        best.angle[chosen] = np.degrees(found.angle[better])
    return best


# --- placements ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Placement:
    """Where the contained picture lies in the container: centre and extent as fractions of the
    container's width and height, and the angle it is turned by. One entry per pair."""

    score: Floats
    cx: Floats
    cy: Floats
    sx: Floats
    sy: Floats
    angle: Floats

    def take(self, rows: Ints) -> _Placement:
        return _Placement(*(getattr(self, f.name)[rows] for f in fields(self)))

    def put(self, rows: Ints, other: _Placement) -> _Placement:
        for f in fields(self):
            getattr(self, f.name)[rows] = getattr(other, f.name)
        return self

    def where(self, better: Bools, other: _Placement) -> _Placement:
        return _Placement(
            *(
                np.where(better, getattr(other, f.name), getattr(self, f.name)).astype(F32)
                for f in fields(self)
            )
        )

    def moved(self, dx: float, dy: float, grow: float, turn: float) -> _Placement:
        return replace(
            self,
            cx=(self.cx + dx).astype(F32),
            cy=(self.cy + dy).astype(F32),
            sx=np.minimum(self.sx * grow, 1.0).astype(F32),
            sy=np.minimum(self.sy * grow, 1.0).astype(F32),
            angle=(self.angle + turn).astype(F32),
        )

    @classmethod
    def whole(cls, score: Floats) -> _Placement:
        p = len(score)
        half, one, zero = np.full(p, 0.5, F32), np.ones(p, F32), np.zeros(p, F32)
        return cls(score.astype(F32), half, half.copy(), one, one.copy(), zero)

    @classmethod
    def nowhere(cls, p: int) -> _Placement:
        return cls(np.full(p, -1.0, F32), *(np.zeros(p, F32) for _ in range(5)))


def _best_part(thumbs: Thumbs, container: Ints, contained: Ints) -> _Placement:
    """The best coarse placement of each contained picture inside its container, at part sizes < 1."""
    best = _Placement.nowhere(len(container))
    # The two aspect ratios fix one side of the part from the other.
    ratio = thumbs.aspect[contained] / thumbs.aspect[container]
    for big in LADDER:
        other = np.rint(np.where(ratio <= 1, big * ratio, big / ratio)).astype(np.int64)
        valid = other >= COARSE * MIN_SIDE
        for size in np.unique(np.minimum(other[valid], COARSE)):
            if big == size == COARSE:
                continue  # the whole picture: not a part
            rows = np.flatnonzero(valid & (np.minimum(other, COARSE) == size))
            tall = ratio[rows] <= 1
            for is_tall in (True, False):
                group = rows[tall == is_tall]
                if len(group) == 0:
                    continue
                h, w = (big, int(size)) if is_tall else (int(size), big)
                scores = _ncc_map(thumbs, container[group], _template(thumbs, contained[group], h, w))
                flat = scores.reshape(len(group), -1)
                at = flat.argmax(axis=1)
                top = flat[np.arange(len(group)), at]
                better = top > best.score[group]
                y, x = np.divmod(at[better], scores.shape[2])
                chosen = group[better]
                best.score[chosen] = top[better]
                best.cx[chosen] = (x + w / 2) / COARSE
                best.cy[chosen] = (y + h / 2) / COARSE
                best.sx[chosen], best.sy[chosen] = w / COARSE, h / COARSE
    return best


def _template(thumbs: Thumbs, items: Ints, h: int, w: int) -> Floats:
    """The whole contained pictures resized to h × w coarse pixels, zero-mean unit-norm."""
    return _normalise(_both_sides(_area_matrix(h, COARSE), thumbs.coarse[items], _area_matrix(w, COARSE)))


def _ncc_map(thumbs: Thumbs, containers: Ints, templates: Floats) -> Floats:
    """Correlation of each template with every same-sized window of its container: (n, ny, nx)."""
    n, h, w = templates.shape
    windows = sliding_window_view(thumbs.coarse[containers], (h, w), axis=(1, 2))  # a view
    ny, nx = windows.shape[1:3]
    # One small matrix product per pair beats a strided sum over the windows' view.
    dots = np.matmul(np.ascontiguousarray(windows).reshape(n, ny * nx, h * w), templates.reshape(n, h * w, 1))
    sums = thumbs.sums[containers]
    box = sums[:, :, h:, w:] - sums[:, :, :-h, w:] - sums[:, :, h:, :-w] + sums[:, :, :-h, :-w]
    variance = np.maximum(box[:, 1] - box[:, 0] ** 2 / (h * w), 1e-3)
    result: Floats = (dots.reshape(n, ny, nx) / np.sqrt(variance)).astype(F32)
    return result


# --- refinement ------------------------------------------------------------------------------------


def _refine(fine: _Fine, aspects: Floats, a: Ints, b: Ints, how: int, start: _Placement) -> _Placement:
    """Climb from the coarse placement by small steps of angle, offset and scale.

    A placement below the GIVE_UP schedule is dropped (no copy stays that far off), one at SETTLED
    or above is kept as it is: most pairs leave the climb early.
    """
    container, contained = (b, a) if how == B_CONTAINS_A else (a, b)
    scale = np.maximum(start.sx, start.sy)
    bucket = np.abs(scale[:, None] - np.array(SCALES, dtype=F32)[None]).argmin(axis=1)
    templates = fine.grid[fine.row[contained], bucket]
    templates = _normalise(templates[:, :, ::-1] if how == MIRROR else templates)
    band, aspect = fine.band[fine.row[container]], aspects[container]

    def scored(rows: Ints, place: _Placement) -> Floats:
        window = _sample(band[rows], aspect[rows], place)
        scores: Floats = (window * templates[rows]).sum(axis=(1, 2))
        return scores

    best = replace(start, score=scored(np.arange(len(a)), start))
    active = np.flatnonzero(best.score < SETTLED)
    for number, moves in enumerate(_climbs(how in (A_CONTAINS_B, B_CONTAINS_A))):
        centre = best.take(active)
        for dx, dy, grow, turn in moves:
            tried = centre.moved(dx, dy, grow, turn)
            tried = replace(tried, score=scored(active, tried))
            better = tried.score > best.score[active]
            best.put(active[better], tried.take(np.flatnonzero(better)))
        still = best.score[active]
        active = active[(still < SETTLED) & (still >= GIVE_UP[min(number, len(GIVE_UP) - 1)])]
        if len(active) == 0:
            break
    window = _sample(band, aspect, best)
    return replace(best, score=_agreement(window, templates))


def _agreement(window: Floats, template: Floats) -> Floats:
    """Correlation over the grid points left when the DISAGREE share where the two differ most is
    left out: a local difference (a watermark, a turned copy's black corners) does not hide a copy."""
    n = len(window)
    w, t = window.reshape(n, -1), template.reshape(n, -1)
    residual = np.abs(w - t)
    keep = residual <= np.quantile(residual, 1.0 - DISAGREE, axis=1, keepdims=True)
    count = keep.sum(axis=1, keepdims=True)
    w = np.where(keep, w - (w * keep).sum(axis=1, keepdims=True) / count, 0.0)
    t = np.where(keep, t - (t * keep).sum(axis=1, keepdims=True) / count, 0.0)
    energy = np.maximum((w * w).sum(axis=1) * (t * t).sum(axis=1), 1e-12)
    result: Floats = ((w * t).sum(axis=1) / np.sqrt(energy)).astype(F32)
    return result


def _climbs(is_part: bool) -> list[list[tuple[float, float, float, float]]]:
    """The steps of the climb: each a list of (dx, dy, grow, turn) moves tried from the best so far."""
    px = 1.0 / THUMB_SIDE

    def cross(d: float) -> list[tuple[float, float, float, float]]:
        return [(dx * d, dy * d, 1.0, 0.0) for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1))]

    def square(d: float) -> list[tuple[float, float, float, float]]:
        return [(dx * d, dy * d, 1.0, 0.0) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy]

    def grow(steps: tuple[float, ...]) -> list[tuple[float, float, float, float]]:
        return [(0.0, 0.0, 1.0 + s * px, 0.0) for s in steps] if is_part else []

    def turn(scale: float) -> list[tuple[float, float, float, float]]:
        return [(0.0, 0.0, 1.0, angle * scale) for angle in ANGLES]

    climbs = [turn(1.0), cross(px), grow((-1.0, -0.5, 0.5, 1.0)), cross(px / 2)]
    for _ in range(2):
        climbs += [turn(0.5), square(px / 2), grow((-0.5, -0.25, 0.25, 0.5)), square(px / 4)]
    return [moves for moves in climbs if moves]


def _sample(images: Floats, aspect: Floats, place: _Placement) -> Floats:
    """The container sampled at the contained picture's GRID × GRID points.

    Turning happens in true proportions: offsets are scaled by the container's aspect ratio before
    the rotation and back after it.
    """
    u = ((np.arange(GRID, dtype=F32) + 0.5) / GRID - 0.5)[None, None, :]  # across
    v = ((np.arange(GRID, dtype=F32) + 0.5) / GRID - 0.5)[None, :, None]  # down
    cos, sin = np.cos(place.angle)[:, None, None], np.sin(place.angle)[:, None, None]
    wide = aspect[:, None, None]
    du = u * place.sx[:, None, None] * wide  # in units of the container's height
    dv = v * place.sy[:, None, None]
    x = place.cx[:, None, None] + (cos * du - sin * dv) / wide
    y = place.cy[:, None, None] + (sin * du + cos * dv)
    return _normalise(
        _bilinear(images, (x * THUMB_SIDE - 0.5).astype(F32), (y * THUMB_SIDE - 0.5).astype(F32))
    )


# --- small image operations ---------------------------------------------------------------------------


def _bilinear(images: Floats, x: Floats, y: Floats) -> Floats:
    """images[i] sampled at (x[i], y[i]) (pixel centres at whole numbers), edges repeated."""
    n, height, width = images.shape
    x = np.clip(x, 0.0, width - 1.0)
    y = np.clip(y, 0.0, height - 1.0)
    x0 = np.minimum(x.astype(np.int32), width - 2)
    y0 = np.minimum(y.astype(np.int32), height - 2)
    fx, fy = x - x0, y - y0
    index = (np.arange(n, dtype=np.int32) * (height * width))[:, None, None] + y0 * width + x0
    flat = images.reshape(-1)
    top_left, top_right = flat.take(index), flat.take(index + 1)
    bottom_left, bottom_right = flat.take(index + width), flat.take(index + width + 1)
    top = top_left + (top_right - top_left) * fx
    bottom = bottom_left + (bottom_right - bottom_left) * fx
    result: Floats = (top + (bottom - top) * fy).astype(F32)
    return result


def _band_pass(thumbs: Floats, scale: float, out: int) -> Floats:
    """Difference of Gaussians of widths BAND / scale, sampled at `out` × `out` points (bilinear).

    A part at `scale` of its container is so compared in the container's frequency band."""
    sample = _bilinear_matrix(out, THUMB_SIDE)
    fine, broad = (sample @ _blur_matrix(THUMB_SIDE, width / scale) for width in BAND)
    return _both_sides(fine, thumbs, fine) - _both_sides(broad, thumbs, broad)


def _even_contrast(images: Floats, width: float) -> Floats:
    """Each value divided by the band-pass energy around it (local contrast normalisation)."""
    blur = _blur_matrix(images.shape[1], width)
    energy = _both_sides(blur, images * images, blur)
    level = (images * images).mean(axis=(1, 2), keepdims=True)
    result: Floats = (images / np.sqrt(energy + CONTRAST_FLOOR * level + 1e-6)).astype(F32)
    return result


def _both_sides(rows: Floats, images: Floats, cols: Floats) -> Floats:
    """rows @ images[i] @ cols.T for every i (numpy's stacked matrix products: fastest measured)."""
    result: Floats = np.matmul(np.matmul(rows, images), cols.T).astype(F32, copy=False)
    return result


def _blur_matrix(n: int, sigma: float) -> Floats:
    i = np.arange(n, dtype=np.float64)
    weights = np.exp(-0.5 * ((i[:, None] - i[None, :]) / sigma) ** 2)
    result: Floats = (weights / weights.sum(axis=1, keepdims=True)).astype(F32)
    return result


def _bilinear_matrix(n_out: int, n_in: int) -> Floats:
    """Sample n_in pixels at n_out evenly spread points (pixel centres), by linear interpolation."""
    x = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0, n_in - 1.0)
    lo = np.minimum(x.astype(np.int64), n_in - 2)
    weights = np.zeros((n_out, n_in), dtype=F32)
    weights[np.arange(n_out), lo] = 1.0 - (x - lo)
    weights[np.arange(n_out), lo + 1] = x - lo
    return weights


def _area_matrix(n_out: int, n_in: int) -> Floats:
    """Resize n_in pixels to n_out by averaging the input pixels each output pixel covers."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    lo, hi = edges[:-1, None], edges[1:, None]
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0.0, None)
    result: Floats = (overlap / overlap.sum(axis=1, keepdims=True)).astype(F32)
    return result


def _normalise(images: Floats) -> Floats:
    """Zero mean, unit norm per image (a flat image stays all zeros: it correlates with nothing)."""
    centred = images - images.mean(axis=(-2, -1), keepdims=True)
    norm = np.sqrt((centred * centred).sum(axis=(-2, -1), keepdims=True))
    result: Floats = (centred / np.maximum(norm, 1e-3)).astype(F32)
    return result
