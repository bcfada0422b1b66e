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
