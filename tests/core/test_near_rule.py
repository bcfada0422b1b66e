"""The rule for one candidate pair: the pixel check finds one picture inside the other, or not.

Each pair is decided from what the catalog stores (embedding cosine + layout signatures of the
pictures as the indexer decodes them), exactly as duplicates and the curate dedup call it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from sorter_app.core.images import load_image
from sorter_app.core.layout import layout_signature
from sorter_app.core.near_rule import NEAR, SIMILAR, NearRule, decide_pair, decide_pairs
from tests import builders


def _stored(img: Image.Image, quality: int = 90) -> bytes:
    """The signature of `img` saved as a JPEG and decoded as the indexer decodes it."""
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return layout_signature(load_image(out.getvalue(), 224).image)


def _crop(img: Image.Image, fraction: float, at: tuple[float, float]) -> Image.Image:
    w, h = img.size
    cw, ch = round(w * fraction), round(h * fraction)
    x, y = round((w - cw) * at[0]), round((h - ch) * at[1])
    return img.crop((x, y, x + cw, y + ch))


def _watermark(img: Image.Image) -> Image.Image:
    marked = img.copy()
    ImageDraw.Draw(marked).text(
        (img.width // 10, img.height * 3 // 4), "© Photo Studio 2024", fill=(255, 255, 255)
    )
    return marked


EDITS: dict[str, tuple[Callable[[Image.Image], Image.Image], set[str]]] = {
    "jpeg q30": (lambda im: im, {"re-encoded"}),
    "resize 25%": (
        lambda im: im.resize((im.width // 4, im.height // 4), Image.Resampling.LANCZOS),
        {"resized"},
    ),
    "crop 90% (corner)": (lambda im: _crop(im, 0.9, (0.0, 1.0)), {"cropped"}),
    "crop 75% (centre)": (lambda im: _crop(im, 0.75, (0.5, 0.5)), {"cropped"}),
    "crop 75% (off centre)": (lambda im: _crop(im, 0.75, (0.8, 0.3)), {"cropped"}),
    "crop to a square": (lambda im: im.crop((0, 0, min(im.size), min(im.size))), set()),
    "white border 5%": (
        lambda im: ImageOps.expand(im, (im.width // 20, im.height // 20), fill="white"),
        {"bordered"},
    ),
    "black border 5%": (
        lambda im: ImageOps.expand(im, (im.width // 20, im.height // 20), fill="black"),
        {"bordered"},
    ),
    "rotate 3°": (lambda im: im.rotate(3, Image.Resampling.BICUBIC), {"rotated"}),
    "rotate -3°": (lambda im: im.rotate(-3, Image.Resampling.BICUBIC), {"rotated"}),
    "flip": (ImageOps.mirror, {"flipped"}),
    "brightness +20%": (lambda im: ImageEnhance.Brightness(im).enhance(1.2), {"re-encoded"}),
    "watermark": (_watermark, {"re-encoded"}),
}


def _photo(datasets: Path, relpath: str) -> Image.Image:
    with Image.open(datasets / relpath) as img:
        return ImageOps.exif_transpose(img).convert("RGB")


SOURCES = ("indoor_outdoor_alek/outdoor", "places365_rooms/train/kitchen", "sun8_scenes/outdoor/campus")


@pytest.fixture(scope="module")
def originals(datasets: Path) -> list[Image.Image]:
    """The first three photos of three sources (600, 256 and ~300 px), whatever they show."""
    paths = [p for source in SOURCES for p in sorted((datasets / source).glob("*.jpg"))[:3]]
    if len(paths) < 9:
        pytest.skip("the sources of this test are not in this copy of the datasets")
    return [_photo(datasets, str(p.relative_to(datasets))) for p in paths]


@pytest.mark.parametrize("edit", list(EDITS))
def test_each_kind_of_edit_of_real_photos_is_the_same_picture(
    originals: list[Image.Image], edit: str
) -> None:
    """At least 8 of 9 photos: a nearly featureless one (a rainbow on a plain sky) may be missed,
    which costs recall, never precision. Each found says what it saw."""
    make, expected = EDITS[edit]
    verdicts = []
    for original in originals:
        edited = make(original)
        quality = 30 if edit == "jpeg q30" else 90
        verdict = decide_pair(
            0.85, _stored(original), _stored(edited, quality), sizes=(original.size, edited.size)
        )
        verdicts.append(verdict)
        if verdict.tier == NEAR:
            seen = expected or ({"cropped"} if original.width != original.height else {"re-encoded"})
            assert seen <= set(verdict.edits), (edit, verdict.edits)
    assert sum(v.tier == NEAR for v in verdicts) >= 8, [round(v.score, 3) for v in verdicts]


def test_real_look_alikes_are_not_the_same_picture(datasets: Path) -> None:
    """Different photos of the same kind of room: alike to the embedding, not copies."""
    kitchens = sorted((datasets / "places365_rooms/train/kitchen").glob("*.jpg"))[:12]
    if len(kitchens) < 12:
        pytest.skip("places365 kitchens not in this copy of the datasets")
    layouts = [_stored(_photo(datasets, str(p.relative_to(datasets)))) for p in kitchens]
    pairs = [(i, j) for i in range(len(layouts)) for j in range(i + 1, len(layouts))]
    verdicts = decide_pairs(
        np.full(len(pairs), 0.95, dtype=np.float32),
        [layouts[i] for i, _ in pairs],
        [layouts[j] for _, j in pairs],
    )
    assert [v.tier for v in verdicts] == [SIMILAR] * len(pairs)
    assert max(v.score for v in verdicts) < NearRule().copy - 0.1


def test_built_scenes_and_their_copies() -> None:
    """Always runs: generated scenes, a crop and a border found, other scenes not."""
    scenes = [builders.scene(seed, (480, 360)) for seed in range(6)]
    stored = [_stored(img) for img in scenes]
    assert decide_pair(0.9, stored[0], _stored(_crop(scenes[0], 0.8, (0.2, 0.7)))).tier == NEAR
    assert decide_pair(0.9, stored[1], _stored(ImageOps.expand(scenes[1], 24, fill="black"))).tier == NEAR
    for i in range(1, 6):
        assert decide_pair(0.99, stored[0], stored[i]).tier == SIMILAR


def test_a_blank_picture_matches_nothing() -> None:
    blank = _stored(Image.new("RGB", (400, 300), (128, 128, 128)))
    assert decide_pair(0.99, blank, blank).tier == SIMILAR
    assert decide_pair(0.99, blank, _stored(builders.scene(1, (400, 300)))).tier == SIMILAR


def test_thresholds_bind() -> None:
    img = builders.scene(7, (480, 360))
    original, crop = _stored(img), _stored(_crop(img, 0.75, (0.5, 0.5)))
    rule = NearRule()
    assert decide_pair(0.9, original, crop, rule).tier == NEAR
    # A part is only looked for when the embedding is sure enough; below that, not near.
    assert decide_pair(rule.part_candidate - 0.01, original, crop, rule).tier is None
    assert decide_pair(rule.candidate - 0.01, original, _stored(img, 70), rule).tier is None
    assert decide_pair(0.99, original, crop, NearRule(copy=1.01)).tier == SIMILAR
    assert decide_pair(0.99, original, None).tier == SIMILAR  # no layout stored: never near


def test_one_pair_or_many_give_the_same_verdicts() -> None:
    imgs = [builders.scene(seed, (400, 300)) for seed in range(4)]
    a = [_stored(img) for img in imgs] * 2
    b = [_stored(_crop(img, 0.85, (0.3, 0.3))) for img in imgs] + [_stored(img) for img in imgs[::-1]]
    cosines = np.linspace(0.8, 0.99, len(a)).astype(np.float32)
    together = decide_pairs(cosines, a, b)
    alone = [decide_pair(float(c), x, y) for c, x, y in zip(cosines, a, b, strict=True)]
    assert [(v.tier, v.edits) for v in together] == [(v.tier, v.edits) for v in alone]
    assert [round(v.score, 4) for v in together] == [round(v.score, 4) for v in alone]
