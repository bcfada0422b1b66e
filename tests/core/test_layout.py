"""The stored layout signature: trimmed margins, the version-2 format, and reading version 1."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from sorter_app.core.layout import (
    LEGACY_LENGTH,
    LENGTH,
    VERSION,
    is_legacy,
    layout_signature,
    layout_similarities,
    layout_similarity,
    legacy_layout,
    parse_layout,
)
from tests import builders


def _v1(img: Image.Image) -> bytes:
    """The signature as the indexer stored it before version 2."""
    return np.asarray(img.convert("L").resize((16, 16), Image.Resampling.BOX), dtype=np.uint8).tobytes()


def test_a_signature_is_versioned_and_round_trips() -> None:
    img = builders.scene(1, (400, 300))
    signature = layout_signature(img)
    assert len(signature) == LENGTH != LEGACY_LENGTH and signature[0] == VERSION
    layout = parse_layout(signature)
    assert layout is not None and not is_legacy(signature)
    assert layout.size == (400, 300) and layout.box == (0, 0, 400, 300) and not layout.trimmed
    assert layout.thumb.shape == (32, 32) and layout.aspect == pytest.approx(4 / 3)


@pytest.mark.parametrize("colour", [(255, 255, 255), (0, 0, 0), (30, 60, 200)])
def test_a_border_is_trimmed_to_the_original_content(colour: tuple[int, int, int]) -> None:
    img = builders.scene(2, (400, 300))
    bordered = ImageOps.expand(img, (20, 15, 20, 15), fill=colour)
    layout = parse_layout(layout_signature(bordered))
    assert layout is not None and layout.trimmed
    left, top, right, bottom = layout.box
    assert abs(left - 20) <= 2 and abs(top - 15) <= 2 and abs(right - 420) <= 2 and abs(bottom - 315) <= 2
    assert layout.margin_grey == round(np.asarray(Image.new("RGB", (1, 1), colour).convert("L"))[0, 0])
    plain = parse_layout(layout_signature(img))
    assert plain is not None
    difference = np.abs(layout.thumb.astype(int) - plain.thumb.astype(int))
    assert np.percentile(difference, 95) <= 12  # the same content, resampled a pixel apart at most


def test_nested_margins_are_trimmed_too() -> None:
    """A coloured border around a white letterbox (a bordered copy of a letterboxed photo)."""
    img = builders.scene(3, (400, 240))
    letterboxed = ImageOps.expand(img, (0, 40, 0, 40), fill=(255, 255, 255))
    bordered = ImageOps.expand(letterboxed, (20, 16, 20, 16), fill=(30, 60, 200))
    layout = parse_layout(layout_signature(bordered))
    assert layout is not None
    left, top, right, bottom = layout.box
    assert abs(left - 20) <= 2 and abs(top - 56) <= 2 and abs(right - 420) <= 2 and abs(bottom - 296) <= 2


def test_a_blank_picture_is_not_trimmed_away() -> None:
    layout = parse_layout(layout_signature(Image.new("RGB", (300, 200), (250, 250, 250))))
    assert layout is not None and layout.box == (0, 0, 300, 200)


def test_version_1_signatures_are_recognised_and_compared_as_before() -> None:
    img, other = builders.scene(4, (320, 240)), builders.scene(5, (320, 240))
    old, new = _v1(img), layout_signature(img)
    assert is_legacy(old) and parse_layout(old) is None and legacy_layout(old) == old
    # A version-2 signature turned back into the whole 16×16 picture compares with version 1.
    assert layout_similarity(old, new) > 0.97
    assert layout_similarity(old, layout_signature(other)) < 0.8
    bordered = ImageOps.expand(img, (16, 12, 16, 12), fill=(0, 0, 0))
    assert layout_similarity(_v1(bordered), layout_signature(bordered)) > 0.97
    assert layout_similarity(b"not a signature", new) == 0.0


def _correlation_one_pair(a: bytes, b: bytes) -> float:
    """The old rule as it was written for one pair at a time (stop 20), kept here as the reference."""

    def normalised(signature: bytes) -> np.ndarray:
        values = np.frombuffer(signature, dtype=np.uint8).astype(np.float32).reshape(16, 16)
        values -= values.mean()
        norm = float(np.linalg.norm(values))
        return values / norm if norm > 1e-6 else values

    legacy_a, legacy_b = legacy_layout(a), legacy_layout(b)
    if legacy_a is None or legacy_b is None:
        return 0.0
    x, y = normalised(legacy_a), normalised(legacy_b)
    return max(float((x * y).sum()), float((x * y[:, ::-1]).sum()))


def test_many_pairs_at_once_score_as_one_pair_at_a_time() -> None:
    """An old catalog's candidate pairs are scored in batches: the same figures as the per-pair rule,
    for version-1 and version-2 signatures, mirrored copies, flat pictures and unreadable bytes."""
    pictures = [builders.scene(seed, (320, 240)) for seed in range(6)]
    signatures = [_v1(p) for p in pictures] + [layout_signature(p) for p in pictures]
    signatures += [_v1(ImageOps.mirror(pictures[0])), _v1(Image.new("RGB", (64, 64), (90, 90, 90)))]
    signatures += [b"not a signature"]
    pairs = [(a, b) for a in signatures for b in signatures]
    batch = layout_similarities([a for a, _ in pairs], [b for _, b in pairs])
    expected = np.array([_correlation_one_pair(a, b) for a, b in pairs], dtype=np.float32)
    assert batch.shape == (len(pairs),)
    assert np.allclose(batch, expected, atol=1e-5)
    # the unreadable signature scores 0.0 with everything, and so does the flat picture
    assert batch.max() > 0.99 and (batch == 0.0).sum() >= 2 * len(signatures) - 1
    assert layout_similarities([None], [signatures[0]]).tolist() == [0.0]


def test_a_panorama_over_65535_pixels_wide_keeps_its_shape() -> None:
    """A 21-MP 70,000 × 300 panorama was refused: "ushort format requires 0 <= number <= 65535"."""
    noise = np.random.default_rng(0).integers(0, 256, (300, 70_000), dtype=np.uint8)  # no margin to trim
    img = Image.fromarray(noise, "L")
    layout = parse_layout(layout_signature(img))
    assert layout is not None and max(layout.size) == 65_535
    assert layout.aspect == pytest.approx(70_000 / 300, rel=1e-3)
