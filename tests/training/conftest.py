"""Shared fixtures for `training/` tests: the real weights, one real export, built photos."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sorter_app.core.model_spec import Preprocess
from training.efficientnet_lite import EfficientNetLite
from training.export_embedder import LITE0_PREPROCESS, ExportResult, export_embedder
from training.pretrained import load_lite0

REPO_ROOT = Path(__file__).resolve().parents[2]
DATASETS = REPO_ROOT.parent / "shared" / "datasets"
COMMITTED_MODELS = REPO_ROOT / "resources" / "models"
EXIF_ORIENTATION = 0x0112


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    if not DATASETS.is_dir():
        pytest.skip(f"shared datasets not found at {DATASETS} (they are never committed)")
    return DATASETS


@pytest.fixture(scope="session")
def coffee_photo(datasets_dir: Path) -> Path:
    return datasets_dir / "sample_photos" / "scikit-image" / "coffee.png"


@pytest.fixture(scope="session")
def preprocess() -> Preprocess:
    return LITE0_PREPROCESS


@pytest.fixture(scope="session")
def lite0() -> EfficientNetLite:
    return load_lite0()


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExportResult]:
    """One real `export-embedder` run into a temp folder, shared by the export tests.

    Without the shared datasets it still runs: the espresso check is skipped and parity is measured
    on built images only.
    """
    out = tmp_path_factory.mktemp("models")
    yield export_embedder(out, DATASETS, sanity_check=DATASETS.is_dir(), log=lambda _line: None)


def textured_pixels(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A photo-like RGB array: smooth gradients, sharp edges and a little noise, so resampling matters."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    red = 127 + 100 * np.sin(x / 17.0) * np.cos(y / 23.0)
    green = 255 * x / max(width - 1, 1)
    blue = np.where((x // 40 + y // 40) % 2 == 0, 220.0, 30.0)
    pixels = np.stack([red, green, blue], axis=-1) + rng.normal(0, 6, size=(height, width, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def write_jpeg(path: Path, width: int, height: int, orientation: int = 1, seed: int = 0) -> Path:
    """Stored `width`×`height`; with orientation 6 a viewer shows it rotated to `height`×`width`."""
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    Image.fromarray(textured_pixels(width, height, seed), "RGB").save(path, "JPEG", quality=92, exif=exif)
    return path


JpegWriter = Callable[..., Path]


@pytest.fixture(scope="session")
def jpeg_writer() -> JpegWriter:
    """`write_jpeg(path, width, height, orientation=1, seed=0)`, as a fixture so tests need no imports."""
    return write_jpeg


@pytest.fixture(scope="session")
def committed_sidecar() -> Path:
    sidecar = COMMITTED_MODELS / "image-sorter.json"
    assert sidecar.is_file(), "no committed model: run `sorter-train export-embedder`"
    return sidecar


@pytest.fixture
def odd_rotated_jpeg(tmp_path: Path) -> Path:
    return write_jpeg(tmp_path / "odd.jpg", 333, 517, orientation=6)


@pytest.fixture
def flat_colour_png(tmp_path: Path) -> Path:
    path = tmp_path / "flat.png"
    Image.new("RGB", (300, 260), (40, 90, 200)).save(path)
    return path
