"""Fixtures of the core tests: the tiny model's colour photos, indexed (tests/tiny_model.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sorter_app.core.library import Library
from tests.tiny_model import colour_library, write_colour_photos


@pytest.fixture
def colour_photos(tmp_path: Path) -> Path:
    return write_colour_photos(tmp_path / "photos").resolve()


@pytest.fixture
def colour_lib(tmp_path: Path, colour_photos: Path) -> Iterator[Library]:
    with colour_library(tmp_path, colour_photos) as library:
        yield library
