"""Models the project bundled before, read from its git history: what users' catalogs were
written with, and the model kinds the bundled one is not (a model of linear heads, with the
heads-only graph that predicts from stored vectors)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODEL_FILES = ("image-sorter.onnx", "image-sorter.json")
# "Bundle the trained model image-sorter-64a39bcc": the first model with heads.
FIRST_HEADS_COMMIT = "902ec1bf77624682bb4af55b5872f09641dc0af5"
# image-sorter-5b23c1c0, linear heads on the embedding, with image-sorter-heads.onnx (bundled
# until the fine-tuned tail replaced it).
LINEAR_HEADS_COMMIT = "662e3a6989c36c9c65832a7c5e84cb76501dd9d6"
LINEAR_HEADS_FILES = (*MODEL_FILES, "image-sorter-heads.onnx")
# image-sorter-7eafc9df, the fine-tuned tails without the setting head (bundled until stop 35
# appended it: the model whose answers the bundled one copies).
BEFORE_SETTING_COMMIT = "d4acc9b607dd0ec59923a1ae56661a4f8a50c1ea"


def model_from_git(commit: str, folder: Path, names: tuple[str, ...] = MODEL_FILES) -> Path:
    """Writes the model's files as that commit bundled them into `folder`; its sidecar's path.
    Skips the test where this checkout has no such history (a shallow clone)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        try:
            blob = subprocess.run(
                ["git", "-C", str(REPO), "show", f"{commit}:resources/models/{name}"],
                capture_output=True,
                check=True,
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            pytest.skip(f"a bundled model is not in this checkout's git history ({commit[:7]})")
        (folder / name).write_bytes(blob)
    return folder / "image-sorter.json"


def linear_heads_model(folder: Path) -> Path:
    return model_from_git(LINEAR_HEADS_COMMIT, folder, LINEAR_HEADS_FILES)
