"""Fixtures shared by every test package: the real bundled model and the shared datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from sorter_app.core.embedder import Embedder
from sorter_app.paths import bundled_model_sidecar

REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real bundled ONNX model, loaded once per test session."""
    return Embedder.from_sidecar(bundled_model_sidecar(), threads=2)


@pytest.fixture(scope="session")
def datasets() -> Path:
    if not (DATASETS / "manifest.csv").is_file():
        pytest.skip(
            f"shared datasets not found at {DATASETS} (they live beside the repo in development and CI)"
        )
    return DATASETS
