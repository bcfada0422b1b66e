"""Training's eval transform and the app's numpy preprocessing must give the same tensor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sorter_app.core.images import load_image
from sorter_app.core.model_spec import Preprocess
from sorter_app.core.preprocess import normalise_batch, to_model_pixels
from training.transforms import eval_transform, load_for_eval

JpegWriter = Callable[..., Path]


def _max_diff(path: Path, pre: Preprocess) -> float:
    ours = eval_transform(pre)(load_for_eval(path, pre)).numpy()
    app_image = load_image(path.read_bytes(), min_side=pre.size).image
    app = normalise_batch(to_model_pixels(app_image, pre)[None], pre)[0]
    assert ours.shape == app.shape == (3, pre.size, pre.size)
    assert ours.dtype == app.dtype == np.float32
    return float(np.max(np.abs(ours - app)))


def test_odd_sized_rotated_jpeg(odd_rotated_jpeg: Path, preprocess: Preprocess) -> None:
    assert load_for_eval(odd_rotated_jpeg, preprocess).size == (517, 333)  # EXIF orientation 6 applied
    assert _max_diff(odd_rotated_jpeg, preprocess) <= 1e-6


@pytest.mark.parametrize(
    ("width", "height", "orientation"),
    [(1600, 1200, 1), (224, 301, 8), (225, 224, 3), (1000, 2999, 6)],
)
def test_other_built_jpegs(
    tmp_path: Path, jpeg_writer: JpegWriter, preprocess: Preprocess, width: int, height: int, orientation: int
) -> None:
    path = jpeg_writer(tmp_path / "photo.jpg", width, height, orientation, seed=width)
    assert _max_diff(path, preprocess) <= 1e-6


@pytest.mark.parametrize(
    "name", ["scikit-learn/china.jpg", "scikit-image/coffee.png", "scikit-image/camera.png"]
)
def test_real_photos(datasets_dir: Path, preprocess: Preprocess, name: str) -> None:
    assert _max_diff(datasets_dir / "sample_photos" / name, preprocess) <= 1e-6


def test_unsupported_preprocessing_is_refused(preprocess: Preprocess) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        eval_transform(Preprocess(size=224, mean=preprocess.mean, std=preprocess.std, resize="stretch"))
    with pytest.raises(ValueError, match="unsupported resample"):
        eval_transform(Preprocess(size=224, mean=preprocess.mean, std=preprocess.std, resample="lanczos"))
