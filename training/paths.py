"""Default locations, relative to the checkout, so commands run the same from any directory."""

from __future__ import annotations

import os
from pathlib import Path

from sorter_app.paths import resources_dir

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS_ENV = "SORTER_DATASETS"


def default_models_dir() -> Path:
    """Where the bundled model lives: the folder the app itself reads."""
    return resources_dir() / "models"


def default_datasets_dir() -> Path:
    """$SORTER_DATASETS, else the shared datasets folder beside the checkout (never committed)."""
    override = os.environ.get(DATASETS_ENV)
    if override:
        return Path(override).expanduser()
    return REPO_ROOT.parent / "shared" / "datasets"
