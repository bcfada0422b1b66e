"""The batch normalisation the embedder feeds the model: the same bits as the plain formula."""

from __future__ import annotations

import numpy as np
from PIL import Image

from sorter_app.core.model_spec import load_spec
from sorter_app.core.preprocess import MAX_RESIZED_ASPECT, normalise_batch, resized_size, to_model_pixels
from sorter_app.paths import bundled_model_sidecar
from tests import builders


def test_normalise_batch_gives_the_bits_of_the_plain_formula() -> None:
    pre = load_spec(bundled_model_sidecar()).preprocess
    pixels = np.random.default_rng(0).integers(0, 256, (5, pre.size, pre.size, 3), dtype=np.uint8)
    mean = np.asarray(pre.mean, dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(pre.std, dtype=np.float32).reshape(1, 3, 1, 1)
    plain = (pixels.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255.0) - mean) / std

    batch = normalise_batch(pixels, pre)

    assert batch.dtype == np.float32 and batch.flags.c_contiguous
    assert batch.shape == (5, 3, pre.size, pre.size)
    assert np.array_equal(batch.view(np.uint32), plain.view(np.uint32))


def test_a_thin_strip_is_cropped_from_its_middle_without_resizing_all_of_it() -> None:
    """A 4 × 30,000 strip took 1.6 GB (resized whole to 224 × 1,680,000). Past an 8:1 shape only
    the crop's box is resized; on a photo-like strip that is the crop of the whole resize, within
    a few levels (Pillow's grid differs by rounding)."""
    pre = load_spec(bundled_model_sidecar()).preprocess
    for size in ((30, 1_000), (1_000, 30)):  # resized longer side 7,466: over 8 crops
        strip = builders.scene(3, size)
        new_w, new_h = resized_size(*size, pre.size)
        assert max(new_w, new_h) > MAX_RESIZED_ASPECT * pre.size
        whole = strip.resize((new_w, new_h), Image.Resampling.BILINEAR)
        left, top = round((new_w - pre.size) / 2.0), round((new_h - pre.size) / 2.0)
        reference = np.asarray(whole.crop((left, top, left + pre.size, top + pre.size)), dtype=np.int16)
        pixels = to_model_pixels(strip, pre)
        assert pixels.shape == (pre.size, pre.size, 3)
        assert np.abs(pixels.astype(np.int16) - reference).max() <= 3
    thin = Image.new("RGB", (4, 30_000), (10, 200, 30))
    assert to_model_pixels(thin, pre).shape == (pre.size, pre.size, 3)
