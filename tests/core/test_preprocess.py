"""The batch normalisation the embedder feeds the model: the same bits as the plain formula."""

from __future__ import annotations

import numpy as np

from sorter_app.core.model_spec import load_spec
from sorter_app.core.preprocess import normalise_batch
from sorter_app.paths import bundled_model_sidecar


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
