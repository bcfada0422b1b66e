"""Where things live: user data under platformdirs, bundled resources in a checkout or a frozen build.

User data never goes next to the executable; `SORTER_DATA_DIR` or `--data-dir` move it (tests and
portable installs). Resources are found the same way from a checkout and from a PyInstaller build.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "image-sorter"
BUNDLED_MODEL_SIDECAR = "image-sorter.json"


def resources_dir() -> Path:
    """`resources/` from a PyInstaller build (sys._MEIPASS), an override, or the source checkout."""
    override = os.environ.get("SORTER_RESOURCES_DIR")
    if override:
        return Path(override)
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root is not None:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def bundled_model_sidecar() -> Path:
    return resources_dir() / "models" / BUNDLED_MODEL_SIDECAR


@dataclass(frozen=True)
class AppPaths:
    data_dir: Path

    @classmethod
    def default(cls, data_dir: str | Path | None = None) -> AppPaths:
        """Explicit argument, then SORTER_DATA_DIR, then the platform's user data directory."""
        chosen = data_dir or os.environ.get("SORTER_DATA_DIR")
        if chosen:
            return cls(Path(chosen).expanduser().resolve())
        return cls(Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)))

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "indexes"

    def ensure(self) -> AppPaths:
        self.index_dir.mkdir(parents=True, exist_ok=True)
        return self
